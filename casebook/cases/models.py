"""Case tables. Only ids, the reference, record-keeping times, foreign keys, verification state
and blind indexes are plaintext (design.md §3); everything else is sealed with the case's DEK.

The record is one encrypted JSON document (person, arrests, detention, status, family actions)
so that the number of arrests or status changes of a person is not visible either. `facets` is
a small derived copy of the statistics dimensions, sealed under a derived key so that counting
a million cases does not unwrap a million data keys; it is deleted when the case is erased.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from casebook.cases.records import CaseRecord, Consent, Facets, LegalNote, Source, TestimonyBody
from casebook.db import Base, UTCDateTime, new_id, utcnow
from casebook.encrypted import Sealed


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    verification: Mapped[str] = mapped_column(String(20), default="unverified", index=True)
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), nullable=True
    )
    # set while this case is merged into another (sealed: read-only until the merge is undone)
    merged_into: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    erased_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    record_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    consent_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    legal_notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    facets_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    record = Sealed[CaseRecord]("record_enc", owner="id")
    source = Sealed[Source]("source_enc", owner="id")
    consent = Sealed[Consent]("consent_enc", owner="id")
    legal_notes = Sealed[list[LegalNote]]("legal_notes_enc", owner="id")
    facets = Sealed[Facets]("facets_enc", key="facets")

    # The case list reads newest first: without this index every list page (and its count)
    # scans the whole table, about a second at a million cases.
    __table_args__ = (
        Index(
            "ix_cases_live_order",
            "created_at",
            "id",
            postgresql_where=text("erased_at IS NULL"),
            sqlite_where=text("erased_at IS NULL"),
        ),
    )


class CaseCounter(Base):
    """The next number of the human reference, per year (CB-2026-000123)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer, default=0)


class CaseAssignment(Base):
    """A documenter who may read (not own) another documenter's case."""

    __tablename__ = "case_assignments"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseIndex(Base):
    """Blind-index values of a case (several per case: names, national ID)."""

    __tablename__ = "case_index"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # (name, value, id): a lookup reads its matches newest first without sorting
        Index("ix_case_index_lookup", "name", "value", "id"),
        Index("ix_case_index_case", "case_id"),
    )


class Testimony(Base):
    __tablename__ = "testimonies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)

    body = Sealed[TestimonyBody]("body_enc")


class Attachment(Base):
    """An encrypted file in the instance folder; name, type, size and SHA-256 are sealed."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    meta_enc: Mapped[bytes] = mapped_column(LargeBinary)

    meta = Sealed[dict[str, Any]]("meta_enc")
