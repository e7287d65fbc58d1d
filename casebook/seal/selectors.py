"""Reading the seal flag: one primary-key lookup of a one-row table."""

from __future__ import annotations

import functools

from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

from casebook.seal.models import SealState


@functools.cache
def _flag_query() -> Select[bool, int]:
    return select(SealState.sealed, SealState.epoch).where(SealState.id == 1)


def seal_flag(session: Session | Connection) -> tuple[bool, int]:
    """(sealed, epoch); a database without the row counts as unsealed at epoch 0."""
    row = session.execute(_flag_query()).first()
    if row is None:
        return False, 0
    return bool(row[0]), int(row[1])
