"""The warning at entry: how often the score (`linkage.services.entry_score`) warns of the
right earlier case, and of a wrong one, for the report shapes families give.

Quality: synthetic people with known duplicates (tests/linkage/generator.py). Each true pair's
later report is scored against every record sharing its first and father's name (what the
blind-index lookups bring for a common name), in three shapes:
- as generated (1-3 changes of the linkage generator);
- cut to the first and father's name (family and grandfather's names dropped; the mother's
  name and birth year kept where the generator kept them);
- bare: the first and father's name alone (no mother's name, no birth year).
For each: right warnings (the earlier reports of the same person), wrong warnings (anyone
else), and how many reports had at least one wrong warning.

Speed: one entry_score, and one with the new report read once (what the check pays per
candidate), against one plain RapidFuzz token_sort_ratio of the two full names,
measured in the same run.

Run: .venv/bin/python -m bench.entry_check [--records 10000] [--seeds 100,101,102]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._timing import per_call, row
from tests.linkage.generator import generate, latin

SHAPES = {
    "as generated": (),
    "first + father's name": ("grandfather_name", "family_name"),
    "bare first + father's name": ("grandfather_name", "family_name", "mother_name", "birth_date"),
}
# the later report as generated, every name then written in Latin letters (the generator's
# spellings: Mohammad, Al-Halabi …), scored against the records sharing the earlier report's
# first and father's names (the blind indexes are read across scripts)
IN_LATIN = "in Latin letters"
NAMES = ("first_name", "father_name", "grandfather_name", "family_name", "mother_name")


def quality(records: int, seed: int) -> None:
    from casebook.linkage.services import ENTRY_THRESHOLD, entry_score
    from casebook.names import is_arabic, normalise

    data = generate(records, seed=seed)
    people = {r["id"]: {k: v for k, v in r["person"].items() if v} for r in data.records}
    sharing: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rid, p in people.items():
        sharing[(normalise(p.get("first_name", "")), normalise(p.get("father_name", "")))].append(
            rid
        )
    print(f"seed {seed}: {records:,} records, {len(data.pairs):,} true pairs")
    rng = random.Random(seed)
    for shape, dropped in [*SHAPES.items(), (IN_LATIN, ())]:
        right = wrong = reports_wrong = candidates = 0
        for pair in data.pairs:
            later = min(pair)  # a second report ("d…" sorts before the first reports, "p…")
            report: Any = {k: v for k, v in people[later].items() if k not in dropped}
            looked_up = report
            if shape == IN_LATIN:
                looked_up = people[max(pair)]
                report = {
                    k: latin(v, rng) if k in NAMES and is_arabic(v) else v
                    for k, v in report.items()
                }
            key = (
                normalise(looked_up.get("first_name", "")),
                normalise(looked_up.get("father_name", "")),
            )
            wrong_here = 0
            for other in sharing[key]:
                if other == later:
                    continue
                candidates += 1
                if entry_score(report, people[other]) < ENTRY_THRESHOLD:
                    continue
                if frozenset((later, other)) in data.pairs:
                    right += 1
                else:
                    wrong_here += 1
            wrong += wrong_here
            reports_wrong += wrong_here > 0
        print(
            f"  {shape:<28} right {right:>5}  wrong {wrong:>5}  reports with a wrong one "
            f"{reports_wrong:>5} of {len(data.pairs):,}  ({candidates / len(data.pairs):.1f} "
            "records share first + father's name)"
        )


def speed() -> None:
    from rapidfuzz import fuzz

    from casebook.linkage.services import EntryReport, entry_score

    a = {
        "first_name": "محمد",
        "father_name": "أحمد",
        "grandfather_name": "علي",
        "family_name": "الحلبي",
        "mother_name": "فاطمة",
        "birth_date": "1985",
    }
    b = {"first_name": "محمد", "father_name": "احمد", "mother_name": "فاطمه", "birth_date": "1986"}
    baseline = per_call(lambda: fuzz.token_sort_ratio("محمد أحمد علي الحلبي", "محمد احمد"), 20000)
    print(row("plain token_sort_ratio (baseline)", baseline))
    print(
        row(
            "entry_score, full record against a two-part report",
            per_call(lambda: entry_score(b, a), 5000),
            baseline,
        )
    )
    # what the check at entry pays per candidate: the new report is read once per check
    report = EntryReport(b)
    print(
        row(
            "the same, the new report read once (per candidate)",
            per_call(lambda: report.score(EntryReport(a)), 5000),
            baseline,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--seeds", default="100,101,102")
    args = parser.parse_args()
    for seed in (int(s) for s in args.seeds.split(",")):
        quality(args.records, seed)
    speed()


if __name__ == "__main__":
    main()
