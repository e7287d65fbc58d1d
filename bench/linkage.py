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
Goals: recall >= 0.93 at precision >= 0.99 on 100k with 10% duplicates; 200k cases in
<= 1.5x bare Splink's time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.linkage.generator import generate, precision_recall

THRESHOLDS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


def quality(records: int) -> None:
    from casebook.linkage.features import person_features
    from casebook.linkage.scoring import score_pairs

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
    """A generated record as the API takes it: a name the generator blanked is left out
    (the case schema refuses null names)."""
    return {
        "person": {k: v for k, v in record["person"].items() if v is not None},
        "arrests": record["arrests"],
        "consent": {"documentation": {"granted": True, "date": "2024-05-01"}},
    }


def speed(records: int, postgres: bool) -> None:
    from bench._instance import fresh_instance
    from casebook.audit.services import Actor
    from casebook.cases.services import case_create_many
    from casebook.linkage.features import person_features
    from casebook.linkage.scoring import score_pairs
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
        # as `casebook dedupe` runs: with the operator's CASEBOOK_LINKAGE_MEMORY
        memory = app.config["CASEBOOK"].linkage_memory
        result = dedupe_run(s, Actor.cli(), threshold=0.9, memory_limit=memory)
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
    from casebook.linkage.scoring import _settings, _table, private_duckdb

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


def _bare_splink(rows: list[dict], threshold: float) -> tuple[list[tuple[str, str, float]], float]:  # type: ignore[type-arg]
    """Splink alone, as its documentation sets it up: Jaro-Winkler levels on the same
    normalised names, birth year, arrest year, governorate; the same blocking rules; u by
    random sampling, the prior estimated, two EM passes; no shipped model, no name work."""
    import logging

    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from casebook.linkage.scoring import _table, blocking_rules, private_duckdb

    start = time.perf_counter()
    con = private_duckdb("2GB")
    names = ["first", "father", "grandfather", "family", "mother"]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.JaroWinklerAtThresholds(n, [0.92, 0.8]) for n in names]
        + [
            cl.CustomComparison(
                output_column_name="birth_year",
                comparison_levels=[
                    cll.NullLevel("birth_year"),
                    cll.ExactMatchLevel("birth_year"),
                    cll.AbsoluteDifferenceLevel("birth_year", 1),
                    cll.AbsoluteDifferenceLevel("birth_year", 3),
                    cll.ElseLevel(),
                ],
            ),
            cl.ExactMatch("arrest_year"),
            cl.ExactMatch("governorate"),
        ],
        blocking_rules_to_generate_predictions=blocking_rules(),
    )
    linker = Linker(DuckDBAPI(connection=con).register(_table(rows)), settings)
    logging.getLogger("splink").setLevel(logging.ERROR)
    found: list[tuple[str, str, float]] = []
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first", "father", "family", "birth_year")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
        for rule in (
            block_on("first_skel", "family_skel", "mother_skel", "arrest_year"),
            block_on("father_skel", "grandfather_skel", "birth_year", "governorate"),
        ):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        table = linker.inference.predict(threshold_match_probability=threshold).physical_name
        found = [
            (str(a), str(b), float(p))
            for a, b, p in con.execute(
                f"SELECT unique_id_l, unique_id_r, match_probability FROM {table}"  # noqa: S608  # nosec B608
            ).fetchall()
        ]
    except Exception as exc:  # the baseline may fail; the table says how
        print(f"    bare Splink failed: {type(exc).__name__}")
    finally:
        con.close()
    return found, time.perf_counter() - start


def _list_rows(
    data: object,
    rng_seed: int,
    count: int,
    draw: str = "plain",
    fields_out: dict[str, list[str]] | None = None,
) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    """Rows of an outside list for people in `data`: a full name in one cell (a third in
    Latin letters), birth year as given, one off, or missing. (row id, true case id, row).

    The "hard" draw writes half the rows in Latin letters (Al-/El- articles, Abdul Rahman,
    Abd Allah), gives a quarter all four names and a fifth the three names first, father and
    grandfather (the grandfather where the family name would be). `fields_out` receives the
    name parts each row gives."""
    import random

    from tests.linkage.generator import latin

    rng = random.Random(rng_seed)
    records = [r for r in data.records if r["id"].startswith("p")]  # type: ignore[attr-defined]
    out = []
    for i, record in enumerate(rng.sample(records, min(count, len(records)))):
        person = record["person"]
        fields = ["first_name", "father_name", "family_name"]
        if draw == "hard":
            shape = rng.random()
            if shape < 0.25:
                fields = ["first_name", "father_name", "grandfather_name", "family_name"]
            elif shape < 0.45:
                fields = ["first_name", "father_name", "grandfather_name"]
        parts = [person.get(k) for k in fields]
        if rng.random() < (0.5 if draw == "hard" else 0.33):
            parts = [latin(p, rng) if p else p for p in parts]
        row: dict = {"name": " ".join(p for p in parts if p)}  # type: ignore[type-arg]
        year = person.get("birth_date")
        draw = rng.random()
        if year and draw < 0.5:
            row["birth_year"] = year
        elif year and draw < 0.75:
            row["birth_year"] = str(int(year) + rng.choice([-1, 1]))
        out.append((f"list:{i}", record["id"], row))
        if fields_out is not None:
            fields_out[f"list:{i}"] = fields
    return out


def _fitting_people(
    data: object,
    listed: list[tuple[str, str, dict]],  # type: ignore[type-arg]
    fields: dict[str, list[str]],
) -> dict[str, int]:
    """Per list row, how many people of the population (by the generator's truth, before any
    error) give the row's name parts exactly and a birth year within one of the row's (any,
    when the row has none): 1 when the row names its person alone, more when no linker could
    tell which of them the row means."""
    people = [r["person"] for r in data.records if r["id"].startswith("p")]  # type: ignore[attr-defined]
    truth = {r["id"]: r["person"] for r in data.records}  # type: ignore[attr-defined]
    index: dict[tuple[str, ...], list[str | None]] = {}
    plain = ("first_name", "father_name", "family_name")
    for person in people:
        index.setdefault(tuple(person.get(f) or "" for f in plain), []).append(
            person.get("birth_date")
        )
    out: dict[str, int] = {}
    for key, case, row in listed:
        given = fields[key]
        person = truth[case]
        names = tuple(person.get(f) or "" for f in given)
        if tuple(given) == plain:
            years = index.get(names, [])
        else:
            years = [
                p.get("birth_date") for p in people if tuple(p.get(f) or "" for f in given) == names
            ]
        year = row.get("birth_year")
        out[key] = sum(
            1 for y in years if year is None or (y is not None and abs(int(y) - int(year)) <= 1)
        )
    return out


def _print_misses(
    data: object,
    listed: list[tuple[str, str, dict]],  # type: ignore[type-arg]
    scored: list[tuple[str, str, float]],
    hits: set[frozenset[str]],
) -> None:
    """Each list row not found: the generator's truth, the row, and its best candidates."""
    people = {r["id"]: r["person"] for r in data.records}  # type: ignore[attr-defined]
    fields = ("first_name", "father_name", "grandfather_name", "family_name", "birth_date")

    def show(person: dict) -> str:  # type: ignore[type-arg]
        return " ".join(str(person.get(k) or "-") for k in fields)

    for key, case, row in listed:
        if frozenset((key, case)) in hits:
            continue
        ranked = sorted(
            ((p, b if a == key else a) for a, b, p in scored if key in (a, b)), reverse=True
        )
        print(f"    missed {key}: row {row}; truth {case}: {show(people[case])}")
        for p, other in ranked[:4]:
            mark = "*" if other == case else " "
            print(f"      {mark}{p:.3f} {other}: {show(people[other])}")
        if not any(other == case for _, other in ranked):
            print("       (truth not scored)")


def _without_family(data: Any, share: float, seed: int) -> set[str]:
    """Leave out the family name of `share` of the second reports (ids "d…"); their ids."""
    rng = random.Random(seed * 7)
    without = set()
    for record in data.records:
        if share and record["id"].startswith("d") and rng.random() < share:
            record["person"].pop("family_name", None)
            without.add(record["id"])
    return without


def _people(data: object) -> dict[str, set[str]]:
    """Each record's person: itself and its second reports (a row found at either is found)."""
    out: dict[str, set[str]] = {}
    for pair in data.pairs:  # type: ignore[attr-defined]
        a, b = tuple(pair)
        group = out.get(a, {a}) | out.get(b, {b})
        for x in group:
            out[x] = group
    return out


def seeds(
    count: int,
    sizes: list[int],
    threshold: float = 0.9,
    bare: bool = True,
    draw: str = "plain",
    misses: bool = False,
    first_seed: int = 100,
    sibling_share: float = 0.03,
    no_family: float = 0.0,
) -> None:
    """The table for bench/README.md: every size over `count` seeds (other seeds than the
    shipped model was made from). `no_family`: the share of second reports whose family name
    is left out (the family did not know it), on top of their other changes; the last column
    then says how many of their pairs were found."""
    from casebook.linkage.features import feature_rows, person_features
    from casebook.linkage.lists import _person
    from casebook.linkage.scoring import score
    from tests.linkage.generator import generate, sibling_rate

    print(
        "size    seed  P      R      siblings (all pairs)  list rows  wrong  model     casebook s  "
        "review rows  found / named alone  " + ("bare P  bare R  bare s" if bare else "")
    )
    for size in sizes:
        for seed in range(first_seed, first_seed + count):
            data = generate(size, seed=seed, sibling_share=sibling_share)
            without = _without_family(data, no_family, seed)
            rows = feature_rows(data.records)
            start = time.perf_counter()
            result = score(rows, threshold=threshold, memory_limit="2GB")
            # the baseline of the brothers' rule: every pair at the threshold, none held back
            bridged = sibling_rate(result.pairs + result.held, data.siblings, threshold)
            took = time.perf_counter() - start
            precision, recall = precision_recall(result.pairs, data.pairs, threshold)
            brothers = sibling_rate(result.pairs, data.siblings, threshold)
            given: dict[str, list[str]] = {}
            listed = _list_rows(data, seed, max(10, size // 50), draw, given)
            alone = {k for k, n in _fitting_people(data, listed, given).items() if n <= 1}
            list_features = [person_features(key, _person(row), None) for key, _, row in listed]
            run = score(
                rows + list_features, threshold=threshold, memory_limit="2GB", list_prefix="list:"
            )
            scored = run.list_candidates
            hits = {frozenset((a, b)) for a, b, p in scored if p >= threshold}
            found = sum(frozenset((key, case)) in hits for key, case, _ in listed)
            # rows several cases fit go to review with every candidate: found for review when
            # the true case is among them (a row matched outright is not in `ambiguous`)
            review = run.ambiguous
            for_review = sum(case in {c for c, _ in review.get(key, [])} for key, case, _ in listed)
            found_alone = sum(
                frozenset((key, case)) in hits or case in {c for c, _ in review.get(key, [])}
                for key, case, _ in listed
                if key in alone
            )
            same = _people(data)
            wrong = sum(
                1
                for key, case, _ in listed
                for a, b in (tuple(h) for h in hits if key in h)
                if (b if a == key else a) not in same.get(case, {case})
            )
            if misses:
                _print_misses(
                    data,
                    listed,
                    scored,
                    hits
                    | {
                        frozenset((key, case))
                        for key, case, _ in listed
                        if case in {c for c, _ in review.get(key, [])}
                    },
                )
            line = (
                f"{size:<7} {seed:<5} {precision:.3f}  {recall:.3f}  "
                f"{brothers:6.1%} ({bridged:5.1%})     "
                f"{found:>3}+{for_review}/{len(listed):<4} {wrong:>3}    "
                f"{result.model:<9} {took:7.1f}    {len(review):>4}        "
                f"{found_alone}/{len(alone)}"
            )
            if no_family:
                theirs = [pair for pair in data.pairs if pair & without]
                met = {frozenset((a, b)) for a, b, p in result.pairs if p >= threshold}
                line += f"   no family: {sum(pair in met for pair in theirs)}/{len(theirs)}"
            if bare:
                bare_found, bare_s = _bare_splink(rows, threshold)
                bp, br = precision_recall(bare_found, data.pairs, threshold)
                line += f"     {bp:.3f}   {br:.3f}   {bare_s:6.1f}"
            print(line)
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000, help="quality run size")
    parser.add_argument("--speed", type=int, default=0, help="cases for the speed run (0: skip)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--pairs", default="", help="comma-separated caseloads: count candidate pairs at each"
    )
    parser.add_argument("--seeds", type=int, default=0, help="seeds per size for the table")
    parser.add_argument("--sizes", default="300,1000,3500", help="caseloads for --seeds")
    parser.add_argument("--first-seed", type=int, default=100, help="the first of --seeds")
    parser.add_argument(
        "--sibling-share", type=float, default=0.03, help="people with a brother arrested too"
    )
    parser.add_argument(
        "--no-family",
        type=float,
        default=0.0,
        help="share of second reports without a family name (on top of their other changes)",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Splink baseline")
    parser.add_argument(
        "--list-draw", choices=("plain", "hard"), default="plain", help="outside-list rows"
    )
    parser.add_argument(
        "--misses", action="store_true", help="print each list row not found, with candidates"
    )
    args = parser.parse_args()
    if args.seeds:
        seeds(
            args.seeds,
            [int(n) for n in args.sizes.split(",")],
            bare=not args.no_bare,
            draw=args.list_draw,
            misses=args.misses,
            first_seed=args.first_seed,
            sibling_share=args.sibling_share,
            no_family=args.no_family,
        )
        return
    if args.records:
        quality(args.records)
    if args.speed:
        speed(args.speed, args.postgres)
    if args.pairs:
        pairs([int(n) for n in args.pairs.split(",")])


if __name__ == "__main__":
    main()
