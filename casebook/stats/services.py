"""Statistics releases: a table with small-cell suppression, or a differentially private one.

Every release is audited with its parameters; DP releases also enter the per-period ledger,
and are refused once the period's privacy budget would be exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.encrypted import Vault
from casebook.stats import disclosure
from casebook.stats.models import DpRelease
from casebook.stats.queries import DIMENSIONS, Counts, StatsCache, count, stats_epoch

MIN_K = 5
DEFAULT_K = 11
MAX_EPSILON = 10.0


class StatsInputError(Exception):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in fields.values() for m in ms))
        self.fields = fields


@dataclass(frozen=True)
class Release:
    dimensions: tuple[str, ...]
    k: int
    epsilon: float | None
    verified_only: bool
    rows: list[str]
    cols: list[str]
    values: list[list[int | None]]  # None where suppressed
    row_totals: list[int | None]
    col_totals: list[int | None]
    total: int | None
    method: str
    extracted_at: str

    def cells(self) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.cols):
                cell: dict[str, Any] = {self.dimensions[0]: r}
                if len(self.dimensions) > 1:
                    cell[self.dimensions[1]] = c
                cell["count"] = self.values[i][j]
                cell["suppressed"] = self.values[i][j] is None
                out.append(cell)
        return out

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "dimensions": list(self.dimensions),
            "k": self.k,
            "epsilon": self.epsilon,
            "verified_only": self.verified_only,
            "cells": self.cells(),
            "total": self.total,
            "method": self.method,
            "extracted_at": self.extracted_at,
        }
        if len(self.dimensions) > 1:
            doc["margins"] = {
                self.dimensions[0]: [
                    {"value": r, "count": t, "suppressed": t is None}
                    for r, t in zip(self.rows, self.row_totals, strict=True)
                ],
                self.dimensions[1]: [
                    {"value": c, "count": t, "suppressed": t is None}
                    for c, t in zip(self.cols, self.col_totals, strict=True)
                ],
            }
        return doc


def parse_params(by: str, k: Any, epsilon: Any) -> tuple[tuple[str, ...], int, float | None]:
    """Check a request's parameters; every problem is reported at once."""
    problems: dict[str, list[str]] = {}
    dims = tuple(d.strip() for d in (by or "").split(",") if d.strip())
    if not 1 <= len(dims) <= 2:
        problems["by"] = ["Choose one or two dimensions."]
    elif any(d not in DIMENSIONS for d in dims) or len(set(dims)) != len(dims):
        problems["by"] = [f"Dimensions are {', '.join(DIMENSIONS)} (two different ones at most)."]
    k_value = DEFAULT_K
    if k not in (None, ""):
        try:
            k_value = int(k)
        except (TypeError, ValueError):
            k_value = -1
        if k_value < MIN_K or k_value > 1000:
            problems["k"] = [f"k is a whole number from {MIN_K} to 1000."]
    eps: float | None = None
    if epsilon not in (None, ""):
        try:
            eps = float(epsilon)
        except (TypeError, ValueError):
            eps = -1.0
        if not 0 < eps <= MAX_EPSILON:
            problems["epsilon"] = [f"epsilon is a number above 0 and at most {MAX_EPSILON}."]
    if problems:
        raise StatsInputError(problems)
    return dims, k_value, eps


def _suppressed(c: Counts, k: int) -> Release:
    table = disclosure.suppress(c.counts, k)
    rows, cols = len(c.rows), len(c.cols)

    def shown(cell: tuple[int, int]) -> int | None:
        return None if cell in table.suppressed else table.value(cell)

    values = [[shown((i, j)) for j in range(cols)] for i in range(rows)]
    row_totals = [shown((i, cols)) for i in range(rows)]
    col_totals = [shown((rows, j)) for j in range(cols)] if rows > 1 else []
    return Release(
        c.dimensions,
        k,
        None,
        False,
        c.rows,
        c.cols,
        values,
        row_totals,
        col_totals,
        shown(table.grand()),
        f"counts of consenting cases; cells of 1 to {k - 1} suppressed, with "
        "complementary suppression so that no suppressed cell can be narrowed to an "
        f"interval under {k} from the published cells",
        c.extracted_at,
    )


def _private(c: Counts, k: int, epsilon: float) -> Release:
    """Discrete Laplace noise on the cell vector (OpenDP); one person is in one cell, so the
    vector's L1 sensitivity is 1 and the release costs exactly epsilon. Margins are sums of the
    noisy cells (free post-processing); the threshold is applied to noisy counts only."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    flat = [v for row in c.counts for v in row]
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = dp.m.make_laplace(*space, scale=1.0 / epsilon)
    spent = float(measurement.map(1))  # type: ignore[no-untyped-call]
    if spent > epsilon + 1e-9:
        raise RuntimeError("the DP measurement would spend more than asked")
    noisy = [max(0, int(v)) for v in measurement(flat)]
    cols = len(c.cols)
    matrix = [noisy[i * cols : (i + 1) * cols] for i in range(len(c.rows))]

    def threshold(v: int) -> int | None:
        return v if v == 0 or v >= k else None

    values = [[threshold(v) for v in row] for row in matrix]
    row_totals = [threshold(sum(row)) for row in matrix]
    col_totals = (
        [threshold(sum(row[j] for row in matrix)) for j in range(cols)] if len(c.rows) > 1 else []
    )
    return Release(
        c.dimensions,
        k,
        epsilon,
        False,
        c.rows,
        c.cols,
        values,
        row_totals,
        col_totals,
        threshold(sum(noisy)),
        f"differentially private counts (discrete Laplace, epsilon {epsilon:g}, one "
        f"person per case); noisy counts of 1 to {k - 1} withheld",
        c.extracted_at,
    )


def dp_spent(session: Session, period: str) -> float:
    return float(
        session.scalar(
            select(func.coalesce(func.sum(DpRelease.epsilon), 0.0)).where(
                DpRelease.period == period
            )
        )
        or 0.0
    )


def stats_release(
    session: Session,
    vault: Vault,
    actor: Actor,
    cache: StatsCache,
    *,
    dimensions: tuple[str, ...],
    k: int,
    epsilon: float | None,
    verified_only: bool,
    budget: float,
    export_format: str,
) -> Release:
    """Compute (or reuse until the next case write) a table, protect it, audit the export."""
    key = (stats_epoch(session), dimensions, verified_only)
    counts = cache.get(key)
    if counts is None:
        counts = count(session, vault, dimensions, verified_only)
        cache.put(key, counts)
    if epsilon is None:
        protected_key = ("suppressed", *key, k)
        release: Release | None = cache.get(protected_key)
        if release is None:
            release = _suppressed(counts, k)
            cache.put(protected_key, release)
    else:
        period = datetime.now(UTC).strftime("%Y-%m")
        spent = dp_spent(session, period)
        if spent + epsilon > budget + 1e-9:
            raise StatsInputError(
                {
                    "epsilon": [
                        f"This period's privacy budget is {budget:g}; {spent:g} is spent already."
                    ]
                }
            )
        release = _private(counts, k, epsilon)
        session.add(
            DpRelease(
                period=period, epsilon=epsilon, dimensions=",".join(dimensions), actor=actor.label
            )
        )
    release = replace(release, verified_only=verified_only)
    audit_record(
        session,
        actor,
        "stats.export",
        details={
            "by": list(dimensions),
            "k": k,
            "epsilon": epsilon,
            "verified_only": verified_only,
            "format": export_format,
            "total": release.total,
        },
    )
    return release
