"""Capture histories: which lists hold each person, aggregated to counts per pattern.

Every estimator here works on the distinct patterns (a 0/1 vector over the lists) and how many
people have each; the all-zero pattern is the unknown. Checks refuse data no method can use,
naming the problem, so a caller never gets a number built on a malformed file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


class CaptureError(ValueError):
    """Capture histories no estimator can use; `problems` names every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Captures:
    """Distinct observed patterns (rows of 0/1 over `lists`) and the people with each."""

    lists: tuple[str, ...]
    patterns: NDArray[np.int64]  # shape (P, J), no all-zero row, rows distinct
    counts: NDArray[np.int64]  # shape (P,), every count > 0

    @property
    def observed(self) -> int:
        return int(self.counts.sum())

    def overlap(self) -> int:
        """People on two lists or more: without them the lists say nothing about the unseen."""
        return int(self.counts[self.patterns.sum(axis=1) >= 2].sum())

    def as_dict(self) -> dict[str, int]:
        """Pattern strings ("0101", in the order of `lists`) to counts."""
        return {
            "".join(str(int(v)) for v in row): int(n)
            for row, n in zip(self.patterns, self.counts, strict=True)
        }


def captures_from_counts(
    lists: Sequence[str], counts: Mapping[tuple[int, ...], int], *, min_lists: int = 2
) -> Captures:
    """Aggregate {pattern: count} into Captures, refusing what cannot be estimated.

    Zero counts are dropped (a pattern nobody has carries no information beyond its zero).
    """
    problems: list[str] = []
    names = [str(n).strip() for n in lists]
    if len(names) < min_lists:
        problems.append(
            f"{len(names)} list(s): at least {min_lists} lists are needed to estimate anything"
        )
    if len(set(names)) != len(names) or any(not n for n in names):
        problems.append("list names must be distinct and not empty")
    total: dict[tuple[int, ...], int] = {}
    for pattern, n in counts.items():
        if len(pattern) != len(names):
            problems.append(f"pattern {pattern} does not have one value per list")
            continue
        if any(v not in (0, 1) for v in pattern):
            problems.append(f"pattern {pattern} has values other than 0 and 1")
            continue
        if n < 0:
            problems.append(f"pattern {''.join(map(str, pattern))} has a negative count")
            continue
        if not any(pattern) and n > 0:
            problems.append(
                "a pattern of all zeros: nobody can be counted as on none of the lists "
                "(that is what is being estimated)"
            )
            continue
        if n:
            total[tuple(pattern)] = total.get(tuple(pattern), 0) + int(n)
    if problems:
        raise CaptureError(problems)
    if not total:
        raise CaptureError(["no people in the capture histories"])
    keys = sorted(total)
    patterns = np.array(keys, dtype=np.int64).reshape(len(keys), len(names))
    result = Captures(tuple(names), patterns, np.array([total[k] for k in keys], dtype=np.int64))
    if result.overlap() == 0:
        raise CaptureError(
            [
                "no overlaps: nobody is on two lists or more, so the number unseen cannot be "
                "estimated"
            ]
        )
    empty = [names[j] for j in range(len(names)) if not result.patterns[:, j].any()]
    if empty:
        raise CaptureError([f"list {name!r} holds nobody" for name in empty])
    return result


# A line of a capture-history CSV that begins so is a warning from whatever made the file
# (`casebook partners compare --format csv` writes its own there): not a pattern, and repeated
# in the estimate's report so that it travels with the counts.
CSV_WARNING = "# warning: "


def csv_warnings(text: str) -> list[str]:
    """The warnings a capture-history CSV carries (its CSV_WARNING lines)."""
    return [
        line.strip()[len(CSV_WARNING) :].strip()
        for line in text.lstrip("\ufeff").splitlines()
        if line.strip().startswith(CSV_WARNING.strip())
    ]


def captures_from_csv(text: str) -> Captures:
    """Read a capture-history CSV: one 0/1 column per list, optionally a `count` column.

    Without `count` every row is one person; with it, a row is a pattern and its count. Lines
    beginning with `#` are comments (CSV_WARNING lines among them).
    """
    text = "\n".join(  # blanked, not dropped: a problem's line number stays the file's
        "" if line.lstrip().startswith("#") else line for line in text.lstrip("\ufeff").splitlines()
    )
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CaptureError(["the file is empty"]) from None
    header = [h.strip() for h in header]
    count_col = next((i for i, h in enumerate(header) if h.lower() == "count"), None)
    list_cols = [i for i in range(len(header)) if i != count_col]
    lists = [header[i] for i in list_cols]
    problems: list[str] = []
    counts: dict[tuple[int, ...], int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} values for {len(header)} columns")
            continue
        values = [row[i].strip() for i in list_cols]
        bad = [lists[k] for k, v in enumerate(values) if v not in ("0", "1")]
        if bad:
            problems.append(f"line {line}: values other than 0 and 1 in {', '.join(bad)}")
            continue
        n = 1
        if count_col is not None:
            cell = row[count_col].strip()
            if not cell.isdigit():
                problems.append(f"line {line}: count must be a whole number, not {cell!r}")
                continue
            n = int(cell)
        pattern = tuple(int(v) for v in values)
        if not any(pattern):
            problems.append(
                f"line {line}: a pattern of all zeros (nobody can be counted as on none of "
                "the lists; that is what is being estimated)"
            )
            continue
        counts[pattern] = counts.get(pattern, 0) + n
        if len(problems) > 20:
            break
    if problems:
        raise CaptureError(problems)
    return captures_from_counts(lists, counts)
