"""The statistics epoch (bumped by every case write that can change a count) and the ledger of
differentially private releases."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from casebook.background import BackgroundWork
from casebook.db import Base, UTCDateTime, new_id, utcnow


class StatsEpoch(Base):
    __tablename__ = "stats_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer, default=0)


class DpRelease(Base):
    """One differentially private release: its ε counts against the period's budget."""

    __tablename__ = "dp_releases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    epsilon: Mapped[float] = mapped_column(Float)
    dimensions: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatsRelease(Base):
    """A frozen, dated set of protected tables. Advocates see only releases; the exact counts
    (for a larger k) and the per-case fingerprints (to count changes for the next release) are
    sealed with the system key."""

    __tablename__ = "stats_releases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    k: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(20), default="suppressed")
    scopes: Mapped[str] = mapped_column(String(200))
    cases: Mapped[int] = mapped_column(Integer)
    changes: Mapped[int] = mapped_column(Integer)
    exact_enc: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprints_enc: Mapped[bytes] = mapped_column(LargeBinary)


class StatsReleaseTable(Base):
    """One protected table of a release at one k (the release's own k, or a larger one asked
    for later): what advocates may see, so it is stored as it is served."""

    __tablename__ = "stats_release_tables"
    __table_args__ = (UniqueConstraint("release_id", "k", "name", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stats_releases.id", ondelete="CASCADE"), index=True
    )
    k: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10))
    payload: Mapped[str] = mapped_column(Text)


class ReleaseCut(BackgroundWork, Base):
    """A release cut started from the web, done by a thread of the worker that took it (a cut
    of a few thousand cases audits its tables against every earlier release for minutes, past
    any proxy's patience). Its state lives here so every worker shows the same progress and
    refuses a second cut; `slot` is 1 while the cut goes and NULL after, and its unique index
    lets one cut hold it. A refusal keeps its message untranslated with its values (no case's
    data: counts of changes, k, a release number and date), so each reader reads it in their
    own language."""

    __tablename__ = "stats_release_cuts"

    step: Mapped[str] = mapped_column(String(20), default="counting")
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    estimate_lists: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of list ids
    estimate_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    release_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # untranslated
    reason_values: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON

    __table_args__ = (
        Index("ux_stats_release_cuts_slot", "slot", unique=True),
        Index("ix_stats_release_cuts_started", "started_at"),
    )
