"""Review items of the linkage: pairs of cases that may be one person, and rows of outside
lists that may be a case. Scores and decisions are plaintext workflow state; a list row is
sealed under a system key, so an uploaded list is never stored readable."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from casebook.background import BackgroundWork
from casebook.cases.records import ListRow
from casebook.db import Base, UTCDateTime, new_id, utcnow
from casebook.encrypted import Sealed

OPEN = "open"
DECISIONS_PAIR = ("duplicate", "not_duplicate")
DECISIONS_LIST = ("match", "no_match")
# a pair a run held back: proposing it beside another pair would have joined two records with
# different known first names (brothers) through one misspelt report, or its two records'
# dates of birth say two people (features.two_births); a lawyer decides it
HELD = "held"


class MatchList(Base):
    """An outside list (released detainees, death notices) matched against the cases."""

    __tablename__ = "match_lists"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    rows: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    label_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    label = Sealed[str]("label_enc", key="system")


class MatchCandidate(Base):
    """A pair of cases (case_b set; case_a < case_b), or a list row (list_id set) and a case,
    waiting for a lawyer's decision."""

    __tablename__ = "match_candidates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(10))  # dedupe | entry | list | held
    case_a: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    case_b: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), nullable=True
    )
    list_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("match_lists.id", ondelete="CASCADE"), nullable=True
    )
    row_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(15), default=OPEN)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    row = Sealed[ListRow]("row_enc", key="system")

    __table_args__ = (
        # one review item per pair of cases, whatever found it; NULL case_b (list rows) repeat
        Index("ux_match_candidates_pair", "case_a", "case_b", unique=True),
        Index("ix_match_candidates_status_score", "status", "score"),
        Index("ix_match_candidates_case_b", "case_b"),
        Index("ix_match_candidates_list", "list_id"),
    )


RUNNING = "running"
RUN_DONE = "done"
RUN_FAILED = "failed"


class LinkageRun(BackgroundWork, Base):
    """A batch deduplication started from the web: its state lives here, not in a worker's
    memory, so every worker shows the same progress and refuses a second run. `slot` is 1
    while the run goes and NULL after; its unique index lets only one run hold it."""

    __tablename__ = "linkage_runs"

    threshold: Mapped[float] = mapped_column(Float)
    cases: Mapped[int] = mapped_column(Integer, default=0)  # to read
    read: Mapped[int] = mapped_column(Integer, default=0)  # read so far (the progress)
    model: Mapped[str | None] = mapped_column(String(20), nullable=True)
    compared: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expected_pairs: Mapped[float | None] = mapped_column(Float, nullable=True)
    pairs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queued: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # pairs held back (may join two people) queued or marked so; NULL for runs before it
    held: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # pairs at or above the score a lawyer had already decided: not raised again
    decided: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[str | None] = mapped_column(String(500), nullable=True)  # counts, no names
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (
        Index("ux_linkage_runs_slot", "slot", unique=True),
        Index("ix_linkage_runs_started", "started_at"),
    )
