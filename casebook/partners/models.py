"""What casebook keeps of partner matching: its own exports (to recognise its file at compare
time) and the sealed "also documented by" marks on cases.

The link from a file's random record id to a case exists only here, and only keyed: the row
stores an HMAC of the record id under a key derived from the KEK, so the database and the file
together still do not connect a record to a case without the keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from casebook.db import Base, UTCDateTime, new_id, utcnow
from casebook.encrypted import Sealed


class PartnerExport(Base):
    """One `casebook partners export`: its id (written in the file) and fingerprint."""

    __tablename__ = "partner_exports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer, default=0)
    label_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    label = Sealed[str]("label_enc", key="system")


class PartnerRecord(Base):
    """A record of one of our exports: keyed tag of its random id -> the case."""

    __tablename__ = "partner_records"

    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_exports.id", ondelete="CASCADE")
    )
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))

    __table_args__ = (
        Index("ix_partner_records_export", "export_id"),
        Index("ix_partner_records_case", "case_id"),
    )


# the consent scope that lets a case be exported to partners and its marks be used
CONSENT_SCOPE = "partner_matching"


class PartnerMark(Base):
    """ "Also documented by <label>": sealed with the case's data key (erasing the case erases
    it), shown to lawyers on the case page."""

    __tablename__ = "partner_marks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)

    body = Sealed[dict[str, str]]("body_enc")
