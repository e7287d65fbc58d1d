"""Property tests (Hypothesis) for disclosure control, checked by an independent LP attack."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from casebook.stats.disclosure import suppress


def attack(
    counts: list[list[int]], hidden: set[tuple[int, int]]
) -> dict[tuple[int, int], tuple[float, float]]:
    """What an adversary can infer: for every hidden cell, its feasible interval given every
    published cell, row total, column total and the grand total (written independently of
    casebook's own LP: every cell is a variable; published ones are pinned by their bounds)."""
    rows, cols = len(counts), len(counts[0])
    two_way = rows > 1
    full = [[*row, sum(row)] for row in counts]
    if two_way:
        full.append(
            [sum(counts[r][c] for r in range(rows)) for c in range(cols)] + [sum(map(sum, counts))]
        )
    cells = [(r, c) for r in range(len(full)) for c in range(cols + 1)]
    idx = {cell: i for i, cell in enumerate(cells)}
    eqs = []
    for r in range(len(full)):
        row = np.zeros(len(cells))
        for c in range(cols):
            row[idx[(r, c)]] = 1
        row[idx[(r, cols)]] = -1
        eqs.append(row)
    if two_way:
        for c in range(cols + 1):
            col = np.zeros(len(cells))
            for r in range(rows):
                col[idx[(r, c)]] = 1
            col[idx[(rows, c)]] = -1
            eqs.append(col)
    bounds = [(0, None) if cell in hidden else (full[cell[0]][cell[1]],) * 2 for cell in cells]
    out = {}
    for cell in hidden:
        obj = np.zeros(len(cells))
        obj[idx[cell]] = 1
        lo = linprog(
            obj, A_eq=np.array(eqs), b_eq=np.zeros(len(eqs)), bounds=bounds, method="highs"
        )
        hi = linprog(
            -obj, A_eq=np.array(eqs), b_eq=np.zeros(len(eqs)), bounds=bounds, method="highs"
        )
        out[cell] = (lo.fun if lo.status == 0 else 0.0, -hi.fun if hi.status == 0 else math.inf)
    return out


tables = st.integers(min_value=1, max_value=5).flatmap(
    lambda rows: st.integers(min_value=2, max_value=6).flatmap(
        lambda cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 12), st.integers(0, 60)), min_size=cols, max_size=cols
            ),
            min_size=rows,
            max_size=rows,
        )
    )
)


@given(counts=tables, k=st.integers(min_value=5, max_value=15))
@settings(max_examples=150, deadline=None)
def test_nothing_small_is_published_and_nothing_hidden_can_be_narrowed(
    counts: list[list[int]], k: int
) -> None:
    table = suppress(counts, k)
    for cell in table.cells():
        if cell not in table.suppressed:
            value = table.value(cell)
            assert value == 0 or value >= k, (cell, value)
    for cell, (lo, hi) in attack(counts, table.suppressed).items():
        assert hi - lo >= k - 1e-6, (cell, lo, hi, table.value(cell))


def test_a_lone_small_cell_gets_a_complement() -> None:
    table = suppress([[3, 40, 25, 0, 60]], 11)
    assert (0, 0) in table.suppressed and len(table.suppressed) >= 2
    assert (0, 3) not in table.suppressed  # a zero reveals nobody and is shown


def test_no_suppression_when_every_cell_is_large_or_zero() -> None:
    assert suppress([[0, 40, 25], [12, 0, 30]], 11).suppressed == set()


def test_tiny_table_is_hidden_whole() -> None:
    table = suppress([[1, 2]], 11)
    assert table.suppressed == set(table.cells())
