"""Partner matching (keyed Bloom-filter encodings) quality and speed.

Two or three synthetic organisations draw their lists from one population so that any two
lists share about 30% of their people; every list makes its own errors in its own copy of a
person (tests/linkage/generator.py: hamza, ta marbuta, alef maqsura, tashkeel/tatweel, عبد
compounds, dropped ال, typos, blanked fields, birth year ±1, another governorate, the whole name
in Latin letters). Each list is encoded with the shared secret and compared; printed: the overlap
(people on two or more lists) against the truth, pairwise precision and recall, the membership
pattern counts, and the encoding and comparison times.

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

from tests.linkage.generator import GOVERNORATES, _edit, _person


def population_lists(
    size: int, lists: int, overlap: float, seed: int
) -> list[list[dict[str, Any]]]:
    """`lists` lists of `size` records; each person is on a list with probability `overlap`,
    so two lists share about `overlap` of their records. Record ids are the person's."""
    rng = random.Random(seed)
    people = int(size / overlap)
    out: list[list[dict[str, Any]]] = [[] for _ in range(lists)]
    for p in range(people):
        person = _person(rng)
        arrest = {"governorate": rng.choice(GOVERNORATES), "date": str(rng.randint(2011, 2024))}
        for records in out:
            if rng.random() >= overlap:
                continue
            mine, mine_arrest = dict(person), dict(arrest)
            if rng.random() < 0.6:  # 60% of each list's copies carry 1-3 of its own errors
                for _ in range(rng.randint(1, 3)):
                    _edit(rng, mine, mine_arrest)
            records.append({"id": f"p{p}", "person": mine, "arrest": mine_arrest})
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
    args = parser.parse_args()
    thresholds = (
        [float(t) for t in args.threshold.split(",")] if args.threshold else [DEFAULT_THRESHOLD]
    )

    data = population_lists(args.size, args.lists, 0.3, args.seed)
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
        print(f"compare: {compare_s:.2f} s")
    total = sum(len(r) for r in data)
    print(f"encode: {encode_s:.2f} s for {total} records ({1e6 * encode_s / total:.0f} µs each)")


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
    print("  patterns found / true:")
    for key in sorted(set(true_patterns) | set(result.patterns()), reverse=True):
        print(f"    {key}: {result.patterns().get(key, 0):>8} / {true_patterns.get(key, 0):>8}")


if __name__ == "__main__":
    main()
