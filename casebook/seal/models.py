"""The seal flag every app process reads: one row, id 1."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer
from sqlalchemy.orm import Mapped, mapped_column

from casebook.db import Base, UTCDateTime, utcnow


class SealState(Base):
    """Whether the service is sealed. `epoch` grows at every seal and unseal, so a process can
    tell that the state changed even if it missed a whole seal-unseal cycle."""

    __tablename__ = "seal_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
