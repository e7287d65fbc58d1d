"""Small-cell suppression with complementary suppression, checked by linear programming.

Hand-written: no maintained Python package does cell suppression for published tables (sdcMicro
and tau-Argus are R and Java). A table is published as its cells, its row and column totals and
its grand total. Cells of 1..k-1 are suppressed (primary); then, until no suppressed cell can be
narrowed to an interval narrower than k from what is published, more cells are suppressed
(complementary): first so that no row or column holds a single suppressed cell, then wherever
the linear-programming bounds (SciPy HiGHS) of a suppressed cell are narrower than k.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

Cell = tuple[int, int]  # (row, column); row R is the totals row, column C the totals column


@dataclass
class Table:
    """R x C counts plus margins. One-way tables are 1 x C (their only row total is the total)."""

    counts: list[list[int]]
    suppressed: set[Cell] = field(default_factory=set)

    @property
    def rows(self) -> int:
        return len(self.counts)

    @property
    def cols(self) -> int:
        return len(self.counts[0]) if self.counts else 0

    def value(self, cell: Cell) -> int:
        r, c = cell
        if r < self.rows and c < self.cols:
            return self.counts[r][c]
        if r < self.rows:  # row total
            return sum(self.counts[r])
        if c < self.cols:  # column total
            return sum(row[c] for row in self.counts)
        return sum(sum(row) for row in self.counts)

    def cells(self) -> list[Cell]:
        """Every published cell: inner cells, row totals, column totals (if more than one row),
        and the grand total."""
        out = [(r, c) for r in range(self.rows) for c in range(self.cols + 1)]
        if self.rows > 1:
            out += [(self.rows, c) for c in range(self.cols + 1)]
        return out

    def lines(self) -> list[list[Cell]]:
        """Each line is a set of cells whose last member is the sum of the others."""
        lines = [[(r, c) for c in range(self.cols)] + [(r, self.cols)] for r in range(self.rows)]
        if self.rows > 1:
            lines += [
                [(r, c) for r in range(self.rows)] + [(self.rows, c)] for c in range(self.cols + 1)
            ]
        return lines

    def grand(self) -> Cell:
        return (self.rows, self.cols) if self.rows > 1 else (0, self.cols)


def bounds(table: Table, cell: Cell) -> tuple[float, float]:
    """The smallest and largest value a suppressed cell can take given everything published."""
    hidden = sorted(table.suppressed)
    index = {c: i for i, c in enumerate(hidden)}
    a_eq, b_eq = [], []
    for line in table.lines():
        *parts, total = line
        row = np.zeros(len(hidden))
        rhs = 0.0
        touched = False
        for member, sign in [(p, 1.0) for p in parts] + [(total, -1.0)]:
            if member in index:
                row[index[member]] += sign
                touched = True
            else:
                rhs -= sign * table.value(member)
        if touched:
            a_eq.append(row)
            b_eq.append(rhs)
    objective = np.zeros(len(hidden))
    objective[index[cell]] = 1.0
    kwargs = {
        "A_eq": np.array(a_eq) if a_eq else None,
        "b_eq": np.array(b_eq) if b_eq else None,
        "bounds": [(0, None)] * len(hidden),
        "method": "highs",
    }
    low = linprog(objective, **kwargs)
    high = linprog(-objective, **kwargs)
    lo = low.fun if low.status == 0 else 0.0
    hi = -high.fun if high.status == 0 else math.inf  # unbounded above: nothing pins it down
    return float(lo), float(hi)


def _line_rule(table: Table) -> bool:
    """No line may hold exactly one suppressed cell: add the smallest positive other cell."""
    changed = False
    for line in table.lines():
        hidden = [c for c in line if c in table.suppressed]
        if len(hidden) == 1:
            pick = _smallest(table, (c for c in line if c not in table.suppressed))
            if pick is not None:
                table.suppressed.add(pick)
                changed = True
    return changed


def _smallest(table: Table, candidates: Iterable[Cell]) -> Cell | None:
    options = [(table.value(c), c) for c in candidates if table.value(c) > 0]
    return min(options)[1] if options else None


def _neighbours(table: Table, cell: Cell) -> list[Cell]:
    return [
        c
        for line in table.lines()
        if cell in line
        for c in line
        if c != cell and c not in table.suppressed
    ]


def suppress(counts: list[list[int]], k: int) -> Table:
    """Suppress so that nothing published is in 1..k-1 and no suppressed cell can be pinned
    down to an interval narrower than k from the published cells."""
    table = Table([list(row) for row in counts])
    table.suppressed = {c for c in table.cells() if 0 < table.value(c) < k}
    while True:
        while _line_rule(table):
            pass
        narrow = None
        for cell in sorted(table.suppressed):
            lo, hi = bounds(table, cell)
            if hi - lo < k:
                narrow = cell
                break
        if narrow is None:
            return table
        pick = _smallest(table, _neighbours(table, narrow))
        if pick is None:  # nothing left beside it to hide: hide every cell of the table
            table.suppressed = set(table.cells())
            return table
        table.suppressed.add(pick)
