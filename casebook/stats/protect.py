"""Small-cell suppression audited jointly over every table a release can publish.

Hand-written: no maintained Python package protects linked tables (tau-Argus is Java, sdcTable
is R). The release is modelled as a linear system the attacker knows:

- *atoms*: for every pair of base dimensions, the two-way counts of verified (``v``) and
  counted-but-unverified (``u``) cases; the one-way counts of each base dimension; the totals.
  Linking equations say that the rows and columns of every two-way base table sum to the
  one-way counts, and those to the total. (Base dimensions are the finest ones; years, periods
  and grouped categories are sums of them.)
- *cells*: every cell of every table, for "all" (v + u), "verified" (v) and "unverified" (u,
  never published but derivable as all − verified), written as a sum of atoms. Cells over the
  same set of cases are one cell, so a margin hidden in one table is hidden in all.

A published cell adds the equation ``sum(atoms) = value``. A hidden published-scope cell is at
least 1 (zeros are published and never chosen as complementary cells), except where the system
hides zeros too (`may_hide_zero`: beside a verified total published only as a rounded range,
where a hidden cell may be 0 to the attacker). Every cell whose
value is 1..k-1 and is not published must keep a feasible interval at least k wide: the audit
first propagates equations with one unknown, then solves two linear programs (SciPy HiGHS) per
such cell over its connected component. Cells that fail get a complementary neighbour hidden,
and the audit runs again until nothing fails.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
from highspy._core import _Highs  # the bare solver: highspy.Highs() prints a banner to stdout
from scipy import sparse

SCOPE_FLAGS: dict[str, tuple[str, ...]] = {
    "all": ("v", "u"),
    "verified": ("v",),
    "unverified": ("u",),
}
PUBLISHED_SCOPES = ("all", "verified")
Key = Hashable


@dataclass
class Cell:
    key: Key
    atoms: list[int]
    value: int
    published: bool  # False for the "unverified" scope: it is never shown
    fixed: bool = False  # a total or a group margin: shown (if at least k) unless no other way
    total: bool = False  # a grand total: always shown (if at least k)
    related: set[Key] = field(default_factory=set)


@dataclass
class Equation:
    atoms: list[int]
    coefs: list[int]
    rhs: int
    positive: bool  # every coefficient is +1 (a cell): rhs 0 means every atom is 0


class UnprotectableError(Exception):
    """No pattern passes the audit at this k (the grand total stays published)."""

    def __init__(self, k: int) -> None:
        super().__init__(f"no suppression pattern protects every small cell at k={k}")
        self.k = k


_Proven = dict[
    tuple[int, frozenset[Key] | None],
    list[tuple[frozenset[Key], dict[Key, tuple[int, int]], set[Key]]],
]
# proven sets kept per (k, cells considered): the audits of one cut try patterns that show
# a little more and a little less in turn (a pattern that failed, then one showing less; the
# numbers given back one run at a time all show more than the pattern that showed them all
# and failed), under the verified total unrounded and rounded
PROVEN_KEPT = 32
# the fewest unproven cells of one program for which random objectives are tried first (each
# such program, far from the last basis, costs about as much as ten of one cell's)
CERTIFY_LEAST = 16
STASH_SIZE = 4
POOL_POINTS = 128  # feasible points kept per atom space, to prove cells of later audits
POOL_SPACES = 6  # atom spaces (this release alone, or with others imported) kept


def fact_bounds(
    facts: Iterable[tuple[list[int], float, float]],
) -> dict[tuple[int, ...], tuple[float, float]]:
    """Facts as the tightest interval known for each set of atoms."""
    out: dict[tuple[int, ...], tuple[float, float]] = {}
    for atoms, low, high in facts:
        key = tuple(sorted(atoms))
        held = out.get(key)
        out[key] = (low, high) if held is None else (max(low, held[0]), min(high, held[1]))
    return out


def implied(
    weaker: dict[tuple[int, ...], tuple[float, float]],
    stronger: dict[tuple[int, ...], tuple[float, float]],
) -> bool:
    """Whether every fact of `weaker` follows from one of `stronger` (same atoms, an interval
    inside its own)."""
    for key, (low, high) in weaker.items():
        held = stronger.get(key)
        if held is None and low <= 1 and math.isinf(high):
            # "at least 1" follows from "at least 1" of some of its atoms (counts are >= 0)
            inside = set(key)
            if any(least >= 1 and set(atoms) <= inside for atoms, (least, _) in stronger.items()):
                continue
        if held is None or held[0] < low or held[1] > high:
            return False
    return True


class LinkedSystem:
    """Atoms, linking equations and cells of one release (see the module docstring)."""

    def __init__(self) -> None:
        self.atom_values: list[int] = []
        self.atom_index: dict[Hashable, int] = {}
        self.links: list[Equation] = []
        self.cells: dict[Key, Cell] = {}
        # hidden cells published as a rounded range instead: the attacker knows lo <= cell <= hi
        self.ranges: dict[Key, tuple[int, int]] = {}
        # cells proven wide, per (k, cells considered), with the hidden set and the ranges they
        # were proven under: hiding more, or widening a range, only widens what an attacker can
        # infer (a published "= value" becomes "at least 1"), so a cell proven wide stays wide
        # while the hidden set grows and the ranges widen (kept for a few sets of ranges: a
        # cut audits with the verified total unrounded, then rounded, round after round)
        self._proven: _Proven = {}
        # what other releases publish about these same cases, where it still holds: the
        # attacker knows low <= sum(atoms) <= high (low == high: a number published exactly)
        self.facts: list[tuple[list[int], float, float]] = []
        self._public: set[tuple[int, ...]] = set()
        # the proven cells of the last few fact sets audited under, by those facts' bounds:
        # a cut audits one earlier release again and again with another release's numbers,
        # which only weaken from round to round (it hides more), and once without them
        self._stash: list[tuple[dict[tuple[int, ...], tuple[float, float]], int, _Proven]] = []
        self._links_seen = 0  # the imported links the proven cells were proven with (a hash)
        # (atoms, links) of this release's own, when other releases' are imported after them
        self._own: tuple[int, int] | None = None
        self._imports: list[Hashable] = []  # the tags of the releases imported, in order
        self._imported_names: list[Hashable] = []
        # integral points found feasible by earlier audits, per atom space (own size and the
        # releases imported): a later audit checks each against its own constraints and takes
        # a point that satisfies them all as proof for every cell it moves k from its true
        # value (see _pool_proves); points are never trusted, only re-checked
        self._pool: dict[tuple[int, tuple[Hashable, ...]], list[np.ndarray]] = {}
        # how far other releases and right guesses about these counts narrow this release's
        # own numbers with nothing of it shown (history._guessed_of_new): a number is audited
        # as narrowed only when what it shows narrows it further (None: every narrowing counts)
        self.allowance: dict[Key, tuple[float, float]] | None = None

    def know(self, facts: Iterable[tuple[list[int], float, float]]) -> None:
        """Take `facts` (from other releases) as known to the attacker in every audit. A cell
        another release published exactly is public already: it is not audited.

        Cells proven wide under facts at least as strong as these (every one of these implied
        by one of those) stay proven: fewer or wider facts only widen what can be inferred."""
        before = fact_bounds(self.facts)
        self._stash = [
            (b, seen, p) for b, seen, p in self._stash if (b, seen) != (before, self._links_seen)
        ][-(STASH_SIZE - 1) :]
        self._stash.append((before, self._links_seen, self._proven))
        self.facts = list(facts)
        self._public = {tuple(sorted(atoms)) for atoms, low, high in self.facts if low == high}
        now = fact_bounds(self.facts)
        own_links = len(self.links) if self._own is None else self._own[1]
        self._links_seen = hash(
            tuple((tuple(eq.atoms), tuple(eq.coefs)) for eq in self.links[own_links:])
        )
        self._proven = {}
        # every published count of this release above 0 is at least 1 in each of its audits
        # (shown, or hidden and at least 1): a fact it implies is not new
        positive: dict[tuple[int, ...], tuple[float, float]] = {
            tuple(sorted(c.atoms)): (1, math.inf)
            for c in self.cells.values()
            if c.published and c.value > 0 and not self.may_hide_zero(c.key, None)
        }
        for bounds, seen, proven in reversed(self._stash):
            if seen == self._links_seen and implied(now, {**positive, **bounds}):
                self._proven = {
                    scope: [(under, dict(ranges), set(cells)) for under, ranges, cells in entries]
                    for scope, entries in proven.items()
                }
                break

    def own_size(self) -> tuple[int, int]:
        """How many atoms and links are this release's own (others' are imported after)."""
        return self._own if self._own is not None else (len(self.atom_values), len(self.links))

    def import_release(
        self, tag: Hashable, other: LinkedSystem, same: dict[int, int] | None = None
    ) -> list[int]:
        """Another release's own atoms and links as atoms of this system (for a joint
        audit): their indices here, by their index there. `same`: atoms of the other release
        that are one of this release's atoms (an atom whose count did not change, tied to
        ours: one unknown instead of two and an equation, which keeps the programs small);
        a link that becomes one of ours, or empty, is not imported again."""
        if self._own is None:
            self._own = (len(self.atom_values), len(self.links))
            self._imported_names = []
        self._imports.append(tag)
        same = same or {}
        atoms, links = other.own_size()
        mapping = []
        for i in range(atoms):
            if i in same:
                self.atom_index[(tag, i)] = same[i]
                self._imported_names.append((tag, i))
                mapping.append(same[i])
            else:
                mapping.append(self.atom((tag, i), other.atom_values[i]))
                self._imported_names.append((tag, i))
        seen = {equation_key(eq.atoms, eq.coefs) for eq in self.links}
        for eq in other.links[:links]:
            key = equation_key([mapping[a] for a in eq.atoms], eq.coefs)
            if not key or key in seen:
                continue
            seen.add(key)
            self.links.append(
                Equation(
                    [a for a, _ in key],
                    [c for _, c in key],
                    eq.rhs,
                    eq.positive and all(c > 0 for _, c in key),
                )
            )
        return mapping

    def forget_imports(self) -> None:
        """Drop every other release's atoms and links (and the ties to them)."""
        self._imports = []
        if self._own is None:
            return
        atoms, links = self._own
        del self.atom_values[atoms:]
        for name in self._imported_names:
            self.atom_index.pop(name, None)
        self._imported_names = []
        del self.links[links:]
        self._own = None

    def order(self, larger: list[int], smaller: list[int]) -> None:
        """sum(larger) >= sum(smaller) (a count known not to have fallen from one release to
        another), as a link with one more unknown: the difference, at least 0 like every
        atom. Imported with the other releases, forgotten with them."""
        terms = equation_key([*larger, *smaller], [1] * len(larger) + [-1] * len(smaller))
        if not terms:
            return
        assert self._own is not None, "an order links imported releases"
        name = ("order", len(self._imported_names))
        gap = sum(c * self.atom_values[a] for a, c in terms)
        assert gap >= 0, "an order must hold for the true counts"
        slack = self.atom(name, gap)
        self._imported_names.append(name)
        self.links.append(
            Equation([*(a for a, _ in terms), slack], [*(c for _, c in terms), -1], 0, False)
        )

    def unknown(self, name: Hashable, value: int) -> int:
        """An atom that is not this release's own, imported with the other releases and
        forgotten with them (a count of another grouping than this release's)."""
        assert self._own is not None, "imported unknowns follow an imported release"
        index = self.atom(name, value)
        self._imported_names.append(name)
        return index

    def atom(self, name: Hashable, value: int) -> int:
        index = self.atom_index.get(name)
        if index is None:
            index = len(self.atom_values)
            self.atom_index[name] = index
            self.atom_values.append(value)
        return index

    def link(self, parts: Iterable[int], wholes: list[int]) -> None:
        """sum(parts) = sum(wholes)"""
        atoms = list(parts)
        self.links.append(
            Equation([*atoms, *wholes], [1] * len(atoms) + [-1] * len(wholes), 0, False)
        )

    def lines(self) -> Iterable[list[Key]]:
        """Groups of cells of which one is the sum of the others (cheap first check)."""
        return []

    def may_hide_zero(self, key: Key, hidden: set[Key] | None) -> bool:
        """Whether a hidden cell may be 0 to the attacker, under `hidden` (None: under some
        hidden set): then the audit does not take it as at least 1. Here zeros are always
        shown; ReleaseSystem hides the zeros beside a rounded total."""
        return False

    def related(self, key: Key) -> Iterable[Key]:
        """Cells that share an equation with `key` (complementary candidates)."""
        return self.cells[key].related

    def cell(
        self, key: Key, atoms: list[int], published: bool, fixed: bool = False, total: bool = False
    ) -> Cell:
        existing = self.cells.get(key)
        if existing is not None:
            return existing
        value = sum(self.atom_values[a] for a in atoms)
        made = Cell(key, atoms, value, published, fixed or total, total)
        self.cells[key] = made
        return made

    # -- the audit ---------------------------------------------------------------------------

    def audit(
        self, hidden: set[Key], k: int, only: set[Key] | None = None, bare: bool = False
    ) -> dict[Key, tuple[float, float]]:
        """Every sensitive cell (1..k-1, not published) whose feasible interval is narrower than
        k, with that interval, beyond what `allowance` grants. `only` restricts what counts as
        published to those cells. `bare`: as if this release showed nothing at all (no number,
        no "at least 1", no range; every published cell is taken as hidden), what the facts
        from other releases alone narrow; nothing is kept as proven from it."""
        if bare:
            hidden = {c.key for c in self.cells.values() if c.published}
        # in the cells' own order, never a set's (which follows the hash seed): the same
        # caseload must give the same pattern on every run, so that a release can be re-made
        # and checked
        pool = list(self.cells.values())
        if only is not None:
            pool = [c for c in pool if c.key in only]
        shown = [c for c in pool if c.published and c.key not in hidden]
        links, facts = self.links, self.facts
        if only is not None:  # the links among the atoms of the cells considered
            inside = {a for key in only for a in self.cells[key].atoms}
            links = [eq for eq in self.links if all(a in inside for a in eq.atoms)]
            facts = [f for f in self.facts if all(a in inside for a in f[0])]
        equations = list(links) + [
            Equation(c.atoms, [1] * len(c.atoms), c.value, True) for c in shown
        ]
        equations += [
            Equation(atoms, [1] * len(atoms), int(low), True)
            for atoms, low, high in facts
            if low == high
        ]
        known = self._propagate(equations)
        sensitive = [
            c
            for c in pool
            if 0 < c.value < k
            and (not c.published or c.key in hidden)
            and tuple(sorted(c.atoms)) not in self._public
        ]
        scope_key = (k, None if only is None else frozenset(only))
        entries = self._proven.get(scope_key, [])
        proven: set[Key] = set()
        for under, under_ranges, cells in entries:
            # not proven under cells shown now, or under wider ranges (a total rounded more);
            # each entry that holds proves its cells, so together they prove them all
            if under <= hidden and _no_narrower(self.ranges, under_ranges):
                proven |= cells
        sensitive = [c for c in sensitive if c.key not in proven]
        at_least_one = [
            c
            for c in pool
            if c.published
            and c.key in hidden
            and c.value > 0
            and not self.may_hide_zero(c.key, hidden)
            and not bare
        ]
        ranged: list[tuple[list[int], float, float]] = [
            (self.cells[key].atoms, lo, hi)
            for key, (lo, hi) in self.ranges.items()
            if key in hidden and (only is None or key in only) and not bare
        ]
        ranged += [(atoms, low, high) for atoms, low, high in facts if low != high]
        # the lowest and highest value each cell takes at a feasible point seen so far (its
        # true value first): their distance bounds its interval from below
        seen = {c.key: [float(c.value), float(c.value)] for c in sensitive}
        self._pool_spans(sensitive, seen, equations, at_least_one, ranged)
        solver = _Components(self, equations, known, at_least_one, ranged)
        solver.certify([c for c in sensitive if _span(seen, c) < k - 1e-6], k, seen)
        narrow: dict[Key, tuple[float, float]] = {}
        wide: set[Key] = set()
        for c in sensitive:
            if _span(seen, c) < k - 1e-6:
                solver.spans_at_points(c, seen[c.key])
            if _span(seen, c) >= k - 1e-6:
                wide.add(c.key)
                continue
            # every point seen is feasible, so the lowest is at most the lowest seen: a highest
            # value k above that proves the interval wide without the second program
            hi = solver.extreme(c.atoms, highest=True)
            if hi - seen[c.key][0] >= k - 1e-6:
                wide.add(c.key)
                continue
            lo = solver.extreme(c.atoms, highest=False)
            if hi - lo < k - 1e-6:
                narrow[c.key] = (lo, hi)
            else:
                wide.add(c.key)
        if bare:
            return narrow
        if self.allowance is not None:
            allowed = self.allowance
            narrow = {
                key: (lo, hi)
                for key, (lo, hi) in narrow.items()
                if key not in allowed or hi - lo < allowed[key][1] - allowed[key][0] - 1e-6
            }
        under = frozenset(hidden)
        others = [e for e in entries if e[0] != under or e[1] != self.ranges]
        self._proven[scope_key] = [
            *others[-(PROVEN_KEPT - 1) :],
            (under, dict(self.ranges), proven | wide),
        ]
        self._pool_keep(solver)
        return narrow

    def binding(
        self, key: Key, hidden: set[Key], candidates: dict[tuple[int, ...], Key]
    ) -> set[Key]:
        """The candidates (exact facts, named by their sorted atoms) that pin the interval of
        `key`'s cell: those whose rows have a dual value in the highest or the lowest program
        over every constraint an audit of `hidden` uses, unpropagated (so that every fact
        keeps its own row). For a cut that would narrow an earlier release's hidden number
        where no simpler rule finds the cells to hide."""
        rows: list[tuple[list[int], list[float], float, float, Key | None]] = []
        for eq in self.links:
            rhs = float(eq.rhs)
            rows.append((eq.atoms, [float(c) for c in eq.coefs], rhs, rhs, None))
        for c in self.cells.values():
            ones = [1.0] * len(c.atoms)
            if c.published and c.key not in hidden:
                rows.append((c.atoms, ones, float(c.value), float(c.value), None))
            elif c.published and c.value > 0:
                floor = 0 if self.may_hide_zero(c.key, hidden) else 1
                least, most = self.ranges.get(c.key, (floor, highspy.kHighsInf))
                rows.append((c.atoms, ones, float(least), float(most), None))
        for atoms, low, high in self.facts:
            label = candidates.get(tuple(sorted(atoms))) if low == high else None
            top = highspy.kHighsInf if math.isinf(high) else high
            rows.append((atoms, [1.0] * len(atoms), low, top, label))
        n = len(self.atom_values)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, len(rows)
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.full(n, highspy.kHighsInf)
        lp.row_lower_ = np.array([r[2] for r in rows], dtype=np.float64)
        lp.row_upper_ = np.array([r[3] for r in rows], dtype=np.float64)
        matrix = _matrix([r[0] for r in rows], [r[1] for r in rows], n).tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        solver = _Highs()
        solver.setOptionValue("output_flag", False)
        solver.setOptionValue("presolve", "off")
        solver.passModel(lp)
        atoms = self.cells[key].atoms
        solver.changeColsCost(len(atoms), np.array(atoms, dtype=np.int32), np.ones(len(atoms)))
        found: set[Key] = set()
        for sense in (highspy.ObjSense.kMaximize, highspy.ObjSense.kMinimize):
            solver.changeObjectiveSense(sense)
            solver.run()
            if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                continue
            duals = solver.getSolution().row_dual
            found |= {
                r[4]
                for r, dual in zip(rows, duals, strict=True)
                if r[4] is not None and abs(dual) > 1e-7
            }
        return found

    def _pool_space(self) -> tuple[int, tuple[Hashable, ...]]:
        return len(self.atom_values), tuple(self._imports)

    def _pool_spans(
        self,
        cells: list[Cell],
        seen: dict[Key, list[float]],
        equations: list[Equation],
        at_least_one: list[Cell],
        ranged: list[tuple[list[int], float, float]],
    ) -> None:
        """Widen `seen` with the points of the pool that satisfy every constraint of this
        audit (equations, "at least 1", ranges, no negative count). The check is exact
        (integral points, integral data), so a point found under other constraints counts
        only where it holds under these."""
        points = self._pool.get(self._pool_space())
        if not points or not cells:
            return
        n = len(self.atom_values)
        grid = np.stack(points, axis=1).astype(np.float64)
        ok = (grid >= 0).all(axis=0)
        eq = _matrix([e.atoms for e in equations], [e.coefs for e in equations], n)
        rhs = np.array([e.rhs for e in equations], dtype=np.float64)
        ok &= (np.abs(eq @ grid - rhs[:, None]) <= 1e-6).all(axis=0)
        if at_least_one:
            ones = _matrix([c.atoms for c in at_least_one], None, n)
            ok &= ((ones @ grid) >= 1 - 1e-6).all(axis=0)
        if ranged:
            bounded = _matrix([atoms for atoms, _, _ in ranged], None, n) @ grid
            low = np.array([lo for _, lo, _ in ranged], dtype=np.float64)[:, None]
            high = np.array([hi for _, _, hi in ranged], dtype=np.float64)[:, None]
            ok &= ((bounded >= low - 1e-6) & (bounded <= high + 1e-6)).all(axis=0)
        if not ok.any():
            return
        values = _matrix([c.atoms for c in cells], None, n) @ grid[:, ok]
        for c, lowest, highest in zip(cells, values.min(axis=1), values.max(axis=1), strict=True):
            span = seen[c.key]
            span[0] = min(span[0], float(lowest))
            span[1] = max(span[1], float(highest))

    def _pool_keep(self, solver: _Components) -> None:
        """Keep the integral points this audit's programs found, as whole atom vectors (the
        true values outside the component solved), for later audits to re-check."""
        if not solver.found:
            return
        space = self._pool_space()
        pool = self._pool.pop(space, [])
        base = np.asarray(self.atom_values, dtype=np.float32)
        for root, x in solver.found:
            columns, _ = solver._program(root)
            point = base.copy()
            point[np.fromiter(columns.keys(), dtype=np.int64, count=len(columns))] = np.round(
                x[np.fromiter(columns.values(), dtype=np.int64, count=len(columns))]
            )
            pool.append(point)
        self._pool[space] = pool[-POOL_POINTS:]
        while len(self._pool) > POOL_SPACES:
            del self._pool[next(iter(self._pool))]

    def _propagate(self, equations: list[Equation]) -> dict[int, float]:
        """Solve every equation left with one unknown, and zero cells, until none is left."""
        known: dict[int, float] = {}
        by_atom: dict[int, list[int]] = defaultdict(list)
        unknown = []
        residual = []
        for e, eq in enumerate(equations):
            for a in eq.atoms:
                by_atom[a].append(e)
            unknown.append(len(eq.atoms))
            residual.append(float(eq.rhs))
        queue = [
            e for e, eq in enumerate(equations) if unknown[e] == 1 or (eq.positive and eq.rhs == 0)
        ]

        def settle(atom: int, value: float) -> None:
            known[atom] = value
            for e2 in by_atom[atom]:
                eq2 = equations[e2]
                coef = eq2.coefs[eq2.atoms.index(atom)]
                residual[e2] -= coef * value
                unknown[e2] -= 1
                if unknown[e2] == 1 or (eq2.positive and abs(residual[e2]) < 1e-9 and unknown[e2]):
                    queue.append(e2)

        while queue:
            e = queue.pop()
            eq = equations[e]
            if unknown[e] == 0:
                continue
            open_atoms = [(a, c) for a, c in zip(eq.atoms, eq.coefs, strict=True) if a not in known]
            if len(open_atoms) == 1:
                atom, coef = open_atoms[0]
                settle(atom, residual[e] / coef)
            elif eq.positive and abs(residual[e]) < 1e-9:
                for atom, _ in open_atoms:
                    if atom not in known:
                        settle(atom, 0.0)
        return known


class _Components:
    """The equations still open after propagation, split into independent linear programs."""

    def __init__(
        self,
        system: LinkedSystem,
        equations: list[Equation],
        known: dict[int, float],
        at_least_one: list[Cell],
        ranged: Sequence[tuple[list[int], float, float]] = (),
    ) -> None:
        self.known = known
        self.system_values = system.atom_values
        parent: dict[int, int] = {}

        def find(a: int) -> int:
            parent.setdefault(a, a)
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        def union(atoms: list[int]) -> None:
            if not atoms:
                return
            root = find(atoms[0])
            for a in atoms[1:]:
                other = find(a)
                if other != root:
                    parent[other] = root

        self.open_eqs: list[tuple[list[int], list[int], float]] = []
        for eq in equations:
            free = [(a, c) for a, c in zip(eq.atoms, eq.coefs, strict=True) if a not in known]
            if not free:
                continue
            rhs = eq.rhs - sum(
                c * known[a] for a, c in zip(eq.atoms, eq.coefs, strict=True) if a in known
            )
            self.open_eqs.append(([a for a, _ in free], [c for _, c in free], rhs))
            union([a for a, _ in free])
        self.open_ub: list[tuple[list[int], float, float]] = []  # lower <= sum(atoms) <= upper
        for cell in at_least_one:
            unknown_atoms = [a for a in cell.atoms if a not in known]
            if not unknown_atoms:
                continue
            need = 1.0 - sum(known[a] for a in cell.atoms if a in known)
            if need > 0:
                self.open_ub.append((unknown_atoms, need, highspy.kHighsInf))
                union(unknown_atoms)
        for atoms, lo, hi in ranged:  # a hidden cell published as a range
            unknown_atoms = [a for a in atoms if a not in known]
            if not unknown_atoms:
                continue
            settled = sum(known[a] for a in atoms if a in known)
            self.open_ub.append((unknown_atoms, lo - settled, hi - settled))
            union(unknown_atoms)
        self.find = find
        self._programs: dict[int, tuple[dict[int, int], _Highs | None]] = {}
        # integral optima of earlier programs, per component: feasible points that may already
        # move another cell k away from its true value (which then needs no program)
        self._points: dict[int, list[np.ndarray]] = defaultdict(list)
        # the last integral optima, for the pool of the system
        self.found: deque[tuple[int, np.ndarray]] = deque(maxlen=POOL_POINTS)

    def _program(self, root: int) -> tuple[dict[int, int], _Highs | None]:
        cached = self._programs.get(root)
        if cached is not None:
            return cached
        eqs = [e for e in self.open_eqs if self.find(e[0][0]) == root]
        ubs = [u for u in self.open_ub if self.find(u[0][0]) == root]
        columns: dict[int, int] = {}
        rows: list[tuple[list[int], list[float], float, float]] = []
        for atoms, coefs, rhs in eqs:
            rows.append((atoms, [float(c) for c in coefs], rhs, rhs))
        for atoms, lower, upper in ubs:
            rows.append((atoms, [1.0] * len(atoms), lower, upper))
        entries: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for r, (row_atoms, row_coefs, _, _) in enumerate(rows):
            for a, coef in zip(row_atoms, row_coefs, strict=True):
                col = columns.setdefault(a, len(columns))
                entries[col].append((r, coef))
        if not columns:
            self._programs[root] = (columns, None)
            return columns, None
        n = len(columns)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = len(rows)
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.full(n, highspy.kHighsInf)
        lp.row_lower_ = np.array([r[2] for r in rows])
        lp.row_upper_ = np.array([r[3] for r in rows])
        starts: list[int] = [0]
        index: list[int] = []
        value: list[float] = []
        for col in range(n):
            for r, coef in entries[col]:
                index.append(r)
                value.append(coef)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts)
        lp.a_matrix_.index_ = np.array(index)
        lp.a_matrix_.value_ = np.array(value)
        solver = _Highs()
        solver.setOptionValue("output_flag", False)
        solver.setOptionValue("presolve", "off")  # keep the basis between objectives
        solver.setOptionValue("solver", "simplex")
        # primal simplex: every program of a component changes only the objective, so the last
        # optimal basis stays feasible and primal simplex starts from it (the dual simplex
        # HiGHS chooses otherwise took 5 to 16 times longer on a joint audit's programs)
        solver.setOptionValue("simplex_strategy", 4)
        solver.passModel(lp)
        self._programs[root] = (columns, solver)
        return columns, solver

    def certify(self, cells: list[Cell], k: int, seen: dict[Key, list[float]]) -> None:
        """Widen `seen` with a few feasible integral points, optimal for random objectives
        over all the cells given, solved once for many cells: a cell whose values at two
        feasible points (its true value among them) lie k apart needs no program of its own."""
        by_root: dict[int, list[Cell]] = defaultdict(list)
        for c in cells:
            roots = {self.find(a) for a in c.atoms if a not in self.known}
            if len(roots) == 1:
                by_root[roots.pop()].append(c)
        rng = np.random.default_rng(0)
        for root, members in by_root.items():
            if len(members) < CERTIFY_LEAST:
                continue  # a few cells: their own programs cost less than random objectives
            columns, solver = self._program(root)
            if solver is None:
                continue
            todo = list(members)
            for attempt in range(8):
                if not todo:
                    break
                weights = np.zeros(len(columns))
                for c in todo:
                    sign = (
                        1.0 if attempt == 0 else -1.0 if attempt == 1 else rng.choice([-1.0, 1.0])
                    )
                    for a in c.atoms:
                        if a in columns:
                            weights[columns[a]] += sign
                solver.changeColsCost(
                    len(columns), np.arange(len(columns), dtype=np.int32), weights
                )
                solver.changeObjectiveSense(highspy.ObjSense.kMaximize)
                solver.run()
                if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    continue
                x = np.asarray(solver.getSolution().col_value)
                if np.max(np.abs(x - np.round(x)), initial=0.0) > 1e-6:
                    continue  # only integral points count (an integer attacker sees those)
                self.found.append((root, x))
                left = []
                for c in todo:
                    at = self._value_at(c, columns, x)
                    span = seen[c.key]
                    span[0], span[1] = min(span[0], at), max(span[1], at)
                    if span[1] - span[0] < k - 1e-6:
                        left.append(c)
                if attempt >= 1 and len(left) == len(todo):
                    break  # the cells left are narrow, or need their own programs
                todo = left
            solver.changeColsCost(
                len(columns), np.arange(len(columns), dtype=np.int32), np.zeros(len(columns))
            )

    def _value_at(self, cell: Cell, columns: dict[int, int], x: np.ndarray) -> float:
        """The cell's value at a point of its component (its other atoms known or true)."""
        return float(
            sum(
                x[columns[a]] if a in columns else self.known.get(a, float(self.system_values[a]))
                for a in cell.atoms
            )
        )

    def spans_at_points(self, cell: Cell, span: list[float]) -> None:
        """Widen `span` with the cell's values at the feasible integral points found earlier
        in this audit, when all its unknown atoms lie in one component."""
        free = [a for a in cell.atoms if a not in self.known]
        roots = {self.find(a) for a in free}
        if len(roots) != 1:
            return
        root = roots.pop()
        points = self._points.get(root)
        if not points:
            return
        columns, _ = self._program(root)
        if any(a not in columns for a in free):
            return
        for x in points:
            at = self._value_at(cell, columns, x)
            span[0], span[1] = min(span[0], at), max(span[1], at)

    def interval(self, atoms: list[int]) -> tuple[float, float]:
        """The lowest and highest value the sum of `atoms` can take."""
        return self.extreme(atoms, highest=False), self.extreme(atoms, highest=True)

    def extreme(self, atoms: list[int], highest: bool) -> float:
        """The lowest (or highest) value the sum of `atoms` can take."""
        total = sum(self.known[a] for a in atoms if a in self.known)
        groups: dict[int, list[int]] = defaultdict(list)
        for a in atoms:
            if a not in self.known:
                groups[self.find(a)].append(a)
        sense = highspy.ObjSense.kMaximize if highest else highspy.ObjSense.kMinimize
        for root, members in groups.items():
            columns, solver = self._program(root)
            if solver is None or any(a not in columns for a in members):
                if highest:  # an atom under no equation: nothing bounds it
                    return math.inf
                continue
            cols = np.array(sorted({columns[a] for a in members}), dtype=np.int32)
            solver.changeColsCost(len(cols), cols, np.ones(len(cols)))
            solver.changeObjectiveSense(sense)
            solver.run()
            ok = solver.getModelStatus() == highspy.HighsModelStatus.kOptimal
            found = solver.getInfo().objective_function_value if ok else None
            solver.changeColsCost(len(cols), cols, np.zeros(len(cols)))
            if ok:
                x = np.asarray(solver.getSolution().col_value)
                if np.max(np.abs(x - np.round(x)), initial=0.0) <= 1e-6:
                    self.found.append((root, x))
                    points = self._points[root]
                    points.append(x)
                    if len(points) > 16:
                        points.pop(0)
            if found is None:
                if highest:
                    return math.inf
                continue
            total += found
        return total


def protect(
    system: LinkedSystem,
    k: int,
    start: Iterable[Key] = (),
    only: set[Key] | None = None,
    strict: bool = False,
) -> set[Key]:
    """The hidden cells: primary (1..k-1), then complementary ones until the audit passes.
    `start` is a pattern to keep (a larger k never shows what the release hides). `strict`
    raises UnprotectableError when hiding everything that may be hidden still fails the audit
    (the grand total is always shown, so a small caseload cannot be protected at a large k)."""

    def candidate(c: Cell, last_resort: bool = False) -> bool:
        return (
            c.published
            and c.key not in hidden
            and c.value > 0
            and not (c.fixed and c.value >= k and not (last_resort and not c.total))
            and (only is None or c.key in only)
        )

    hidden = set(start)
    hidden |= {
        c.key
        for c in system.cells.values()
        if c.published and 0 < c.value < k and (only is None or c.key in only)
    }
    lines = [line for line in system.lines() if only is None or all(key in only for key in line)]
    while True:
        while _line_rule(lines, system, hidden, k, candidate):
            pass
        narrow = system.audit(hidden, k, only)
        if not narrow:
            return hidden
        added = False
        for key in narrow:
            near = list(system.related(key))
            options = [system.cells[r] for r in near if candidate(system.cells[r])]
            if not options:  # two steps away
                further = {r2 for r in near for r2 in system.related(r)}
                options = [system.cells[r2] for r2 in further if candidate(system.cells[r2])]
            if not options:  # a group margin, before giving up
                options = [system.cells[r] for r in near if candidate(system.cells[r], True)]
            if options:
                pick = min(options, key=lambda c: (c.value, str(c.key)))
                hidden.add(pick.key)
                added = True
        if not added:  # nothing near is left to hide: hide the other inner cells, and the
            # margins (the coarser one-way tables) only when that is not enough either
            pool = system.cells.values() if only is None else [system.cells[x] for x in only]
            more = {c.key for c in pool if candidate(c)} or {
                c.key for c in pool if candidate(c, True)
            }
            if not more:
                if strict:
                    raise UnprotectableError(k)
                return hidden
            hidden |= more


def equation_key(atoms: Iterable[int], coefs: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """An equation's terms with the coefficients of each atom added up and zeros dropped, in
    atom order: equal for two ways of writing one equation."""
    total: dict[int, int] = defaultdict(int)
    for a, c in zip(atoms, coefs, strict=True):
        total[a] += c
    return tuple(sorted((a, c) for a, c in total.items() if c != 0))


def _span(seen: dict[Key, list[float]], cell: Cell) -> float:
    low, high = seen[cell.key]
    return high - low


def _matrix(
    rows: list[list[int]], coefs: Sequence[Sequence[float]] | None, width: int
) -> sparse.csr_matrix:
    """Rows of atom sums (coefficients 1 unless given) as a sparse matrix over `width` atoms."""
    index = [a for row in rows for a in row]
    lines = [r for r, row in enumerate(rows) for _ in row]
    values = [float(c) for row in coefs for c in row] if coefs is not None else [1.0] * len(index)
    return sparse.csr_matrix((values, (lines, index)), shape=(len(rows), width))


def _no_narrower(ranges: dict[Key, tuple[int, int]], before: dict[Key, tuple[int, int]]) -> bool:
    """Whether `ranges` tell an attacker nothing that `before` did not: each range was there
    before and holds the range it was then."""
    for key, (lo, hi) in ranges.items():
        old = before.get(key)
        if old is None or lo > old[0] or hi < old[1]:
            return False
    return True


def _line_rule(
    lines: list[list[Key]],
    system: LinkedSystem,
    hidden: set[Key],
    k: int,
    candidate: Callable[[Cell], bool],
) -> bool:
    """No line may leave a sensitive cell as its only unknown: hide its smallest other cell."""
    changed = False
    for line in lines:
        unknown = [
            system.cells[key] for key in line if key in hidden or not system.cells[key].published
        ]
        if len(unknown) == 1 and 0 < unknown[0].value < k:
            options = [system.cells[key] for key in line if candidate(system.cells[key])]
            if options:
                hidden.add(min(options, key=lambda c: (c.value, str(c.key))).key)
                changed = True
    return changed
