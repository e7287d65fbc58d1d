"""Comparison of encoded lists: candidate pairs, Dice similarity, one-to-one clustering across
two or more lists, and the membership-pattern counts multiple systems estimation reads.

Hand-written on numpy rather than anonlink: anonlink 0.15.3 (the last release, 2023) imports
`pkg_resources` at start, which current setuptools no longer ships, so `import anonlink` fails
in a fresh environment. Instead of comparing every pair, candidates come from Hamming
locality-sensitive hashing on the encodings themselves (Karapiperis and Verykios 2015, the
scheme of blocklib's lambda-fold): many random samples of bit positions; two encodings become a
candidate pair when all sampled bits of one sample agree. Nothing beyond the encodings is needed,
so the files carry no blocking key. The exact Dice coefficient then decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Bits = npt.NDArray[np.uint8]  # (records, bytes) packed encodings
Index = npt.NDArray[np.int64]

DEFAULT_THRESHOLD = 0.745  # measured in bench/partners.py (bench/README.md)
# Common names, weighed where both parties see the same thing: a record with many look-alikes
# on the other list (pairs at NEIGHBOUR or above: every محمد born in 1980) needs a higher
# similarity to be taken as the same person, LOOKALIKE_PENALTY for each e-fold of look-alikes on
# either side. This is the comparison's term-frequency adjustment: frequencies cannot be put
# into the encodings, since two organisations of different sizes would weigh one name
# differently and stop agreeing on it (bench/README.md).
NEIGHBOUR = 0.66
LOOKALIKE_PENALTY = 0.02
# LSH: SAMPLES groups of BITS_PER_SAMPLE positions each. With 2,048 published bits a fifth of
# them set, encodings of one person that reach the threshold agree on about 89% or more of
# their bits, and two people's on about 67% (zeros agree too): such a true pair survives one
# sample with probability 0.89^40 = 0.009 and at least one of 300 with 0.94 (most true pairs
# agree far more), a chance pair one sample with 0.67^40 = 1e-7. 40 bits rather than 32 since
# the encodings doubled: with 32, sparser encodings filled the buckets (100,000 x 100,000: 63
# s against 14 s) for the same pairs (bench/README.md).
SAMPLES = 300
BITS_PER_SAMPLE = 40
# A record with CROWDED or more look-alikes on another list has a name, year and place so
# common that its encodings tell few of its people apart: in bench.partners such records'
# shared people were found 60-80% of the time against 95-97% for the rest. A list with
# CROWDED_WARN or more of its records so crowded is said to be undercounted (bench/README.md).
CROWDED = 10
CROWDED_WARN = 0.2
MAX_BUCKET = 300  # a bucket larger than this is a common pattern and left to other samples
_SEED = 20240501  # fixed: every party must sample the same positions for a result to repeat

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount_rows(bits: Bits) -> npt.NDArray[np.int32]:
    counted = np.bitwise_count(bits) if hasattr(np, "bitwise_count") else _POPCOUNT[bits]
    out: npt.NDArray[np.int32] = counted.sum(axis=1, dtype=np.int32)
    return out


def dice(a: Bits, b: Bits, ia: Index, ib: Index, chunk: int = 500_000) -> npt.NDArray[np.float32]:
    """Dice coefficients of the pairs (a[ia[i]], b[ib[i]])."""
    ca, cb = popcount_rows(a), popcount_rows(b)
    out = np.empty(len(ia), dtype=np.float32)
    for start in range(0, len(ia), chunk):
        sa, sb = ia[start : start + chunk], ib[start : start + chunk]
        both = popcount_rows(a[sa] & b[sb])
        total = ca[sa] + cb[sb]
        out[start : start + chunk] = np.where(total > 0, 2.0 * both / np.maximum(total, 1), 0.0)
    return out


def _sample_keys(bits: Bits, columns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """One integer per record: its bytes at `columns` (one sample's bucket key). Sampling
    whole bytes is sampling bits: the encoder places every bit at a keyed-random position."""
    keys = np.zeros(len(bits), dtype=np.int64)
    for column in columns.tolist():
        keys = (keys << 8) | bits[:, column]
    return keys


def candidate_pairs(
    a: Bits, b: Bits, threshold: float, workers: int = 2
) -> tuple[Index, Index, npt.NDArray[np.float32]]:
    """Pairs (i in a, j in b) with Dice >= threshold, found through LSH buckets. The samples
    are shared out to `workers` threads (numpy's sorts and gathers release the GIL)."""
    empty = np.zeros(0, dtype=np.int64)
    if len(a) == 0 or len(b) == 0:
        return empty, empty, np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng(_SEED)
    samples = [
        rng.choice(a.shape[1], size=BITS_PER_SAMPLE // 8, replace=False) for _ in range(SAMPLES)
    ]
    share = [samples[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = [
            f for part in pool.map(lambda s: _candidates(a, b, s, threshold), share) for f in part
        ]
    if not found:
        return empty, empty, np.zeros(0, dtype=np.float32)
    width = np.int64(len(b))
    keys = _unique(np.concatenate(found))
    ia, ib = keys // width, keys % width
    return ia, ib, dice(a, b, ia, ib)


def _candidates(
    a: Bits, b: Bits, samples: list[npt.NDArray[np.int64]], threshold: float
) -> list[npt.NDArray[np.int64]]:
    """Pair keys (i * len(b) + j) over Dice `threshold` that share a bucket in some sample."""
    width = np.int64(len(b))
    found: list[npt.NDArray[np.int64]] = []
    pending: list[npt.NDArray[np.int64]] = []
    pending_size = 0
    for columns in samples:
        ka, kb = _sample_keys(a, columns), _sample_keys(b, columns)
        order = np.argsort(kb)
        sorted_b = kb[order]
        order_a = np.argsort(ka)
        sorted_a = ka[order_a]
        lo = np.searchsorted(sorted_b, sorted_a, side="left")
        counts = np.searchsorted(sorted_b, sorted_a, side="right") - lo
        counts[counts > MAX_BUCKET] = 0
        total = int(counts.sum())
        if total == 0:
            continue
        ia = np.repeat(order_a.astype(np.int64), counts)
        starts = np.repeat(lo, counts)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        pending.append(ia * width + order[starts + offsets].astype(np.int64))
        pending_size += total
        if pending_size > 5_000_000:  # score in batches: a pair found by many samples once
            found.append(_keep(a, b, _unique(np.concatenate(pending)), width, threshold))
            pending, pending_size = [], 0
    if pending:
        found.append(_keep(a, b, _unique(np.concatenate(pending)), width, threshold))
    return found


def _unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values (sorting in place beats numpy's hash-based unique here)."""
    values.sort()
    if len(values) < 2:
        return values
    out: npt.NDArray[np.int64] = values[np.concatenate(([True], values[1:] != values[:-1]))]
    return out


def _keep(
    a: Bits, b: Bits, keys: npt.NDArray[np.int64], width: np.int64, threshold: float
) -> npt.NDArray[np.int64]:
    sims = dice(a, b, keys // width, keys % width)
    kept: npt.NDArray[np.int64] = keys[sims >= threshold]
    return kept


def scored_pairs(
    a: Bits, b: Bits, threshold: float
) -> tuple[Index, Index, npt.NDArray[np.float32], Index, Index]:
    """Pairs whose similarity, less the look-alike penalty, reaches `threshold`, with that
    adjusted similarity (the order one-to-one assignment takes them in), and each record's
    number of look-alikes on the other list (at least 1)."""
    ia, ib, sims = candidate_pairs(a, b, min(threshold, NEIGHBOUR))
    near = sims >= NEIGHBOUR
    look_a = np.maximum(np.bincount(ia[near], minlength=len(a)), 1)
    look_b = np.maximum(np.bincount(ib[near], minlength=len(b)), 1)
    adjusted = (sims - LOOKALIKE_PENALTY * (np.log(look_a[ia]) + np.log(look_b[ib]))).astype(
        np.float32
    )
    keep = adjusted >= threshold
    return ia[keep], ib[keep], adjusted[keep], look_a, look_b


@dataclass
class Linkage:
    """Clusters of records across lists: each a tuple of (list index, record index)."""

    sizes: list[int]
    clusters: list[list[tuple[int, int]]] = field(default_factory=list)
    # per list, the share of its records with CROWDED or more look-alikes on another list
    crowded: list[float] = field(default_factory=list)

    def patterns(self) -> dict[str, int]:
        """People per membership pattern ("110": on lists 1 and 2, not 3), singletons too; every
        pattern but the unobservable all-zero one is present."""
        counts: dict[str, int] = {}
        members = [0] * len(self.sizes)
        for cluster in self.clusters:
            lists = {d for d, _ in cluster}
            for d, _ in cluster:
                members[d] += 1
            key = "".join("1" if d in lists else "0" for d in range(len(self.sizes)))
            counts[key] = counts.get(key, 0) + 1
        for d, size in enumerate(self.sizes):
            alone = size - members[d]
            if alone:
                key = "".join("1" if i == d else "0" for i in range(len(self.sizes)))
                counts[key] = counts.get(key, 0) + alone
        # every observable pattern, zeros too: a capture-history reader needs the empty cells
        n_lists = len(self.sizes)
        every = (format(i, f"0{n_lists}b") for i in range(1, 2**n_lists))
        return {key: counts.get(key, 0) for key in sorted(every, reverse=True)}

    def matched(self, dataset: int) -> dict[int, list[int]]:
        """For each record of `dataset` that matched: the other lists it was found on."""
        out: dict[int, list[int]] = {}
        for cluster in self.clusters:
            mine = [r for d, r in cluster if d == dataset]
            if mine:
                out[mine[0]] = sorted({d for d, _ in cluster if d != dataset})
        return out


def link(datasets: Sequence[Bits], threshold: float = DEFAULT_THRESHOLD) -> Linkage:
    """Greedy one-to-one clustering over every pair of lists (as anonlink's greedy solver):
    candidate pairs of all list pairs, best first; two clusters merge only if they share no
    list, so a person is at most one record of each list and 3+ lists cluster consistently."""
    edges: list[tuple[npt.NDArray[np.float32], Index, Index, int, int]] = []
    offsets = np.cumsum([0, *[len(d) for d in datasets]])
    crowd = [np.zeros(len(d), dtype=bool) for d in datasets]
    for x in range(len(datasets)):
        for y in range(x + 1, len(datasets)):
            ia, ib, sims, look_x, look_y = scored_pairs(datasets[x], datasets[y], threshold)
            edges.append((sims, ia + offsets[x], ib + offsets[y], x, y))
            crowd[x] |= look_x >= CROWDED
            crowd[y] |= look_y >= CROWDED
    crowded = [float(c.mean()) if len(c) else 0.0 for c in crowd]
    parent = list(range(int(offsets[-1])))
    lists_of: dict[int, set[int]] = {}
    owner = np.repeat(np.arange(len(datasets)), [len(d) for d in datasets])
    if edges:
        sims = np.concatenate([e[0] for e in edges])
        left = np.concatenate([e[1] for e in edges])
        right = np.concatenate([e[2] for e in edges])
        order = np.lexsort((right, left, -sims))  # best first; ties in a fixed order

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in order.tolist():
            ra, rb = find(int(left[i])), find(int(right[i]))
            if ra == rb:
                continue
            la = lists_of.get(ra, {int(owner[ra])})
            lb = lists_of.get(rb, {int(owner[rb])})
            if la & lb:
                continue  # would put two records of one list in one person
            parent[rb] = ra
            lists_of[ra] = la | lb
            lists_of.pop(rb, None)
        groups: dict[int, list[tuple[int, int]]] = {}
        for root in lists_of:
            groups[root] = []
        for i in range(len(parent)):
            root = find(i)
            if root in groups:
                d = int(owner[i])
                groups[root].append((d, i - int(offsets[d])))
        clusters = [sorted(g) for g in groups.values() if len(g) > 1]
    else:
        clusters = []
    return Linkage(sizes=[len(d) for d in datasets], clusters=clusters, crowded=crowded)
