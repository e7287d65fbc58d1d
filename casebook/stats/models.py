"""The statistics epoch (bumped by every case write that can change a count) and the ledger of
differentially private releases."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

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
