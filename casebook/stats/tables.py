"""Every table of a release as one linked system (see protect.py), and the protected tables.

A release holds, for all counted cases and for verified cases only:
- one-way tables over the fine categories (months nested in years);
- the grouped one-way tables (rare categories merged until every group holds 0 or at least k
  cases in every scope: all, verified, unverified) — the "coarser table";
- two-way tables over the groups.

Because every group margin is 0 or at least k in every scope it is never hidden, so the
two-way tables are linked to each other only through published numbers: each table (with its
verified and unverified layers) can be audited alone and the audit is still the audit of the
whole release. The fine one-way tables are audited with their groups (and months with years).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from casebook.stats.protect import (
    PUBLISHED_SCOPES,
    SCOPE_FLAGS,
    Key,
    LinkedSystem,
    UnprotectableError,
    protect,
)
from casebook.stats.queries import BASE, DIMENSIONS, ONE_BASE, BaseCounts, base_categories, pairs

Table = tuple[str, ...]  # ("governorate",), ("governorate", "grouped"), ("sex", "status")
# what a cell counts, independent of one release's keys and groups: the scope and, per
# dimension, the set of base categories (no dimension: the total)
Meaning = tuple[str, tuple[tuple[str, frozenset[str]], ...]]


def table_id(dims: Iterable[str]) -> Table:
    """The stored order of a two-way table's dimensions (the order of BASE)."""
    return tuple(sorted(dims, key=BASE.index))


def all_tables() -> list[Table]:
    return [(d,) for d in DIMENSIONS] + [(d, "grouped") for d in BASE] + [tuple(p) for p in pairs()]


class ReleaseSystem(LinkedSystem):
    def __init__(self, counts: BaseCounts) -> None:
        super().__init__()
        self.counts = counts
        self.fine = {d: base_categories(d, counts.last_year) for d in ONE_BASE}
        self.grid: dict[tuple[Table, str], list[list[Key]]] = {}
        self.margins: dict[tuple[Table, str], list[Key]] = {}
        self.positions: dict[Key, list[tuple[Table, str, int, int]]] = defaultdict(list)
        self._related: dict[Key, list[Key]] = {}
        self._parent: dict[Key, Key] = {}  # a fine category's group; a month's year
        self.meanings: dict[Key, Meaning] = {}
        self._by_atoms: dict[tuple[int, ...], Key] | None = None
        self._pairs: dict[tuple[str, str], dict[tuple[str, str, str], int]] = {}
        self._build()

    def categories(self, table: Table) -> tuple[list[str], list[str]]:
        if len(table) == 1:
            return self.fine[table[0]], [""]
        if table[1] == "grouped":
            return [code for code, _ in self.counts.groups[table[0]]], [""]
        return (
            [code for code, _ in self.counts.groups[table[0]]],
            [code for code, _ in self.counts.groups[table[1]]],
        )

    def _build(self) -> None:
        c = self.counts
        for f in ("v", "u"):
            total = self.atom(("T", f), c.total.get(f, 0))
            for d in ONE_BASE:
                ones = [
                    self.atom(("1", f, d, a), c.one_way.get(f"{f}|{d}|{a}", 0))
                    for a in self.fine[d]
                ]
                self.link(ones, [total])
            for y in self.fine["arrest_year"]:  # the months of a year sum to the year
                months = [
                    self.atom_index[("1", f, "arrest_month", m)]
                    for m in self.fine["arrest_month"]
                    if (m[:4] == y if y.isdigit() else m == y)
                ]
                self.link(months, [self.atom_index[("1", f, "arrest_year", y)]])
            for da, db in pairs():
                ga, gb = c.groups[da], c.groups[db]
                for code_a, members_a in ga:
                    row = [
                        self.atom(
                            ("2", f, da, code_a, db, code_b),
                            c.two_way.get(f"{f}|{da}|{code_a}|{db}|{code_b}", 0),
                        )
                        for code_b, _ in gb
                    ]
                    self.link(row, [self.atom_index[("1", f, da, m)] for m in members_a])
                for code_b, members_b in gb:
                    col = [self.atom_index[("2", f, da, code_a, db, code_b)] for code_a, _ in ga]
                    self.link(col, [self.atom_index[("1", f, db, m)] for m in members_b])
        for scope, flags in SCOPE_FLAGS.items():
            shown = scope in PUBLISHED_SCOPES
            self.cell(
                f"{scope}|total",
                [self.atom_index[("T", f)] for f in flags],
                shown,
                total=scope == "all",
            )
            self.meanings.setdefault(f"{scope}|total", (scope, ()))
            for d in ONE_BASE:
                keys = [self._one(scope, d, [a]) for a in self.fine[d]]
                self._place((d,), scope, [[key] for key in keys], keys, [])
            for m in self.fine["arrest_month"]:
                year = m[:4] if m[:4].isdigit() else m
                self._parent[self._one(scope, "arrest_month", [m])] = self._one(
                    scope, "arrest_year", [year]
                )
            for d in BASE:
                keys = [self._one(scope, d, members) for _, members in self.counts.groups[d]]
                for key, (_, members) in zip(keys, self.counts.groups[d], strict=True):
                    # 0 or at least k in every scope: hidden only when nothing else protects
                    # a category inside it
                    self.cells[key].fixed = True
                    for a in members:
                        fine = self._one(scope, d, [a])
                        if fine != key:
                            self._parent[fine] = key
                self._place((d, "grouped"), scope, [[key] for key in keys], keys, [])
            for da, db in pairs():
                ga, gb = self.counts.groups[da], self.counts.groups[db]
                grid = [
                    [
                        self._cell(
                            f"{scope}|{da}:{ca}|{db}:{cb}",
                            [self.atom_index[("2", f, da, ca, db, cb)] for f in flags],
                            shown,
                            (scope, ((da, frozenset(ma)), (db, frozenset(mb)))),
                        )
                        for cb, mb in gb
                    ]
                    for ca, ma in ga
                ]
                rows = [self._one(scope, da, m) for _, m in ga]
                cols = [self._one(scope, db, m) for _, m in gb]
                self._place((da, db), scope, grid, rows, cols)

    def _cell(self, key: str, atoms: list[int], shown: bool, meaning: Meaning) -> Key:
        self.cell(key, atoms, shown)
        self.meanings.setdefault(key, meaning)
        return key

    def _one(self, scope: str, dim: str, members: list[str]) -> Key:
        key = f"{scope}|{dim}:{'+'.join(sorted(members))}"
        if key not in self.cells:
            flags = SCOPE_FLAGS[scope]
            atoms = [self.atom_index[("1", f, dim, a)] for f in flags for a in members]
            self.cell(key, atoms, scope in PUBLISHED_SCOPES)
            self.meanings[key] = (scope, ((dim, frozenset(members)),))
        return key

    # -- the same number in another release (see history.py) ---------------------------------

    def atoms_for(self, meaning: Meaning) -> list[int] | None:
        """The atoms of this release that count what `meaning` counts, or None when this
        release cannot express it (a two-way cell over groups this release does not have, or
        a month after its last year)."""
        scope, parts = meaning
        flags = SCOPE_FLAGS[scope]
        names: list[tuple[str, ...]]
        if not parts:
            names = [("T", f) for f in flags]
        elif len(parts) == 1:
            ((dim, members),) = parts
            names = [("1", f, dim, a) for f in flags for a in sorted(members)]
        else:
            (da, ma), (db, mb) = parts
            codes_a, codes_b = self._cover(da, ma), self._cover(db, mb)
            if codes_a is None or codes_b is None:
                return None
            names = [("2", f, da, x, db, y) for f in flags for x in codes_a for y in codes_b]
        atoms = [self.atom_index.get(name) for name in names]
        return None if any(a is None for a in atoms) else [a for a in atoms if a is not None]

    def _cover(self, dim: str, members: frozenset[str]) -> list[str] | None:
        """The groups of `dim` whose union is exactly `members` (None if none is)."""
        codes: list[str] = []
        covered: set[str] = set()
        for code, inside in self.counts.groups.get(dim, []):
            if set(inside) <= members:
                codes.append(code)
                covered |= set(inside)
            elif members & set(inside):
                return None
        return codes if covered == members else None

    def pair_counts(self, da: str, db: str) -> dict[tuple[str, str, str], int]:
        """Cases per verified flag and fine categories of two base dimensions: the counts
        a two-way table over finer groups than this release's would hold (history.py)."""
        cached = self._pairs.get((da, db))
        if cached is None:
            if self.counts.combos is None:
                raise ValueError("a release's counts without its cases' categories")
            i, j = BASE.index(da), BASE.index(db)
            counted: defaultdict[tuple[str, str, str], int] = defaultdict(int)
            for (flag, categories), n in self.counts.combos.items():
                counted[(flag, categories[i], categories[j])] += n
            cached = self._pairs[(da, db)] = dict(counted)
        return cached

    def cell_of(self, atoms: list[int]) -> Key | None:
        """The cell of this release over exactly these atoms, if it has one."""
        if self._by_atoms is None:
            self._by_atoms = {}
            for key, c in self.cells.items():
                self._by_atoms.setdefault(tuple(sorted(c.atoms)), key)
        return self._by_atoms.get(tuple(sorted(atoms)))

    def shown(self, key: Key, hidden: set[Key]) -> int | None:
        """The number a cell shows (render's rule), None where it shows none."""
        c = self.cells[key]
        scope = str(key).split("|", 1)[0]
        if not c.published or key in hidden:
            return None
        if f"{scope}|total" in hidden and c.value == 0:
            return None
        return c.value

    def _place(
        self, table: Table, scope: str, grid: list[list[Key]], rows: list[Key], cols: list[Key]
    ) -> None:
        self.grid[(table, scope)] = grid
        self.margins[(table, scope)] = rows + cols
        for i, row in enumerate(grid):
            for j, key in enumerate(row):
                self.positions[key].append((table, scope, i, j))

    # -- what protect() needs ------------------------------------------------------------------

    def lines(self) -> Iterator[list[Key]]:
        for (table, scope), grid in self.grid.items():
            if scope not in PUBLISHED_SCOPES:
                continue
            total = f"{scope}|total"
            if len(grid[0]) == 1 and table[-1] != "grouped" and len(table) == 1:
                yield [row[0] for row in grid] + [total]
                continue
            if len(table) == 2 and table[1] != "grouped":
                margins = self.margins[(table, scope)]
                rows, cols = margins[: len(grid)], margins[len(grid) :]
                for i, row in enumerate(grid):
                    yield [*row, rows[i]]
                for j in range(len(cols)):
                    yield [row[j] for row in grid] + [cols[j]]
        for key in list(self.cells):  # all = verified + unverified
            if key.startswith("unverified|"):  # type: ignore[attr-defined]
                rest = key[len("unverified|") :]  # type: ignore[index]
                yield [key, f"all|{rest}", f"verified|{rest}"]

    def whole(self, scope: str) -> set[Key]:
        """The cells of `scope` that count every category of their dimensions with a case (a
        grouped table whose one group is everything, its two-way cells and margins; a group
        of every place of detention but one that holds no case): each is the scope's
        total under another name, hidden with it (protect_release) — shown, it would undo a
        total published only as a rounded range."""
        out: set[Key] = set()
        holding = {dim: self._with_cases(dim) for dim in self.fine}
        for key, meaning in self.meanings.items():
            if meaning[0] != scope or not meaning[1]:
                continue
            if all(members >= holding[dim] for dim, members in meaning[1]):
                out.add(key)
        return out

    def _with_cases(self, dim: str) -> frozenset[str]:
        """The categories of `dim` that hold a case among all cases: a group holding all of
        them counts every case (the others are 0 among all cases, shown as such, and so 0
        among the verified), whatever else it holds."""
        out = []
        for category in self.fine[dim]:
            atoms = self.atoms_for(("all", ((dim, frozenset([category])),)))
            if atoms is None or sum(self.atom_values[a] for a in atoms) > 0:
                out.append(category)
        return frozenset(out)

    def may_hide_zero(self, key: Key, hidden: set[Key] | None) -> bool:
        """A cell of a scope whose total may be hidden (the verified total, published then
        as a rounded range) shows "—" for 0 too while that total is hidden (render): to the
        attacker a hidden cell there may be 0."""
        total = f"{str(key).split('|', 1)[0]}|total"
        cell = self.cells.get(total)
        if cell is None or cell.total:  # the grand total is never hidden
            return False
        return hidden is None or total in hidden

    def related(self, key: Key) -> Iterable[Key]:
        """Row and column mates, margins, the same cell in the other scopes."""
        cached = self._related.get(key)
        if cached is None:
            cached = self._related[key] = self._find_related(key)
        return cached

    def _find_related(self, key: Key) -> list[Key]:
        out: list[Key] = []
        parent = self._parent.get(key)
        for table, scope, i, j in self.positions.get(key, []):
            grid = self.grid[(table, scope)]
            out += grid[i]
            column = [row[j] for row in grid]
            if len(table) == 1 and parent is not None:
                # a fine category is pinned by its group (a month by its year): hiding a
                # category of another group would not widen it
                column = [c for c in column if self._parent.get(c) == parent]
            out += column
            for other in SCOPE_FLAGS:
                if other != scope:
                    out.append(self.grid[(table, other)][i][j])
        rest = str(key).split("|", 1)[1]
        out += [f"{s}|{rest}" for s in SCOPE_FLAGS]
        if parent is not None:  # the sum it is part of (a month's year, a category's group)
            out.append(parent)
        return [r for r in dict.fromkeys(out) if r != key and r in self.cells]

    def family(self, table: Table) -> set[Key]:
        """The cells audited with a table: its three layers, margins and totals; a fine one-way
        table with its groups (months with years)."""
        tables = [table]
        if len(table) == 1:
            dim = table[0]
            if dim == "arrest_month":
                tables = [("arrest_month",), ("arrest_year",), ("arrest_year", "grouped")]
            else:
                tables = [table, (dim, "grouped")] if dim in BASE else [table]
        elif table[1] == "grouped":
            tables = [(table[0],), table]
        keys: set[Key] = set()
        for t in tables:
            for scope in SCOPE_FLAGS:
                keys |= {key for row in self.grid[(t, scope)] for key in row}
                keys |= set(self.margins[(t, scope)])
                keys.add(f"{scope}|total")
        return keys

    def render(self, table: Table, scope: str, hidden: set[Key]) -> dict[str, Any]:
        """One protected table as stored and served: None where hidden.

        While the scope's total is hidden (a verified total published only as a rounded
        range), its zeros are hidden too: with every other cell a published 0, the one hidden
        cell of each table would tell which governorate, year, age band, sex and place every
        one of a few cases shares — on one verified case, his whole profile. (Hidden whenever
        the total is rounded, not only below k: whether zeros are shown must not tell which.)"""
        small = f"{scope}|total" in hidden

        def shown(key: Key) -> int | None:
            value = self.cells[key].value
            return None if key in hidden or (small and value == 0) else value

        grid = self.grid[(table, scope)]
        rows, cols = self.categories(table)
        margins = self.margins[(table, scope)]
        two_way = len(table) == 2 and table[1] != "grouped"
        values = [[shown(key) for key in row] for row in grid]
        row_totals = (
            [shown(key) for key in margins[: len(grid)]]
            if two_way
            else [shown(row[0]) for row in grid]
        )
        col_totals = [shown(key) for key in margins[len(grid) :]] if two_way else []
        if two_way:
            # a dimension merged into one group: each cell counts the same cases as the
            # other dimension's margin beside it, and reads as that margin where it is shown
            # (a "—" beside its own number tells nothing and contradicts the table)
            if len(grid[0]) == 1:
                same = [
                    (v if v is not None else t) for [v], t in zip(values, row_totals, strict=True)
                ]
                values, row_totals = [[v] for v in same], same
            if len(grid) == 1:
                same = [
                    (v if v is not None else t) for v, t in zip(values[0], col_totals, strict=True)
                ]
                values, col_totals = [same], same
        return {
            "table": list(table),
            "scope": scope,
            "rows": rows,
            "cols": cols,
            "members": dict(self.counts.groups.get(table[0], [])) if len(table) == 2 else {},
            "col_members": dict(self.counts.groups[table[1]]) if two_way else {},
            "values": values,
            "row_totals": row_totals,
            "col_totals": col_totals,
            "total": shown(f"{scope}|total"),
            # a hidden total published rounded: the lowest and highest number it may be
            "total_range": (
                list(self.ranges[f"{scope}|total"])
                if f"{scope}|total" in hidden and f"{scope}|total" in self.ranges
                else None
            ),
        }


VERIFIED_TOTAL = "verified|total"
FIRST_WIDTH = 5  # rounding widths are 5, 10, 20, 40, ...: each divides the next


def rounded_range(value: int, width: int) -> tuple[int, int]:
    """The range of `width` numbers, starting at a multiple of `width`, that holds `value`."""
    low = value // width * width
    return low, low + width - 1


def round_totals(system: ReleaseSystem, k: int, hidden: set[Key], least_width: int = 0) -> None:
    """The totals of a release are always published, rounded if needed: the grand total is
    never hidden; the verified total, when the protection had to hide it, is published as a
    rounded range (system.ranges) that the audit takes as lo <= total <= hi. The range is the
    narrowest of widths 5, 10, 20, 40, ... (at least k, and at least `least_width`) with which
    the whole release still passes the audit: a wider range only widens what can be inferred,
    and one holding 0 and every counted case adds nothing the attacker did not know, so a
    release that passed its audit always has one. Widths divide each other, so the ranges of
    one total at two k nest (a larger k never publishes a narrower range than the release)."""
    system.ranges = {}
    if VERIFIED_TOTAL not in hidden or VERIFIED_TOTAL not in system.cells:
        return
    value = system.cells[VERIFIED_TOTAL].value
    everyone = system.cells["all|total"].value
    width = FIRST_WIDTH
    while width < max(k, least_width):
        width *= 2
    while True:
        system.ranges = {VERIFIED_TOTAL: rounded_range(value, width)}
        low, high = system.ranges[VERIFIED_TOTAL]
        if (low == 0 and high >= everyone) or not system.audit(hidden, k):
            return
        width *= 2


def protect_release(
    system: ReleaseSystem,
    k: int,
    start: Iterable[Key] = (),
    strict: bool = False,
    least_width: int = 0,
) -> set[Key]:
    """Every table's family protected in turn, sharing one hidden set, until a round adds
    nothing (families share only margins and totals, which are published). `start` is a
    pattern to keep: a larger k starts from the release's own pattern and never shows less.
    A hidden verified total is then published rounded (round_totals; `least_width`: the
    release's own width, for a larger k)."""
    hidden: set[Key] = set(start)
    if VERIFIED_TOTAL in system.cells and system.cells[VERIFIED_TOTAL].value == 0:
        # no verified case yet: published as a rounded range with its zeros hidden like any
        # small verified total, not as a table of zeros, which a later release's attacker
        # would hold as exact (every hidden cell that changed since was 0, now at least 1)
        hidden.add(VERIFIED_TOTAL)
    order = [("arrest_month",)] + [t for t in all_tables() if t != ("arrest_month",)]
    while True:
        before = len(hidden)
        for table in order:
            hidden = protect(system, k, start=hidden, only=system.family(table))
        if len(hidden) == before:
            break
    # the families share only published margins, unless one had to be hidden: the audit of
    # the whole release decides
    system.ranges = {}
    try:
        hidden = protect(system, k, start=hidden, strict=strict)
    except UnprotectableError:
        if VERIFIED_TOTAL not in system.cells or VERIFIED_TOTAL in hidden:
            raise
        # the last resort: the verified total as a rounded range (round_totals), which
        # widens every verified number and how far it can have moved since a release
        hidden = protect(system, k, start=hidden | {VERIFIED_TOTAL}, strict=strict)
    if VERIFIED_TOTAL in hidden:
        hidden |= system.whole("verified")
    # a count of every case under another name (a sex table grouped into one group, a year
    # margin over every year) hidden beside the grand total, which is always shown exactly,
    # hides nothing — its categories without a case are shown as 0 — and reads as a secret
    hidden -= system.whole("all")
    round_totals(system, k, hidden, least_width)
    return show_back(system, k, hidden, set(start))


def give_back_candidates(
    system: ReleaseSystem, k: int, hidden: set[Key], keep: set[Key]
) -> list[Key]:
    """The hidden one-way numbers of all cases (at least k, not kept from an earlier
    release) that show_back tries to show again, in the order it tries them."""
    return list(
        dict.fromkeys(
            key
            for (table, scope), grid in system.grid.items()
            if scope == "all" and len(table) == 1
            for row in grid
            for key in row
            if key in hidden and key not in keep and system.cells[key].value >= k
        )
    )


def show_back(system: ReleaseSystem, k: int, hidden: set[Key], keep: set[Key]) -> set[Key]:
    """Complementary cells the greedy choice hid but the audit does not need, given back:
    the one-way numbers of all cases (a sex table of 270 men and 38 women hidden whole beside
    its published total, where showing both narrowed nothing, in this release or, with the
    other releases imported, in the joint audit). Each is shown again only if the whole
    release still passes the audit with it shown; `keep` (a pattern kept from earlier
    releases) is never given back.

    In the candidates' order, one by one, as if each were tried alone; but a joint audit
    takes seconds, and most numbers pass (40 of 43 on a third release of 500 cases), so a
    run of them is tried at once, and split in halves only when it fails (the second half
    of a failed run whose first half all passed fails too: it is the same trial). Showing
    fewer numbers never narrows a hidden one (each shown number is an equation the attacker
    loses), so a run that passes at once passes one by one too: the pattern is the
    one-by-one pattern, in fewer audits where most pass (21 for 35 numbers on a churned
    history's third release)."""
    candidates = give_back_candidates(system, k, hidden, keep)

    def give_back(run: list[Key], fails: bool = False) -> bool:
        """Whether every number of `run` was given back; `fails`: known to fail at once."""
        nonlocal hidden
        if not fails and not system.audit(hidden - set(run), k):
            hidden = hidden - set(run)
            return True
        if len(run) == 1:
            return False
        half = len(run) // 2
        first = give_back(run[:half])
        second = give_back(run[half:], fails=first)
        return first and second

    if candidates:
        give_back(candidates)
    return hidden
