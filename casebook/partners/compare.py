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
# The overlap estimate (estimate_overlap): a record "has a look-alike" on a list when one of its
# records reaches ESTIMATE_AT; below ESTIMATE_MIN_RECORDS records a list, or with fewer than
# ESTIMATE_MIN_ALONE of a list's records without a look-alike among their own, nothing is
# estimated (too few records for the rates to hold); two lists' sides further apart than
# ESTIMATE_SIDES_APART of the estimate, an estimate ESTIMATE_BELOW of the matched count below it,
# or one less than ESTIMATE_ERRORS standard errors above it, leave the matched count counted
# (the first two warned of; bench/README.md).
ESTIMATE_AT = NEIGHBOUR
ESTIMATE_MIN_RECORDS = 1000
ESTIMATE_MIN_ALONE = 0.05
ESTIMATE_SIDES_APART = 0.1
ESTIMATE_BELOW = 0.05
BELOW_ERRORS = 2.5  # and by more than chance would put it (standard errors)
SIDES_ERRORS = 3.0  # and further apart than chance would put them (standard errors)
ESTIMATE_ERRORS = 1.0
# How far apart two lists' copies of one person are, read from the people matched: the share of
# matched pairs whose similarity is within NEAR_BAND above the threshold. In bench.partners
# 5-6% of them (2-3% of the shared people unmatched; crowded names too); on an outside
# generator's lists, where copies often lacked a grandfather, mother or birth date or gave
# another governorate, 13% (14% unmatched) and 20-35% (34-51% unmatched): true pairs still
# crowding at the threshold means many lie below it. From NEAR_NOTE (with NEAR_MIN_PAIRS matched
# or more) the counts are said to be possibly below the truth, from NEAR_WARN likely far below.
# Calibrated on those two generators only (bench/README.md): a sign, not a correction factor.
NEAR_BAND = 0.05
NEAR_NOTE = 0.10
NEAR_WARN = 0.15
NEAR_MIN_PAIRS = 50
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
    a: Bits, b: Bits, threshold: float, workers: int = 2, own: bool = False
) -> tuple[Index, Index, npt.NDArray[np.float32]]:
    """Pairs (i in a, j in b) with Dice >= threshold, found through LSH buckets. The samples
    are shared out to `workers` threads (numpy's sorts and gathers release the GIL). `own`:
    a and b are one list, and only its pairs of two records are wanted, each once (i < j)."""
    empty = np.zeros(0, dtype=np.int64)
    if len(a) == 0 or len(b) == 0:
        return empty, empty, np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng(_SEED)
    samples = [
        rng.choice(a.shape[1], size=BITS_PER_SAMPLE // 8, replace=False) for _ in range(SAMPLES)
    ]
    share = [samples[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda s: _candidates(a, b, s, threshold, own), share)
        found = [f for part in parts for f in part]
    if not found:
        return empty, empty, np.zeros(0, dtype=np.float32)
    width = np.int64(len(b))
    keys = _unique(np.concatenate(found))
    ia, ib = keys // width, keys % width
    return ia, ib, dice(a, b, ia, ib)


def _candidates(
    a: Bits, b: Bits, samples: list[npt.NDArray[np.int64]], threshold: float, own: bool = False
) -> list[npt.NDArray[np.int64]]:
    """Pair keys (i * len(b) + j) over Dice `threshold` that share a bucket in some sample."""
    width = np.int64(len(b))
    found: list[npt.NDArray[np.int64]] = []
    pending: list[npt.NDArray[np.int64]] = []
    pending_size = 0
    for columns in samples:
        kb = _sample_keys(b, columns)
        order = np.argsort(kb)
        sorted_b = kb[order]
        if own:  # one list: its keys sorted once
            order_a, sorted_a = order, sorted_b
        else:
            ka = _sample_keys(a, columns)
            order_a = np.argsort(ka)
            sorted_a = ka[order_a]
        lo = np.searchsorted(sorted_b, sorted_a, side="left")
        counts = np.searchsorted(sorted_b, sorted_a, side="right") - lo
        counts[counts > MAX_BUCKET] = 0
        if own:
            counts[counts == 1] = 0  # a record alone in its bucket, with itself
        total = int(counts.sum())
        if total == 0:
            continue
        ia = np.repeat(order_a.astype(np.int64), counts)
        starts = np.repeat(lo, counts)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        jb = order[starts + offsets].astype(np.int64)
        if own:
            keep = ia < jb
            ia, jb = ia[keep], jb[keep]
        pending.append(ia * width + jb)
        pending_size += len(ia)
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


Scores = npt.NDArray[np.float32]


@dataclass
class Scored:
    """The pairs of two lists whose similarity, less the look-alike penalty, reaches the
    threshold, with that adjusted similarity (the order one-to-one assignment takes them in);
    each record's number of look-alikes on the other list (at least 1) and its best plain
    similarity there (0 where none reached ESTIMATE_AT)."""

    ia: Index
    ib: Index
    sims: Scores
    look_a: Index
    look_b: Index
    best_a: Scores
    best_b: Scores


def _best(records: int, index: Index, sims: Scores) -> Scores:
    best = np.zeros(records, dtype=np.float32)
    np.maximum.at(best, index, sims)
    return best


def scored_pairs(a: Bits, b: Bits, threshold: float) -> Scored:
    ia, ib, sims = candidate_pairs(a, b, min(threshold, NEIGHBOUR, ESTIMATE_AT))
    near = sims >= NEIGHBOUR
    look_a = np.maximum(np.bincount(ia[near], minlength=len(a)), 1)
    look_b = np.maximum(np.bincount(ib[near], minlength=len(b)), 1)
    adjusted = (sims - LOOKALIKE_PENALTY * (np.log(look_a[ia]) + np.log(look_b[ib]))).astype(
        np.float32
    )
    keep = adjusted >= threshold
    return Scored(
        ia[keep],
        ib[keep],
        adjusted[keep],
        look_a,
        look_b,
        _best(len(a), ia, sims),
        _best(len(b), ib, sims),
    )


def nearest_own(records: Bits) -> Scores:
    """Each record's best similarity to another record of its own list (0 where none reaches
    ESTIMATE_AT): how often a person's record has a look-alike among records of other people,
    measured on a list that holds each person once."""
    ia, ib, sims = candidate_pairs(records, records, ESTIMATE_AT, own=True)
    return np.maximum(_best(len(records), ia, sims), _best(len(records), ib, sims))


@dataclass
class Overlap:
    """The people two lists share: `matched` one to one, `estimate`d (None where the lists were
    too small or too crowded to estimate from), the estimate each list's side gave, its
    standard error, and `counted`: the estimate where it exceeds the matched people by more
    than its standard error, else the matched count, with `why` it is that one."""

    lists: tuple[int, int]
    matched: int
    estimate: float | None = None
    sides: tuple[float, float] | None = None
    error: float = 0.0
    # or "crowded", "sides_apart", "below_matched", "within_error", "estimated"
    why: str = "too_few_records"
    # the share of the matched pairs only just alike enough (within NEAR_BAND of the
    # threshold); None under NEAR_MIN_PAIRS matched
    near_threshold: float | None = None

    @property
    def below_truth(self) -> str | None:
        """Whether the counts are likely far below the truth ("likely_far_below", from
        NEAR_WARN) or may be below it ("may_be_below", from NEAR_NOTE), read from how many
        matched people sit near the threshold; None below that or under NEAR_MIN_PAIRS."""
        if self.near_threshold is None or self.near_threshold < NEAR_NOTE:
            return None
        return "likely_far_below" if self.near_threshold >= NEAR_WARN else "may_be_below"

    @property
    def counted(self) -> float:
        return (
            self.estimate if self.why == "estimated" and self.estimate is not None else self.matched
        )


def estimate_overlap(
    best_x: Scores, best_y: Scores, own_x: Scores, own_y: Scores, matched: int, x: int, y: int
) -> Overlap:
    """How many people two lists share, counting those the one-to-one matching cannot tell from
    a look-alike (two men of the commonest names, born the same year in one governorate).

    Hand-written: the PPRL libraries count matched pairs only. A record of list x whose person
    is not on list y still finds a look-alike there (similarity ESTIMATE_AT or more) at the rate
    records of y find one among y's own other records (every one another person, the list
    holding each person once, and as many of them): q_y. A record whose person is on y finds
    him there nearly always. So the records of x with no look-alike on y number about
    (n_x - overlap)(1 - q_y), which gives the overlap; and the same from y's side, the two
    averaged. It assumes the two lists draw their people from one population (the premise of
    counting the undocumented from their overlaps too); lists of different regions break it,
    and the two sides then part. The estimate is counted only where it exceeds the people
    matched one to one by more than its standard error (ESTIMATE_ERRORS of them): the matching
    then misses more than the estimate is likely to be off. Where look-alikes crowd, matching
    misses up to a fifth of the people shared and the estimate finds them; on uncrowded lists
    the matched count is the closer, and an estimate below it is noise or a broken premise.
    Measured in bench/README.md."""
    out = Overlap((x, y), matched)
    sizes = (len(best_x), len(best_y), len(own_x), len(own_y))
    if min(sizes) < ESTIMATE_MIN_RECORDS:
        return out
    alone_x = float(np.mean(own_x < ESTIMATE_AT))
    alone_y = float(np.mean(own_y < ESTIMATE_AT))
    if min(alone_x, alone_y) < ESTIMATE_MIN_ALONE:
        out.why = "crowded"
        return out
    side_x = len(best_x) - float(np.sum(best_x < ESTIMATE_AT)) / alone_y
    side_y = len(best_y) - float(np.sum(best_y < ESTIMATE_AT)) / alone_x
    out.sides = (side_x, side_y)
    out.estimate = min(max((side_x + side_y) / 2, 0.0), float(min(len(best_x), len(best_y))))
    # the records without a look-alike are a binomial count, and q is read from the other list
    # (each side's variance to first order; the two sides' counts are of different records)
    variances = [
        (n - out.estimate) * (1 - q) / q * (1 + (n - out.estimate) / m)
        for n, q, m in ((len(best_x), alone_y, len(own_y)), (len(best_y), alone_x, len(own_x)))
    ]
    out.error = float(np.sqrt(max(sum(variances), 0.0))) / 2
    apart = abs(side_x - side_y)
    by_chance = SIDES_ERRORS * float(np.sqrt(max(sum(variances), 0.0)))
    below = matched - out.estimate
    if apart > ESTIMATE_SIDES_APART * max(out.estimate, 1.0) and apart > by_chance:
        out.why = "sides_apart"
    elif below > ESTIMATE_BELOW * matched and below > BELOW_ERRORS * out.error:
        # fewer people than were matched (and most matched pairs are right): the premise fails
        out.why = "below_matched"
    elif out.estimate - matched > ESTIMATE_ERRORS * out.error:
        out.why = "estimated"
    else:
        out.why = "within_error"
    return out


@dataclass
class Linkage:
    """Clusters of records across lists: each a tuple of (list index, record index)."""

    sizes: list[int]
    clusters: list[list[tuple[int, int]]] = field(default_factory=list)
    # per list, the share of its records with CROWDED or more look-alikes on another list
    crowded: list[float] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def estimated(self) -> bool:
        """Whether any pair of lists counts its estimate rather than its matched people."""
        return any(o.why == "estimated" for o in self.overlaps)

    def estimated_patterns(self) -> dict[str, int]:
        """People per membership pattern with each pair of lists' overlap as counted (estimated
        or matched): the matched patterns raked (iterative proportional fitting) until each
        list holds its records and each pair of lists shares its counted overlap; rounded. The
        matched patterns where nothing is estimated."""
        found = self.patterns()
        if not self.estimated:
            return found
        keys = list(found)
        n_lists = len(self.sizes)
        counts = np.array([found[k] for k in keys], dtype=np.float64)
        member = np.array([[k[d] == "1" for d in range(n_lists)] for k in keys])
        for _ in range(200):
            before = counts.copy()
            for o in self.overlaps:
                x, y = o.lists
                both = member[:, x] & member[:, y]
                groups = (
                    (both, o.counted),
                    (member[:, x] & ~both, self.sizes[x] - o.counted),
                    (member[:, y] & ~both, self.sizes[y] - o.counted),
                )
                for rows, target in groups:
                    now = counts[rows].sum()
                    if now > 0:
                        counts[rows] *= target / now
                    elif target > 0:  # nothing matched there: share the estimate out evenly
                        counts[rows] = target / rows.sum()
            if np.abs(counts - before).max() < 1e-6:
                break
        # Rounded so that each list still holds exactly its records: the patterns of two or
        # more lists rounded, each list's own records (its singleton pattern) the remainder.
        out = {k: round(float(c)) for k, c in zip(keys, counts.tolist(), strict=True)}
        for d, size in enumerate(self.sizes):
            alone = "".join("1" if i == d else "0" for i in range(n_lists))
            shared = sum(n for k, n in out.items() if k[d] == "1" and k != alone)
            out[alone] = max(size - shared, 0)
        return out

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
    bests: list[tuple[int, int, Scores, Scores]] = []
    for x in range(len(datasets)):
        for y in range(x + 1, len(datasets)):
            scored = scored_pairs(datasets[x], datasets[y], threshold)
            edges.append((scored.sims, scored.ia + offsets[x], scored.ib + offsets[y], x, y))
            crowd[x] |= scored.look_a >= CROWDED
            crowd[y] |= scored.look_b >= CROWDED
            bests.append((x, y, scored.best_a, scored.best_b))
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
    result = Linkage(sizes=[len(d) for d in datasets], clusters=clusters, crowded=crowded)
    matched = _matched_pairs(result)
    result.overlaps = _overlaps(datasets, bests, matched)
    for overlap in result.overlaps:
        overlap.near_threshold = _near_threshold(datasets, overlap.lists, matched, threshold)
    return result


MatchedPairs = dict[tuple[int, int], tuple[list[int], list[int]]]


def _matched_pairs(linkage: Linkage) -> MatchedPairs:
    """For every pair of lists (x < y), the records of x and of y matched as one person, in
    step. Clusters are sorted by list and hold one record of each, so x < y in each pair."""
    pairs: MatchedPairs = {}
    for cluster in linkage.clusters:
        for i, (x, rx) in enumerate(cluster):
            for y, ry in cluster[i + 1 :]:
                left, right = pairs.setdefault((x, y), ([], []))
                left.append(rx)
                right.append(ry)
    return pairs


def _near_threshold(
    datasets: Sequence[Bits], lists: tuple[int, int], matched: MatchedPairs, threshold: float
) -> float | None:
    """The share of a pair of lists' people matched one to one whose two records are within
    NEAR_BAND above the threshold (plain similarity): how often the two lists' copies of one
    person differ, which the matched count alone does not show."""
    x, y = lists
    left, right = matched.get(lists, ([], []))
    if len(left) < NEAR_MIN_PAIRS:
        return None
    sims = dice(datasets[x], datasets[y], np.array(left), np.array(right))
    return float(np.mean(sims < threshold + NEAR_BAND))


def _overlaps(
    datasets: Sequence[Bits], bests: list[tuple[int, int, Scores, Scores]], matched: MatchedPairs
) -> list[Overlap]:
    """Every pair of lists' overlap, matched and estimated. A list's look-alikes among its own
    records are searched for once, and only in a list large enough to estimate from."""
    empty = np.zeros(0, dtype=np.float32)
    own = [nearest_own(d) if len(d) >= ESTIMATE_MIN_RECORDS else empty for d in datasets]
    return [
        estimate_overlap(
            best_x, best_y, own[x], own[y], len(matched.get((x, y), ((), ()))[0]), x, y
        )
        for x, y, best_x, best_y in bests
    ]
