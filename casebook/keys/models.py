"""Wrapped data keys and the record of erased ones."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from casebook.db import Base, UTCDateTime, utcnow


class CaseKey(Base):
    """One wrapped DEK per owner (a case). `kek_id` repeats the id inside `wrapped` so that
    status counts and rewrap batches need no decryption."""

    __tablename__ = "case_keys"

    owner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dek_version: Mapped[int] = mapped_column(Integer, default=1)
    kek_id: Mapped[int] = mapped_column(Integer, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyErasure(Base):
    """A destroyed DEK: kept so that restoring an older backup can erase the case again.

    `kek_id` is the KEK that wrapped the destroyed key. Copies of the wrapped key may outlive
    the row (PostgreSQL's dead tuples and WAL, backups): the erasure is complete only once that
    KEK is retired. NULL for erasures recorded before the KEK was noted: those wait for every
    KEK created before the erasure."""

    __tablename__ = "key_erasures"

    owner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_by: Mapped[str] = mapped_column(String(80))
    kek_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
