"""Counting cases by the dimensions of DESIGN §8, from the encrypted facets, in a stream.

Only cases whose consent allows statistics are counted; erased cases and cases marked as
duplicates are not (one person, one count). Categories are fixed lists (not what happens to
occur), so every period's table has the same shape and the same suppression rules.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, select, type_coerce, update
from sqlalchemy.orm import Session

from casebook import vocab
from casebook.cases.models import Case
from casebook.encrypted import Vault
from casebook.stats.models import StatsEpoch
from crypto import associated_data

DIMENSIONS = (
    "arrest_year",
    "arrest_month",
    "governorate",
    "sex",
    "age_band",
    "perpetrator",
    "facility",
    "status",
)
FIRST_YEAR = 2011


def categories(dimension: str, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    if dimension == "arrest_year":
        return ["before_2011"] + [str(y) for y in range(FIRST_YEAR, now.year + 1)] + ["unknown"]
    if dimension == "arrest_month":
        months = [
            f"{y}-{m:02d}"
            for y in range(FIRST_YEAR, now.year + 1)
            for m in range(1, 13)
            if (y, m) <= (now.year, now.month)
        ]
        return ["before_2011", *months, "unknown"]
    vocabulary = {
        "governorate": vocab.GOVERNORATES,
        "sex": vocab.SEXES,
        "age_band": vocab.AGE_BANDS,
        "perpetrator": vocab.PERPETRATOR_GROUPS,
        "facility": vocab.FACILITIES,
        "status": vocab.STATUSES,
    }[dimension]
    codes = [t.code for t in vocabulary.terms]
    if dimension == "facility":
        codes += ["other"]
    if "unknown" not in codes:
        codes.append("unknown")
    return codes


def category_of(dimension: str, facets: dict[str, Any]) -> str:
    value = facets.get(dimension)
    if dimension == "arrest_year":
        if value is None:
            return "unknown"
        return "before_2011" if int(value) < FIRST_YEAR else str(value)
    if dimension == "arrest_month":
        if not value:
            return "unknown"
        return "before_2011" if int(str(value)[:4]) < FIRST_YEAR else str(value)
    return str(value) if value else "unknown"


def stats_epoch(session: Session) -> int:
    value = session.scalar(select(StatsEpoch.value).where(StatsEpoch.id == 1))
    return int(value or 0)


def stats_touch(session: Session) -> None:
    """Called by every case write that can change a count: cached tables are stale after it."""
    session.execute(update(StatsEpoch).where(StatsEpoch.id == 1).values(value=StatsEpoch.value + 1))


def counted_facets(session: Session, vault: Vault, verified_only: bool) -> Iterator[dict[str, Any]]:
    """The facets of every countable case, decrypted in batches of 5,000 rows.

    This loop runs once per case (a million times for a big table), so it does the least it
    can: the associated data is built from a fixed prefix, and rows come straight from the
    driver.
    """
    cipher = vault.system_cipher("facets")
    prefix = associated_data("cases", "facets_enc", "ID", cipher.version).split(b"ID")
    head, tail = prefix[0], prefix[1]
    # the id as stored (SQLite: 32 hex digits), not as uuid.UUID objects: a million of those
    # cost half a second
    query = select(type_coerce(Case.id, String), Case.facets_enc).where(
        Case.erased_at.is_(None), Case.facets_enc.is_not(None), Case.verification != "duplicate"
    )
    if verified_only:
        query = query.where(Case.verification == "verified")
    decrypt, loads = cipher.decrypt, json.loads
    for raw_id, blob in session.execute(query.execution_options(yield_per=5000)):
        if isinstance(raw_id, str) and len(raw_id) == 32:
            h = raw_id
            case_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        else:
            case_id = str(raw_id)
        facets = loads(decrypt(blob or b"", head + case_id.encode() + tail).decode())
        if facets.get("statistics_consent"):
            yield facets


@dataclass(frozen=True)
class Counts:
    dimensions: tuple[str, ...]
    rows: list[str]  # categories of the first dimension
    cols: list[str]  # categories of the second (or [""] for one-way tables)
    counts: list[list[int]]  # rows x cols
    extracted_at: str


def count(
    session: Session, vault: Vault, dimensions: tuple[str, ...], verified_only: bool
) -> Counts:
    first = dimensions[0]
    second = dimensions[1] if len(dimensions) > 1 else None
    tally: Counter[tuple[str, str]] = Counter()
    for facets in counted_facets(session, vault, verified_only):
        key = (category_of(first, facets), category_of(second, facets) if second else "")
        tally[key] += 1
    rows = categories(first)
    cols = categories(second) if second else [""]
    # a two-way table is laid out with the longer dimension down the rows
    matrix = [[tally.get((r, c), 0) for c in cols] for r in rows]
    return Counts(dimensions, rows, cols, matrix, datetime.now(UTC).isoformat(timespec="seconds"))


class StatsCache:
    """Per-process results, valid until the next write to a case (the epoch moves)."""

    def __init__(self, size: int = 64) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[Any, ...], Any] = {}
        self._size = size

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._data.get(key)

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            if len(self._data) >= self._size:
                self._data.pop(next(iter(self._data)))
            self._data[key] = value


def stats_touch_receiver(session: Session, **_: object) -> None:
    """The `case_counts_changed` signal's receiver (cases send it; they do not import stats)."""
    stats_touch(session)
