"""Partner matching (keyed Bloom-filter encodings) quality and speed.

Two or three synthetic organisations draw their lists from one population so that any two
lists share about 30% of their people; every list makes its own errors in its own copy of a
person (tests/linkage/generator.py: hamza, ta marbuta, alef maqsura, tashkeel/tatweel, عبد
compounds, dropped ال, typos, blanked fields, birth year ±1, another governorate, the whole name
in Latin letters). Each list is encoded with the shared secret and compared; printed: the overlap
(people on two or more lists) against the truth, pairwise precision and recall, each pair of
lists' shared people as counted (estimated or matched, and why), matched and estimated against
the truth, the membership pattern counts (counted / matched / true), and the encoding and
comparison times.

Run: .venv/bin/python -m bench.partners [--size 10000] [--lists 2] [--threshold 0.8]
Goals: overlap within 5% of the truth; precision >= 0.97, recall >= 0.90; 100,000 x 100,000
compared in <= 60 s on two cores.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.linkage.generator import GOVERNORATES, _brother, _edit, _person

# The skewed draw: how common محمد is among Syrian men's names (a third or more of first
# names in some lists), with the fathers' and grandfathers' names skewed alike; and more copies
# with errors. Names this common leave the other fields to tell people apart.
SKEW = {"first_name": 0.37, "father_name": 0.25, "grandfather_name": 0.25}
ERROR_SHARE = {"plain": 0.6, "skewed": 0.8}


def population_lists(
    size: int, lists: int, overlap: float, seed: int, draw: str = "plain", siblings: float = 0.0
) -> list[list[dict[str, Any]]]:
    """`lists` lists of `size` records; each person is on a list with probability `overlap`,
    so two lists share about `overlap` of their records. Record ids are the person's. About
    `siblings` of the men have a brother in the population (same parents, grandfather and
    family, born 1-3 years apart, arrested with him half the time), listed or not on his own."""
    rng = random.Random(seed)
    people = int(size / overlap)
    out: list[list[dict[str, Any]]] = [[] for _ in range(lists)]
    brother: tuple[dict[str, Any], dict[str, str]] | None = None
    for p in range(people):
        if brother is not None:
            person, arrest = brother
            brother = None
        else:
            person = _person(rng)
            if draw == "skewed":
                for part, share in SKEW.items():
                    if (part != "first_name" or person["sex"] == "male") and rng.random() < share:
                        person[part] = "محمد"
            arrest = {
                "governorate": rng.choice(GOVERNORATES),
                "date": str(rng.randint(2011, 2024)),
            }
            if siblings and person["sex"] == "male" and rng.random() < siblings:
                together = rng.random() < 0.5
                other = {**arrest} if together else {**arrest, "date": str(rng.randint(2011, 2024))}
                brother = (_brother(rng, person), other)
        for records in out:
            if rng.random() >= overlap:
                continue
            mine, mine_arrest = dict(person), dict(arrest)
            if rng.random() < ERROR_SHARE[draw]:  # 60% (80%) carry 1-3 errors of its own
                for _ in range(rng.randint(1, 3)):
                    _edit(rng, mine, mine_arrest)
            records.append(
                {
                    "id": f"p{p}",
                    "person": mine,
                    "arrest": mine_arrest,
                    "truth": (person, arrest),  # as the person is, before this list's errors
                }
            )
    for records in out:
        rng.shuffle(records)
    return out


def main() -> None:
    import numpy as np

    from casebook.partners.compare import DEFAULT_THRESHOLD, link
    from casebook.partners.encoding import Encoder, ExportNames

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=2, choices=(2, 3))
    parser.add_argument(
        "--threshold", default=None, help="one threshold, or several separated by commas"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--draw",
        choices=("plain", "skewed"),
        default="plain",
        help="skewed: محمد for 37%% of men's first names and 25%% of fathers and grandfathers, "
        "80%% of copies with errors",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="break the false pairs down by what tells their two people apart",
    )
    parser.add_argument(
        "--siblings",
        type=float,
        default=0.0,
        help="share of men with a brother in the population (same parents and family)",
    )
    parser.add_argument(
        "--plaintext",
        action="store_true",
        help="the ceiling: casebook's own outside-list matching on the two lists' plain records "
        "(the first list as the caseload, the second as a list), for comparison",
    )
    args = parser.parse_args()
    if args.plaintext:
        plaintext(population_lists(args.size, 2, 0.3, args.seed, args.draw, args.siblings))
        return
    thresholds = (
        [float(t) for t in args.threshold.split(",")] if args.threshold else [DEFAULT_THRESHOLD]
    )

    data = population_lists(args.size, args.lists, 0.3, args.seed, args.draw, args.siblings)
    encoder = Encoder(b"bench-secret-" + b"x" * 40)
    start = time.perf_counter()
    encoded = []
    for records in data:  # each organisation encodes its own list, knowing only its own names
        names = ExportNames(r["person"] for r in records)
        encoded.append(
            np.frombuffer(
                b"".join(
                    encoder.encode(
                        r["person"], r["arrest"]["governorate"], r["arrest"]["date"], names
                    )
                    for r in records
                ),
                np.uint8,
            ).reshape(len(records), -1)
        )
    encode_s = time.perf_counter() - start
    ids = [[r["id"] for r in records] for records in data]
    members: dict[str, set[int]] = {}
    for d, records in enumerate(ids):
        for pid in records:
            members.setdefault(pid, set()).add(d)
    sizes = " x ".join(str(len(r)) for r in data)
    print(f"lists: {sizes} records")
    for threshold in thresholds:
        start = time.perf_counter()
        result = link(encoded, threshold)
        compare_s = time.perf_counter() - start
        report(result, ids, members, args.lists, threshold)
        crowded = ", ".join(f"{share:.1%}" for share in result.crowded)
        print(f"  records with 10+ look-alikes on another list (warned of from 20%): {crowded}")
        if args.diagnose:
            diagnose(result, data, encoded)
            missed(result, data)
        print(f"compare: {compare_s:.2f} s")
    total = sum(len(r) for r in data)
    print(f"encode: {encode_s:.2f} s for {total} records ({1e6 * encode_s / total:.0f} µs each)")


def plaintext(
    data: list[list[dict[str, Any]]], thresholds: tuple[float, ...] = (0.5, 0.7, 0.9)
) -> None:
    """What linking the same two lists with every name, date and place in the clear gives:
    casebook's matching of an outside list against its caseload (the Splink model, each row one
    of the cases or none), the pairs at each threshold (0.9 is the product's). Where this
    misses too, the encodings are not what loses the pair: the two copies no longer tell their
    person from others."""
    from casebook.linkage.features import person_features
    from casebook.linkage.scoring import score

    ours, theirs = data
    rows = [person_features(f"a:{r['id']}", r["person"], [r["arrest"]]) for r in ours]
    rows += [person_features(f"list:{r['id']}", r["person"], [r["arrest"]]) for r in theirs]
    start = time.perf_counter()
    run = score(rows, threshold=min(thresholds), memory_limit="12GB", list_prefix="list:")
    took = time.perf_counter() - start
    truth = len({r["id"] for r in ours} & {r["id"] for r in theirs})
    print(f"plain records, casebook's list matching: lists {len(ours)} x {len(theirs)}")
    for threshold in thresholds:
        pairs = {(a, b) for a, b, p in run.list_candidates if p >= threshold}
        correct = sum(a.removeprefix("list:") == b.removeprefix("a:") for a, b in pairs)
        found = len({a for a, _ in pairs})
        print(
            f"  {threshold}: overlap {found} rows matched, {truth} true "
            f"({100 * (found - truth) / max(truth, 1):+.1f}%); precision "
            f"{correct / max(len(pairs), 1):.4f}, recall {correct / max(truth, 1):.4f}"
        )
    print(f"  scored in {took:.1f} s")


def report(
    result: Any, ids: list[list[str]], members: dict[str, set[int]], lists: int, threshold: float
) -> None:
    """Overlap, pair precision and recall and the membership patterns against the truth."""
    truth_pairs = sum(len(m) * (len(m) - 1) // 2 for m in members.values())
    found_pairs = 0
    correct = 0
    for cluster in result.clusters:
        for i, (dx, rx) in enumerate(cluster):
            for dy, ry in cluster[i + 1 :]:
                found_pairs += 1
                correct += ids[dx][rx] == ids[dy][ry]
    precision = correct / found_pairs if found_pairs else 1.0
    recall = correct / truth_pairs if truth_pairs else 1.0
    true_overlap = sum(1 for m in members.values() if len(m) > 1)
    found_overlap = len(result.clusters)
    true_patterns: dict[str, int] = {}
    for m in members.values():
        key = "".join("1" if d in m else "0" for d in range(lists))
        true_patterns[key] = true_patterns.get(key, 0) + 1
    print(f"threshold {threshold}")
    print(
        f"  overlap (people on 2+ lists): {found_overlap} found, {true_overlap} true "
        f"({100 * (found_overlap - true_overlap) / max(true_overlap, 1):+.1f}%)"
    )
    print(f"  pairs: precision {precision:.4f}, recall {recall:.4f}")
    for o in result.overlaps:
        x, y = o.lists
        shared = sum(1 for m in members.values() if x in m and y in m)

        def off(n: float, shared: int = shared) -> str:
            return f"{100 * (n - shared) / max(shared, 1):+.1f}%"

        estimate = "not estimated" if o.estimate is None else f"estimate {o.estimate:.0f}"
        if o.estimate is not None and o.sides:
            estimate += f" {off(o.estimate)} (sides {o.sides[0]:.0f}, {o.sides[1]:.0f}; "
            estimate += f"s.e. {o.error:.0f})"
        if o.near_threshold is not None:
            estimate += f"; matched only just alike: {o.near_threshold:.1%}"
        print(
            f"  lists {x + 1} and {y + 1}: {shared} shared; counted {o.counted:.0f} "
            f"{off(o.counted)} ({o.why}); matched {o.matched} {off(o.matched)}; {estimate}"
        )
    estimated = result.estimated_patterns()
    print("  patterns counted / matched / true:")
    for key in sorted(set(true_patterns) | set(result.patterns()), reverse=True):
        print(
            f"    {key}: {estimated.get(key, 0):>8} / {result.patterns().get(key, 0):>8} / "
            f"{true_patterns.get(key, 0):>8}"
        )
    if len(estimated) > 3:
        est_overlap = sum(n for k, n in estimated.items() if k.count("1") > 1)
        print(
            f"  overlap (people on 2+ lists) counted: {est_overlap} "
            f"({100 * (est_overlap - true_overlap) / max(true_overlap, 1):+.1f}%)"
        )


FIELDS = (
    "first_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "mother_name",
    "sex",
    "birth_date",
)


LABELS = ("first", "family", "mother", "sex", "birth", "ancestors", "governorate", "arrest")


def _given(person: dict[str, Any], arrest: dict[str, Any]) -> tuple[Any, ...]:
    """Every field the generator gives a record (father and grandfather as a set: the
    encoding, like families, does not tell their order)."""
    return (
        *(person.get(f) for f in FIELDS if f not in ("father_name", "grandfather_name")),
        frozenset(v for v in (person.get("father_name"), person.get("grandfather_name")) if v),
        arrest.get("governorate"),
        arrest.get("date"),
    )


def _differences(x: dict[str, Any], y: dict[str, Any]) -> set[str]:
    """What two copies of one person disagree on, as the outside reviews count misses."""
    px, py, ax, ay = x["person"], y["person"], x["arrest"], y["arrest"]
    out: set[str] = set()
    for copy, other in ((px, py), (py, px)):
        grand = (copy.get("grandfather_name") or other.get("grandfather_name") or "").strip()
        if grand and copy.get("family_name") == grand != other.get("family_name"):
            out.add("grandfather as family name")
        if any(ord(c) < 128 and c.isalpha() for c in str(copy.get("first_name") or "")):
            out.add("Latin letters")
    if px.get("birth_date") != py.get("birth_date"):
        out.add("birth year" if px.get("birth_date") and py.get("birth_date") else "no birth year")
    if ax.get("governorate") != ay.get("governorate"):
        out.add("governorate")
    if ax.get("date") != ay.get("date"):
        out.add("arrest year")
    for part in ("first_name", "family_name", "mother_name"):
        if px.get(part) != py.get(part) and "Latin letters" not in out:
            out.add(part.replace("_", " ") + " as written")
    if (px.get("father_name"), px.get("grandfather_name")) != (
        py.get("father_name"),
        py.get("grandfather_name"),
    ) and "Latin letters" not in out:
        out.add("father or grandfather as written")
    return out


def missed(result: Any, data: list[list[dict[str, Any]]]) -> None:
    """The true pairs of the first two lists the comparison missed, by what their two copies
    disagree on (a pair counts under each of its disagreements)."""
    found = set()
    for cluster in result.clusters:
        for dx, rx in cluster:
            for dy, ry in cluster:
                if (dx, dy) == (0, 1):
                    found.add((rx, ry))
    where = {r["id"]: i for i, r in enumerate(data[1])}
    total: dict[str, int] = {}
    miss: dict[str, int] = {}
    n_missed = 0
    for i, x in enumerate(data[0]):
        j = where.get(x["id"])
        if j is None:
            continue
        kinds = _differences(x, data[1][j]) or {"none"}
        lost = (i, j) not in found
        n_missed += lost
        for kind in kinds:
            total[kind] = total.get(kind, 0) + 1
            miss[kind] = miss.get(kind, 0) + lost
    print(f"  missed pairs of lists 1 and 2: {n_missed}; by what the two copies disagree on:")
    for kind, n in sorted(miss.items(), key=lambda kv: -kv[1]):
        print(f"    {kind}: {n} of {total[kind]} missed ({100 * n / total[kind]:.0f}%)")


def diagnose(result: Any, data: list[list[dict[str, Any]]], encoded: list[Any]) -> None:
    """Each false pair (two records of different people in one cluster), by whether any
    encoding of the generator's fields could tell them apart:
    - same as listed: the two records are equal on every field the generator gives them,
      after each list's own errors;
    - same encoding: not equal as written, but equal once normalised (identical encodings);
    - same people: the two people themselves are equal on every field (the lists' errors only
      blur them), so no field of these could separate them either;
    - separable: the rest, by the fields the two people really differ on."""
    import numpy as np

    from casebook.partners.compare import popcount_rows

    counts: dict[str, int] = {}
    differ: dict[str, int] = {}
    n_differ: dict[int, int] = {}
    where = [{r["id"] for r in records} for records in data]
    stole = 0  # false pairs where a record's own person is on the other list
    false_sims: list[float] = []
    for cluster in result.clusters:
        for i, (dx, rx) in enumerate(cluster):
            for dy, ry in cluster[i + 1 :]:
                x, y = data[dx][rx], data[dy][ry]
                if x["id"] == y["id"]:
                    continue
                a, b = encoded[dx][rx : rx + 1], encoded[dy][ry : ry + 1]
                both = int(popcount_rows(a & b)[0])
                total = int(popcount_rows(a)[0] + popcount_rows(b)[0])
                false_sims.append(2 * both / total)
                stole += x["id"] in where[dy] or y["id"] in where[dx]
                if _given(x["person"], x["arrest"]) == _given(y["person"], y["arrest"]):
                    kind = "same as listed"
                elif bool(np.array_equal(a, b)):
                    kind = "same encoding"
                elif _given(*x["truth"]) == _given(*y["truth"]):
                    kind = "same people"
                else:
                    kind = "separable"
                    tx, ty = _given(*x["truth"]), _given(*y["truth"])
                    key = "+".join(
                        label for label, u, v in zip(LABELS, tx, ty, strict=True) if u != v
                    )
                    differ[key] = differ.get(key, 0) + 1
                    n = key.count("+") + 1
                    n_differ[n] = n_differ.get(n, 0) + 1
                counts[kind] = counts.get(kind, 0) + 1
    total_false = sum(counts.values())
    print(f"  false pairs: {total_false}")
    for kind in ("same as listed", "same encoding", "same people", "separable"):
        n = counts.get(kind, 0)
        print(f"    {kind}: {n} ({100 * n / max(total_false, 1):.1f}%)")
    print(f"    with a record whose own person is on the other list: {stole}")
    print(f"    separable, by fields their people differ on: {sorted(n_differ.items())}")
    print("    separable pairs' people differ on (top 12):")
    for key, n in sorted(differ.items(), key=lambda kv: -kv[1])[:12]:
        print(f"      {key}: {n}")
    if false_sims:
        q = np.percentile(false_sims, [10, 50, 90])
        print(f"    raw Dice of false pairs: p10 {q[0]:.3f}, median {q[1]:.3f}, p90 {q[2]:.3f}")


if __name__ == "__main__":
    main()
