"""Capture histories shared by the estimation tests."""

from __future__ import annotations

import numpy as np

from casebook.estimate.captures import Captures, captures_from_counts

# Kosovo 1999 killings (Ball et al. 2002; LCMCR's kosovo_aggregate): EXH, ABA, OSCE, HRW.
KOSOVO = {
    "0001": 306, "0010": 936, "0011": 123, "0100": 845, "0101": 31, "0110": 217, "0111": 32,
    "1000": 1131, "1001": 106, "1010": 228, "1011": 42, "1100": 177, "1101": 18, "1110": 181,
    "1111": 27,
}  # fmt: skip
KOSOVO_LISTS = ("EXH", "ABA", "OSCE", "HRW")


def kosovo() -> Captures:
    return captures_from_counts(
        KOSOVO_LISTS, {tuple(int(c) for c in key): n for key, n in KOSOVO.items()}
    )


def kosovo_csv() -> str:
    lines = [",".join((*KOSOVO_LISTS, "count"))]
    lines += [",".join((*key, str(n))) for key, n in KOSOVO.items()]
    return "\n".join(lines) + "\n"


def simulate(total: int, capture: tuple[float, ...], seed: int) -> Captures:
    """A closed population of `total` people, each list catching each person independently."""
    rng = np.random.default_rng(seed)
    caught = rng.random((total, len(capture))) < np.array(capture)
    seen = caught[caught.any(axis=1)].astype(int)
    patterns, counts = np.unique(seen, axis=0, return_counts=True)
    names = [f"L{j + 1}" for j in range(len(capture))]
    return captures_from_counts(
        names, {tuple(int(v) for v in p): int(n) for p, n in zip(patterns, counts, strict=True)}
    )
