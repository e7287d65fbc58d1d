"""Duplicate detection quality and speed.

Quality: synthetic people with known duplicates (tests/linkage/generator.py: hamza, ta marbuta,
alef maqsura, tashkeel/tatweel, عبد compounds, dropped ال, typos, blanked fields, birth year
±1, another governorate, Latin-only spellings), scored by casebook's model; pairwise precision
and recall at several thresholds.

Speed: the same records stored as real cases (encrypted, through case_create_many), then
`dedupe_run` (decrypt, normalise, Splink, store review items), next to bare Splink — the same
model on the same records already in memory — in the same run.

Pairs: how many candidate pairs the model's blocking rules make at each caseload, rule by
rule (exact counts by Splink's blocking analysis): what the scoring time grows with.

Run: .venv/bin/python -m bench.linkage --records 100000 [--speed 200000|1000000] [--postgres]
     .venv/bin/python -m bench.linkage --records 0 --pairs 200000,1000000
Goals (issue 8): recall >= 0.93 at precision >= 0.99 on 100k with 10% duplicates; 200k cases in
<= 1.5x bare Splink's time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.linkage.generator import generate, precision_recall

THRESHOLDS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


def quality(records: int) -> None:
    from casebook.linkage.features import person_features
    from casebook.linkage.model import score_pairs

    data = generate(records, seed=3)
    rows = [person_features(r["id"], r["person"], r["arrests"]) for r in data.records]
    start = time.perf_counter()
    found = score_pairs(rows, threshold=0.3)
    took = time.perf_counter() - start
    print(f"quality: {records:,} records, {len(data.pairs):,} true pairs; Splink {took:.1f} s")
    print("threshold  precision  recall")
    for threshold in THRESHOLDS:
        precision, recall = precision_recall(found, data.pairs, threshold)
        print(f"  {threshold:5.2f}    {precision:.4f}    {recall:.4f}")
    sys.stdout.flush()


def _case(record: dict) -> dict:  # type: ignore[type-arg]
    return {
        "person": record["person"],
        "arrests": record["arrests"],
        "consent": {"documentation": {"granted": True, "date": "2024-05-01"}},
    }


def speed(records: int, postgres: bool) -> None:
    from bench._instance import fresh_instance
    from casebook.audit.services import Actor
    from casebook.cases.services import case_create_many
    from casebook.linkage.features import person_features
    from casebook.linkage.model import score_pairs
    from casebook.linkage.services import dedupe_run

    app, db = fresh_instance("cb-bench-linkage-", records, postgres)
    data = generate(records, seed=4)
    start = time.perf_counter()
    with app.app_context():
        for i in range(0, records, 2000):
            with db.sessionmaker() as s, s.begin():
                batch = [_case(r) for r in data.records[i : i + 2000]]
                case_create_many(s, Actor.cli(), batch, created_by=None)
    print(
        f"speed: {records:,} cases stored in {time.perf_counter() - start:.0f} s "
        f"({db.engine.dialect.name})"
    )

    rows = [person_features(r["id"], r["person"], r["arrests"]) for r in data.records]
    start = time.perf_counter()
    bare = score_pairs(rows, threshold=0.9)
    bare_s = time.perf_counter() - start
    start = time.perf_counter()
    with app.app_context(), db.sessionmaker() as s, s.begin():
        result = dedupe_run(s, Actor.cli(), threshold=0.9)
    full_s = time.perf_counter() - start
    print(f"bare Splink (same model, records in memory): {bare_s:7.1f} s, {len(bare):,} pairs")
    print(
        f"casebook dedupe (decrypt, normalise, Splink, store): {full_s:7.1f} s, "
        f"{len(result.pairs):,} pairs, {result.new:,} review items; "
        f"{full_s / bare_s:.2f}x bare"
    )
    sys.stdout.flush()


def pairs(sizes: list[int]) -> None:
    from splink import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    from casebook.linkage.features import person_features
    from casebook.linkage.model import _settings, _table, private_duckdb

    rules = _settings().blocking_rules_to_generate_predictions
    first: tuple[int, int] | None = None
    for size in sizes:
        data = generate(size, seed=4)  # the speed run's records
        rows = [person_features(r["id"], r["person"], r["arrests"]) for r in data.records]
        con = private_duckdb()
        start = time.perf_counter()
        counts = count_comparisons_from_blocking_rules(
            DuckDBAPI(connection=con).register(_table(rows)),
            blocking_rules=rules,
            link_type="dedupe_only",
            record_sample_proportion=1.0,
        )
        took = time.perf_counter() - start
        con.close()
        total = counts[-1]["cumulative_comparison_count"]
        growth = ""
        if first is not None:
            growth = (
                f"; {total / first[1]:.1f}x the pairs of {first[0]:,} records "
                f"for {size / first[0]:.1f}x the records"
            )
        first = first or (size, total)
        print(f"pairs: {size:,} records -> {total:,} candidate pairs ({took:.0f} s){growth}")
        for record in counts:
            print(f"    {record['blocking_rule']}: +{record['marginal_comparison_count']:,}")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000, help="quality run size")
    parser.add_argument("--speed", type=int, default=0, help="cases for the speed run (0: skip)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--pairs", default="", help="comma-separated caseloads: count candidate pairs at each"
    )
    args = parser.parse_args()
    if args.records:
        quality(args.records)
    if args.speed:
        speed(args.speed, args.postgres)
    if args.pairs:
        pairs([int(n) for n in args.pairs.split(",")])


if __name__ == "__main__":
    main()
