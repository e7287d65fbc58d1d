"""Counting cases for a release: the dimensions of design.md §8, from the encrypted facets, in one
stream.

Only cases whose consent allows statistics are counted; erased, rejected and duplicate cases
are not (one person, one count). Categories are fixed lists (not what happens to occur), so
every release has the same shapes. Years and periods are sums of months, grouped categories sums
of the fine ones: each published dimension names its *base* dimension and, per category, the
set of base categories it holds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import String, select, type_coerce, update
from sqlalchemy.orm import Session

from casebook import vocab
from casebook.cases.models import Case
from casebook.cases.records import Facets
from casebook.encrypted import Vault
from casebook.stats.models import StatsEpoch

FIRST_YEAR = 2011
COUNTED_STATES = ("unverified", "under_review", "verified")
VERIFIED_STATES = ("verified",)
# two-way tables are built over these (months are published one-way only, nested in years)
# two-way tables are built over these (months are published one-way only, nested in years)
BASE = ("arrest_year", "governorate", "sex", "age_band", "perpetrator", "facility", "status")
ONE_BASE = ("arrest_month", *BASE)
DIMENSIONS = (
    "arrest_year",
    "arrest_month",
    "governorate",
    "sex",
    "age_band",
    "perpetrator",
    "facility",
    "status",
)
ORDERED = ("arrest_year", "age_band")  # merged with a neighbour, not into "other"


def pairs() -> list[tuple[str, str]]:
    """Every two-way table a release holds (months only one-way, nested in years: by month a
    two-way table would be almost wholly hidden)."""
    return list(combinations(BASE, 2))


def _vocab_codes(dimension: str) -> list[str]:
    vocabulary = {
        "governorate": vocab.GOVERNORATES,
        "sex": vocab.SEXES,
        "age_band": vocab.AGE_BANDS,
        "perpetrator": vocab.PERPETRATOR_GROUPS,
        "facility": vocab.FACILITIES,
        "status": vocab.STATUSES,
    }[dimension]
    codes = [t.code for t in vocabulary.terms]
    if dimension == "facility" and "other" not in codes:
        codes += ["other"]
    if "unknown" not in codes:
        codes.append("unknown")
    return codes


def base_categories(dimension: str, last_year: int) -> list[str]:
    if dimension == "arrest_month":
        months = [
            m
            for y in range(FIRST_YEAR, last_year + 1)
            for m in [f"{y}-{n:02d}" for n in range(1, 13)] + [f"{y}-unknown"]
        ]
        return ["before_2011", *months, "unknown"]
    if dimension == "arrest_year":
        return ["before_2011", *(str(y) for y in range(FIRST_YEAR, last_year + 1)), "unknown"]
    return _vocab_codes(dimension)


def base_category(dimension: str, facets: Facets, last_year: int) -> str:
    if dimension == "arrest_year":
        month = base_category("arrest_month", facets, last_year)
        return month if month in ("before_2011", "unknown") else month[:4]
    if dimension == "arrest_month":
        raw_year = facets.get("arrest_year")
        if raw_year is None:
            return "unknown"
        year = int(raw_year)
        if year < FIRST_YEAR:
            return "before_2011"
        if year > last_year:
            return "unknown"
        raw_month = facets.get("arrest_month")
        return str(raw_month)[:7] if raw_month else f"{year}-unknown"
    raw = facets.get(dimension)
    return str(raw) if raw else "unknown"


def stats_epoch(session: Session) -> int:
    value = session.scalar(select(StatsEpoch.value).where(StatsEpoch.id == 1))
    return int(value or 0)


def stats_touch(session: Session) -> None:
    """Called by every case write that can change a count (kept for the case services; releases
    count their changes from the cases themselves)."""
    session.execute(update(StatsEpoch).where(StatsEpoch.id == 1).values(value=StatsEpoch.value + 1))


def counted_facets(session: Session, vault: Vault) -> Iterator[tuple[str, bool, Facets]]:
    """(case id, verified?, facets) of every countable case, decrypted in batches of 5,000 rows.

    This loop runs once per case, so it does the least it can: the associated data is built
    from a fixed prefix, and rows come straight from the driver.
    """
    open_row = Case.facets.column_opener(vault, "cases")
    # the id as stored (SQLite: 32 hex digits), not as uuid.UUID objects
    query = select(type_coerce(Case.id, String), Case.verification, Case.facets_enc).where(
        Case.erased_at.is_(None),
        Case.facets_enc.is_not(None),
        Case.verification.in_(COUNTED_STATES),
    )
    for raw_id, state, blob in session.execute(query.execution_options(yield_per=5000)):
        if isinstance(raw_id, str) and len(raw_id) == 32:
            h = raw_id
            case_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        else:
            case_id = str(raw_id)
        facets = open_row(case_id, blob or b"")
        if facets.get("statistics_consent"):
            yield case_id, state in VERIFIED_STATES, facets


def group(
    dimension: str,
    categories: list[str],
    counts: dict[str, dict[str, int]],
    k: int,
    finer: tuple[dict[str, list[str]], dict[str, dict[str, int]]] | None = None,
    force: Iterable[frozenset[str]] = (),
) -> list[tuple[str, list[str]]]:
    """Publishable categories for two-way tables: rare categories merged ("other", or a
    neighbouring year or age band) until every group holds 0 or at least k cases among all,
    verified and unverified cases alike — and a group whose count stands over two or more
    published parts with a case at least k more than the number of those parts (in each of
    those scopes), so that with the group's count published each hidden part inside it still
    ranges over k values or more (a hidden part holds at least one case). A group that fell
    short could be protected only by hiding the group itself, which hides the coarser table.
    The parts are the group's categories, or (`finer`: category -> parts, and the parts'
    counts by flag) the months of a group of years. `force`: groups to merge further (see
    tally). `counts` maps flag ("v", "u") to category counts. The verified and unverified
    counts shape the groups too, unless that would leave one group where all cases allow
    several (group_scopes)."""
    return _group(
        dimension,
        categories,
        counts,
        k,
        finer,
        force,
        group_scopes(dimension, categories, counts, k, finer),
    )


EVERY_SCOPE = ("v", "u", "vu")
ALL_CASES = ("vu",)


def group_scopes(
    dimension: str,
    categories: list[str],
    counts: dict[str, dict[str, int]],
    k: int,
    finer: tuple[dict[str, list[str]], dict[str, dict[str, int]]] | None = None,
) -> tuple[str, ...]:
    """The scopes whose counts shape a dimension's groups: verified and unverified cases as
    well as all, unless that merges every category into one group where all cases alone
    allow several. A few
    verified cases (or a few unverified) would merge every category into one group and leave
    the two-way tables of all cases with nothing but their total (six verified cases of 308
    did); the groups are then made for all cases, and verified two-way cells left small are
    hidden by the protection like any other."""
    if len(_group(dimension, categories, counts, k, finer, (), EVERY_SCOPE)) > 1:
        return EVERY_SCOPE
    alone = _group(dimension, categories, counts, k, finer, (), ALL_CASES)
    return ALL_CASES if len(alone) > 1 else EVERY_SCOPE


def _group(
    dimension: str,
    categories: list[str],
    counts: dict[str, dict[str, int]],
    k: int,
    finer: tuple[dict[str, list[str]], dict[str, dict[str, int]]] | None,
    force: Iterable[frozenset[str]],
    scopes: tuple[str, ...],
) -> list[tuple[str, list[str]]]:
    """group's merging, with the small-group rule over `scopes` (flags: "v", "u", "vu")."""
    parts, part_counts = finer if finer is not None else ({}, counts)
    forced = set(force)

    def small(members: list[str]) -> bool:
        if frozenset(members) in forced:
            return True
        for flags in scopes:
            n = sum(counts[f].get(c, 0) for f in flags for c in members)
            present = sum(
                1
                for part in {p for c in members for p in parts.get(c, [c])}
                if any(part_counts[f].get(part, 0) for f in flags)
            )
            if 0 < n < (k if present <= 1 else k + present):
                return True
        return False

    def size(members: list[str]) -> int:
        return sum(counts[f].get(c, 0) for f in ("v", "u") for c in members)

    groups: list[list[str]] = [[c] for c in categories]
    while len(groups) > 1:
        bad = next((i for i, g in enumerate(groups) if small(g)), None)
        if bad is None:
            break
        if dimension in ORDERED:
            near = [j for j in (bad - 1, bad + 1) if 0 <= j < len(groups)]
            j = min(near, key=lambda j: size(groups[j]))
            lo, hi = sorted((bad, j))
            groups[lo : hi + 1] = [groups[lo] + groups[hi]]
        else:
            other = next((i for i, g in enumerate(groups) if len(g) > 1), None)
            if other is None or other == bad:
                choices = [j for j in range(len(groups)) if j != bad]
                other = min(choices, key=lambda j: size(groups[j]))
            merged = groups[bad] + groups[other]
            for i in sorted((bad, other), reverse=True):
                groups.pop(i)
            groups.append(merged)
    if dimension not in ORDERED:
        # the merged group is called "other": the category "other" belongs in it, or a table
        # would show two columns of one name that the protection takes for two cells (the
        # category's, often 0, made the group's cell look complemented when it was not)
        several = next((g for g in groups if len(g) > 1), None)
        if several is not None and ["other"] in groups:
            groups.remove(["other"])
            several.append("other")
    return _named(dimension, groups)


def _named(dimension: str, groups: Iterable[list[str]]) -> list[tuple[str, list[str]]]:
    """Each group with its code: the category, a range of years or ages, or "other"."""
    out = []
    for g in groups:
        if len(g) == 1:
            code = g[0]
        elif dimension in ORDERED:
            code = f"{g[0]}..{g[-1]}"
        else:
            code = "other"
        out.append((code, g))
    return out


@dataclass
class BaseCounts:
    """Exact counts of one release: fine one-way counts ("flag|dim|cat"), the groups of each
    dimension, and two-way counts over the groups ("flag|dimA|groupA|dimB|groupB")."""

    last_year: int
    total: dict[str, int]
    one_way: dict[str, int]
    groups: dict[str, list[tuple[str, list[str]]]]
    two_way: dict[str, int]
    # cases per verified flag and base categories (BASE order), where known: what counts
    # finer than the groups are made of (history.py); not stored (a release's fingerprints
    # hold it, see combos_of)
    combos: dict[tuple[str, tuple[str, ...]], int] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "last_year": self.last_year,
            "total": self.total,
            "one_way": self.one_way,
            "groups": self.groups,
            "two_way": self.two_way,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BaseCounts:
        groups = {d: [(c, list(m)) for c, m in g] for d, g in doc["groups"].items()}
        return cls(doc["last_year"], doc["total"], doc["one_way"], groups, doc["two_way"])


def combos_of(fingerprints: Iterable[str]) -> dict[tuple[str, tuple[str, ...]], int]:
    """Cases per verified flag and base categories, from the cases' fingerprints (tally)."""
    out: Counter[tuple[str, tuple[str, ...]]] = Counter()
    for fingerprint in fingerprints:
        flag, *categories = fingerprint.split("|")
        out[(flag, tuple(categories[1:]))] += 1
    return dict(out)


def fingerprint_category(fingerprint: str, dimension: str) -> str:
    """A counted case's category of `dimension`, from its fingerprint (see tally)."""
    return fingerprint.split("|")[1 + ONE_BASE.index(dimension)]


def count_base(
    session: Session,
    vault: Vault,
    now: datetime,
    k: int,
    join: Iterable[dict[str, list[tuple[str, list[str]]]]] = (),
) -> tuple[BaseCounts, dict[str, str]]:
    """Every counted case once; also each case's fingerprint (its counted categories)."""
    return tally(counted_facets(session, vault), now.year, k, join)


def join_groups(
    dimension: str,
    categories: list[str],
    groups: list[tuple[str, list[str]]],
    others: Iterable[list[tuple[str, list[str]]]],
) -> list[tuple[str, list[str]]]:
    """The finest groups that are unions of `groups` and of each grouping in `others` (the
    groups of earlier releases): every number an earlier release published over its groups
    is then a sum of this release's cells, audited with them, instead of a coarse number
    beside finer hidden ones (an earlier count of 11 over three categories, each hidden now
    and so at least 1, puts each at most 9). One merged group per unordered dimension."""
    root = {c: c for c in categories}

    def find(c: str) -> str:
        while root[c] != c:
            root[c] = root[root[c]]
            c = root[c]
        return c

    def union(members: list[str]) -> None:
        inside = [m for m in members if m in root]
        for m in inside[1:]:
            root[find(m)] = find(inside[0])

    merged: list[str] = []
    for grouping in [groups, *others]:
        for _, members in grouping:
            if dimension in ORDERED:
                union(members)
            elif len(members) > 1:
                merged += members
    if dimension not in ORDERED:
        union(merged)
    else:  # a group of years or ages is a range: what lies between its ends joins it
        spans: dict[str, list[int]] = {}
        for i, c in enumerate(categories):
            spans.setdefault(find(c), []).append(i)
        for span in spans.values():
            union(categories[span[0] : span[-1] + 1])
    by_root: dict[str, list[str]] = {}
    for c in categories:
        by_root.setdefault(find(c), []).append(c)
    return _named(dimension, by_root.values())


def tally(
    rows: Iterable[tuple[str, bool, Facets]],
    last_year: int,
    k: int,
    join: Iterable[dict[str, list[tuple[str, list[str]]]]] = (),
    every_scope: bool = False,
) -> tuple[BaseCounts, dict[str, str]]:
    """Count the rows. `join`: earlier releases' groups, which this release's groups must
    not split (join_groups). `every_scope`: groups shaped by the verified and unverified
    counts too, however coarse (group_scopes; a cut falls back to them when finer groups
    cannot be protected)."""
    earlier_groups = list(join)
    total: Counter[str] = Counter()
    one_way: Counter[str] = Counter()
    per_flag: dict[str, dict[str, Counter[str]]] = {
        f: {d: Counter() for d in ONE_BASE} for f in ("v", "u")
    }
    fingerprints: dict[str, str] = {}
    combos: Counter[tuple[str, tuple[str, ...]]] = Counter()  # (flag, base categories): cases
    known = [frozenset(base_categories(d, last_year)) for d in ONE_BASE]
    for case_id, verified, facets in rows:
        flag = "v" if verified else "u"
        every = [base_category(d, facets, last_year) for d in ONE_BASE]
        every = [c if c in ok else "unknown" for c, ok in zip(every, known, strict=True)]
        total[flag] += 1
        for d, c in zip(ONE_BASE, every, strict=True):
            one_way[f"{flag}|{d}|{c}"] += 1
            per_flag[flag][d][c] += 1
        combos[(flag, tuple(every[1:]))] += 1
        fingerprints[case_id] = flag + "|" + "|".join(every)
    years_months: dict[str, list[str]] = defaultdict(list)
    for m in base_categories("arrest_month", last_year):
        years_months[m[:4] if m[:4].isdigit() else m].append(m)
    months = {f: dict(per_flag[f]["arrest_month"]) for f in "vu"}
    base_pairs = list(combinations(range(len(BASE)), 2))
    force: dict[str, list[frozenset[str]]] = {d: [] for d in BASE}
    finer = {d: (dict(years_months), months) if d == "arrest_year" else None for d in BASE}
    scopes = {
        d: EVERY_SCOPE
        if every_scope
        else group_scopes(
            d, base_categories(d, last_year), {f: dict(per_flag[f][d]) for f in "vu"}, k, finer[d]
        )
        for d in BASE
    }
    while True:
        groups = {
            d: _group(
                d,
                base_categories(d, last_year),
                {f: dict(per_flag[f][d]) for f in "vu"},
                k,
                finer[d],
                force[d],
                scopes[d],
            )
            for d in BASE
        }
        if earlier_groups:
            groups = {
                d: join_groups(
                    d,
                    base_categories(d, last_year),
                    groups[d],
                    [[(c, list(m)) for c, m in e[d]] for e in earlier_groups if d in e],
                )
                for d in BASE
            }
        where = {d: {c: code for code, members in groups[d] for c in members} for d in BASE}
        maps = [where[d] for d in BASE]
        two_way: Counter[str] = Counter()
        for (flag, cats), n in combos.items():
            g = [m[c] for m, c in zip(maps, cats, strict=True)]
            for i, j in base_pairs:
                two_way[f"{flag}|{BASE[i]}|{g[i]}|{BASE[j]}|{g[j]}"] += n
        crowded = _crowded_groups(groups, two_way, k, scopes)
        if not crowded:
            break
        for d, members in crowded:
            force[d].append(members)
    counts = BaseCounts(last_year, dict(total), dict(one_way), groups, dict(two_way), dict(combos))
    return counts, fingerprints


def _crowded_groups(
    groups: dict[str, list[tuple[str, list[str]]]],
    two_way: Counter[str],
    k: int,
    scopes: dict[str, tuple[str, ...]],
) -> list[tuple[str, frozenset[str]]]:
    """Groups whose row of a two-way table could not be protected with the group's count
    published: fewer than k more cases than the row's cells with a case (in a scope), so that
    if every cell of the row is hidden one would still be narrowed below k. Merged further
    (tally), they make a coarser table instead of a hidden one."""
    out: list[tuple[str, frozenset[str]]] = []
    for da, db in combinations(BASE, 2):
        for d, e, first in ((da, db, True), (db, da, False)):
            for code, members in groups[d]:
                if len(groups[d]) == 1:
                    continue
                for flags in scopes[d]:  # the scopes that shape d's groups (group_scopes)
                    cells = []
                    for other, _ in groups[e]:
                        a, b = (code, other) if first else (other, code)
                        cells.append(sum(two_way.get(f"{f}|{da}|{a}|{db}|{b}", 0) for f in flags))
                    n, present = sum(cells), sum(1 for x in cells if x)
                    if present >= 2 and 0 < n < k + present:
                        out.append((d, frozenset(members)))
                        break
                else:
                    continue
    return list(dict.fromkeys(out))


def stats_touch_receiver(session: Session, **_: object) -> None:
    """The `case_counts_changed` signal's receiver (cases send it; they do not import stats)."""
    stats_touch(session)
