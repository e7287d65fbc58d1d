"""Import runs and the fingerprints that make re-importing a file harmless.

The report of a run (row numbers, columns and reasons; never a cell's value) is sealed under a
system key all the same: row numbers and reasons tell something about a file's contents.
A fingerprint is a keyed hash of a validated case, kept per importer: "already imported" speaks
only of the caller's own imports (a global answer would tell any documenter that someone else
documented the same case). It is deleted with the case when the case is erased: a kept one would
say that an erased case once existed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from casebook.db import Base, UTCDateTime, new_id, utcnow
from casebook.encrypted import Sealed


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    already: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    report_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    report = Sealed[list[Any]]("report_enc", key="system")


class ImportFingerprint(Base):
    __tablename__ = "import_fingerprints"

    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # the run that brought the case in; no foreign key: the run row is written last
    run_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    # who imported it (NULL: the command line, run by the operator)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_import_fingerprints_created_by"),
        nullable=True,
    )

    __table_args__ = (Index("ix_import_fingerprints_created_by_value", "created_by", "value"),)
