"""How casebook's blocking rules were chosen: a greedy search over rules of two to four keys
for true pairs reached per candidate pair made, on synthetic people with known duplicates.

Keys: each name in its normalised form, its Latin skeleton or the skeleton's first letter,
the birth year and the arrest year. A rule is kept while it reaches true pairs no chosen rule
reaches, best ratio first; the printout is the rule, its pairs, the true pairs it adds and the
share of all true pairs reached so far. Run it again on another seed (or, inside an
organisation, on its own decided pairs) before changing `casebook.linkage.scoring.blocking_rules`.
Pairs are counted per rule (overlaps between rules counted twice).

Run: .venv/bin/python -m bench.blocking_search --records 100000 [--budget 6000000] [--seed 3]
(about ten minutes at 100,000 records)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from casebook.linkage.features import NAME_FIELDS, person_features
from tests.linkage.generator import generate

Row = dict[str, Any]


def _keys() -> dict[str, Callable[[Row], Any]]:
    keys: dict[str, Callable[[Row], Any]] = {
        "birth_year": lambda r: r["birth_year"],
        "arrest_year": lambda r: r["arrest_year"],
    }
    for name in NAME_FIELDS:
        keys[name] = lambda r, n=name: r[n]
        keys[f"{name}_skel"] = lambda r, n=name: r[f"{n}_skel"]
        keys[f"{name}_initial"] = lambda r, n=name: (r[f"{n}_skel"] or "")[:1] or None
    return keys


def _root(key: str) -> str:
    return key.removesuffix("_initial").removesuffix("_skel")


def search(records: int, budget: int, seed: int) -> None:
    data = generate(records, seed=seed)
    rows = {r["id"]: person_features(r["id"], r["person"], r["arrests"]) for r in data.records}
    truth = [tuple(p) for p in data.pairs]
    keys = _keys()
    rules = [
        combo
        for size in (2, 3, 4)
        for combo in itertools.combinations(keys, size)
        if len({_root(k) for k in combo}) == size  # one form of each field per rule
    ]
    found: dict[tuple[str, ...], tuple[int, frozenset[int]]] = {}
    for combo in rules:
        of: dict[str, tuple[Any, ...]] = {}
        sizes: Counter[tuple[Any, ...]] = Counter()
        for rid, row in rows.items():
            value = tuple(keys[k](row) for k in combo)
            if None not in value:
                of[rid] = value
                sizes[value] += 1
        pairs = sum(n * (n - 1) // 2 for n in sizes.values())
        if pairs <= budget:
            reached = frozenset(
                i for i, (a, b) in enumerate(truth) if a in of and of.get(b) == of[a]
            )
            found[combo] = (pairs, reached)
    covered: set[int] = set()
    total = 0
    while total <= budget:
        best: tuple[float, tuple[str, ...]] | None = None
        for combo, (pairs, reached) in found.items():
            gain = len(reached - covered)
            if gain and (best is None or gain / (pairs + 100_000) > best[0]):
                best = (gain / (pairs + 100_000), combo)
        if best is None:
            break
        pairs, reached = found.pop(best[1])
        gain = len(reached - covered)
        covered |= reached
        total += pairs
        print(
            f"{' + '.join(best[1]):60s} {pairs:>11,} pairs  +{gain:5d}  "
            f"reached {len(covered) / len(truth):.4f}  total {total:,}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--budget", type=int, default=6_000_000, help="most pairs in all")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    search(args.records, args.budget, args.seed)


if __name__ == "__main__":
    main()
