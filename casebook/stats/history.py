"""Releases protected against each other, not one at a time.

Every release stays readable, so an attacker holds all of them. Between two releases most
numbers do not change, and one that did not change is known in both: a number an earlier
release published exactly, and a later release hides, can narrow a small number of the later
one (a month of 11 cases published in March; in June the same month hidden, with its verified
cases: the verified cases are between 1 and 11); and a later release can narrow what an earlier
one hid the same way. The attacker cannot tell which numbers changed, but may guess right; the
audit assumes it always does: a number another release published holds in this release's
audit wherever its value is the same in this release's counts (exactly, or the rounded range
of a total, or "at least 1" for a hidden cell).

Cutting a release therefore (1) audits it with the earlier releases' numbers that still hold,
and (2) audits every earlier release again with the new release's numbers that hold for it
(and the other releases'); where the new release narrows a number an earlier release hid
further than the attacker's right guesses about its counts do with nothing of it shown
(`_guessed_alone`: those counts exist whether or not it is published), more of the new
release is hidden, and both audits run again. A number an earlier release
published exactly is public: it is not audited (it happens only when k was raised since).

A number that changed is not tied, but the way it moved is known to the audit (a count
that rose is no less than before: `LinkedSystem.order`): an attacker who takes counts never
to fall is right wherever they did not, and a published number that grew by less than k then
bounds how much each of its hidden parts grew. The audit does not model an attacker who
bounds how much a number changed by the release's count of changes (at least
CASEBOOK_RELEASE_MIN_CHANGES).

Hidden numbers link releases too: a hidden number, or a sum of hidden numbers, that stayed
the same is one unknown in both releases to an attacker who guesses so (an outside attack
recovered hidden numbers exactly that way from a version that carried over only shown
numbers). So each audit is joint (`audit_with`): the other releases' atoms and links are
imported, what they show is known, and each of their cells whose count is unchanged is tied
to this release's atoms for the same categories; so is every unchanged two-way sum over the
join of the two releases' groupings (`_join_meanings`), which neither may show as one number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from casebook.stats.protect import SCOPE_FLAGS, Equation, Key, UnprotectableError, equation_key
from casebook.stats.queries import BASE, pairs
from casebook.stats.tables import VERIFIED_TOTAL, Meaning, ReleaseSystem

Fact = tuple[Meaning, float, float]  # what a release showed: low <= count <= high
MAX_ROUNDS = 12
NEW_RELEASE = 0  # the tag of the release being cut among the releases another is audited with


class NarrowsEarlierError(UnprotectableError):
    """Every cell of the new release that could be hidden is hidden, and it still narrows
    what an earlier release hides."""


@dataclass
class Earlier:
    """An earlier release as the attacker holds it: its counts (the operator's truth, to
    check which of its numbers still hold), what it hides, and its k."""

    number: int
    k: int
    system: ReleaseSystem
    hidden: set[Key]
    _facts: list[Fact] | None = None
    # what it is narrowed to with the new release's counts as unknowns and nothing it shows
    _baseline: dict[Key, tuple[float, float]] | None = None

    def reset(self) -> None:
        """Forget what was learnt against one candidate release (before trying another)."""
        self._baseline = None
        self.system.forget_imports()
        self.system.know([])

    def shown(self) -> Shown:
        return (self.number, self.system, self.hidden, self.system.ranges)

    def facts(self) -> list[Fact]:
        if self._facts is None:
            self._facts = published_facts(self.system, self.hidden)
        return self._facts


def published_facts(system: ReleaseSystem, hidden: set[Key]) -> list[Fact]:
    """Everything a release tells about its counts: numbers shown, a total's rounded range,
    and "at least 1" for a hidden cell (zeros are shown, except beside a rounded total)."""
    out: list[Fact] = []
    for key, cell in system.cells.items():
        meaning = system.meanings.get(key)
        if meaning is None or not cell.published:
            continue
        value = system.shown(key, hidden)
        if value is not None:
            out.append((meaning, value, value))
        elif key in system.ranges:
            low, high = system.ranges[key]
            out.append((meaning, low, high))
        elif key in hidden and f"{meaning[0]}|total" not in hidden:
            out.append((meaning, 1, math.inf))
    return out


def facts_holding(
    system: ReleaseSystem, facts: Iterable[Fact]
) -> list[tuple[list[int], float, float]]:
    """The facts this release can express that hold in its own counts, as atom sums (one per
    set of atoms: an exact number wins over a range)."""
    kept: dict[tuple[int, ...], tuple[list[int], float, float]] = {}
    for meaning, low, high in facts:
        atoms = system.atoms_for(meaning)
        if atoms is None:
            continue
        value = sum(system.atom_values[a] for a in atoms)
        if not low <= value <= high:
            continue  # changed since: a guess that it did not would be wrong
        if low <= 1 and math.isinf(high):
            own = system.cell_of(atoms)
            if (
                own is not None
                and system.cells[own].published
                and system.cells[own].value > 0
                and not system.may_hide_zero(own, None)
            ):
                # "at least 1" of a count this release publishes itself (its audit takes a
                # hidden one as at least 1): nothing new, and kept out so that a later
                # round's facts stay comparable with an earlier's (see LinkedSystem.know)
                continue
        key = tuple(sorted(atoms))
        held = kept.get(key)
        if held is None or high - low < held[2] - held[1]:
            kept[key] = (atoms, low, high)
    return list(kept.values())


Shown = tuple[int, ReleaseSystem, set[Key], dict[Key, tuple[int, int]]]  # a release, as held


def audit_with(
    system: ReleaseSystem,
    others: list[Shown],
    facts: list[tuple[list[int], float, float]],
    own_hidden: set[Key] | None = None,
    unpublished: int | None = None,
) -> None:
    """Set `system` up to be audited jointly with `others` (number, system, hidden set,
    rounded ranges): each other release's atoms and links imported, what it shows known
    (its numbers, its ranges, "at least 1" for a hidden cell), and every cell of it —
    published or hidden, in any scope — whose count is the same in this release tied to this
    release's atoms for it. The ties are the attacker's right guesses of which numbers did not
    change, hidden ones included: a hidden sum unchanged between two releases is one unknown
    in both. `facts`: the other releases' shown numbers over this release's own atoms (which
    also make a cell another release showed exactly public here).

    A count that changed is not tied; but where one release is known to hold it as 0 (shown
    as 0, or worked out: see _zero_known), the attacker who guesses right that it changed
    knows the other release's count to be at least 1. `own_hidden`: this release's hidden
    set, where known (not while the new release is being protected: then only its zeros that
    need no hidden set to be known count). `unpublished`: the number of a release among
    `others` imported as its counts only, with nothing it shows (no number, range, "at least
    1" or zero of it known): what the attacker's right guesses about those counts alone
    tell."""
    system.forget_imports()
    imported: list[tuple[list[int], float, float]] = []
    ties: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[list[int], list[int]]] = {}
    orders: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[list[int], list[int]]] = {}
    # the other releases imported so far, with their indices here and their hidden sets
    done: list[tuple[ReleaseSystem, list[int], set[Key]]] = []
    for number, other, hidden, ranges in others:
        same = _same_atoms(system, other, [(o, m) for o, m, _ in done])
        mapping = system.import_release(("release", number), other, same)
        for key, cell in other.cells.items():
            theirs = [mapping[a] for a in cell.atoms]
            silent = number == unpublished
            value = other.shown(key, hidden) if cell.published and not silent else None
            if cell.published and not silent:
                if value is not None:
                    imported.append((theirs, value, value))
                elif key in ranges:
                    imported.append((theirs, *ranges[key]))
                elif key in hidden and cell.value > 0 and not other.may_hide_zero(key, hidden):
                    imported.append((theirs, 1, math.inf))
            meaning = other.meanings.get(key)
            if meaning is None:
                continue
            # tied to this release, and to each other release imported before it (the
            # attacker ties every pair: a number that changed since this release, and not
            # between those two, is one unknown in both)
            for held, held_mapping, held_hidden in [(system, None, own_hidden), *done]:
                atoms = held.atoms_for(meaning)
                if atoms is None or any(a >= held.own_size()[0] for a in atoms):
                    continue
                ours = atoms if held_mapping is None else [held_mapping[a] for a in atoms]
                held_value = sum(held.atom_values[a] for a in atoms)
                if held_value != cell.value:
                    # changed: a guess that it did not would be wrong; the right guess that
                    # it did tells that a number one release is known to hold as 0 is at
                    # least 1 in the other (a case added, or one removed since). And which
                    # way it moved: cases are mostly added and rarely removed, so an
                    # attacker may take every published count never to fall (or, between
                    # releases that only removed cases, never to rise) and is right wherever
                    # it did not move the other way; the audit takes every right guess, over
                    # the counts releases publish (all and verified cases)
                    if not silent and (value == 0 or _zero_known(other, meaning, hidden)):
                        imported.append((ours, 1, math.inf))
                    if _zero_known(held, meaning, held_hidden):
                        imported.append((theirs, 1, math.inf))
                    if cell.published:
                        rose = held_value > cell.value
                        orders.setdefault(
                            (tuple(sorted(ours)), tuple(sorted(theirs))),
                            (ours, theirs) if rose else (theirs, ours),
                        )
                    continue
                ties.setdefault((tuple(sorted(ours)), tuple(sorted(theirs))), (ours, theirs))
        for held, held_mapping, _ in [(system, None, own_hidden), *done]:
            # sums over categories the two releases group differently: each block of the
            # join of both groupings is a union of groups in either, so expressible in both
            for meaning in _join_meanings(held, other):
                atoms, their_atoms = held.atoms_for(meaning), other.atoms_for(meaning)
                if atoms is None or their_atoms is None:
                    continue
                if any(a >= held.own_size()[0] for a in atoms) or any(
                    a >= other.own_size()[0] for a in their_atoms
                ):
                    continue
                if sum(held.atom_values[a] for a in atoms) != sum(
                    other.atom_values[a] for a in their_atoms
                ):
                    continue
                ours = atoms if held_mapping is None else [held_mapping[a] for a in atoms]
                theirs = [mapping[a] for a in their_atoms]
                ties.setdefault((tuple(sorted(ours)), tuple(sorted(theirs))), (ours, theirs))
        done.append((other, mapping, hidden))
    for ours, theirs in ties.values():
        # as one sum of terms: atoms both sides share (see _same_atoms) cancel out
        terms = equation_key([*ours, *theirs], [1] * len(ours) + [-1] * len(theirs))
        if terms:
            system.links.append(Equation([a for a, _ in terms], [c for _, c in terms], 0, False))
    for larger, smaller in orders.values():
        system.order(larger, smaller)
    system.know(list(facts) + imported)


def _join_meanings(one: ReleaseSystem, other: ReleaseSystem) -> list[Meaning]:
    """What two releases that group a dimension differently can both count and neither
    shows as one cell: for every two-way table, each pair of blocks of the join of the two
    releases' groupings (the smallest unions of groups that are unions of groups in both:
    one release's {a, b} and {c} against the other's {a} and {b, c} join to {a, b, c}),
    where either block is not one group of both; in every scope. An attacker who guesses
    such a sum did not change ties it across the releases like any cell."""
    blocks: dict[str, list[tuple[frozenset[str], bool]]] = {}
    for dim in BASE:
        mine = [frozenset(m) for _, m in one.counts.groups.get(dim, [])]
        theirs = [frozenset(m) for _, m in other.counts.groups.get(dim, [])]
        blocks[dim] = [(b, b in mine and b in theirs) for b in _join(mine, theirs)]
    out: list[Meaning] = []
    for da, db in pairs():
        if all(same for _, same in blocks[da]) and all(same for _, same in blocks[db]):
            continue
        for block_a, same_a in blocks[da]:
            for block_b, same_b in blocks[db]:
                if same_a and same_b:
                    continue
                parts = ((da, block_a), (db, block_b))
                out += [(scope, parts) for scope in SCOPE_FLAGS]
    return out


def _join(mine: list[frozenset[str]], theirs: list[frozenset[str]]) -> list[frozenset[str]]:
    """The blocks of the finest partition both groupings refine (categories only one
    release has are left out: no sum over them is expressible in both)."""
    both = set().union(*mine) & set().union(*theirs) if mine and theirs else set()
    blocks: list[set[str]] = []
    for group in [*mine, *theirs]:
        merged = set(group)
        for block in [b for b in blocks if b & merged]:
            merged |= block
            blocks.remove(block)
        blocks.append(merged)
    return [frozenset(b) for b in blocks if b <= both]


def _zero_known(release: ReleaseSystem, meaning: Meaning, hidden: set[Key] | None) -> bool:
    """Whether the attacker knows `release` to count 0 for `meaning`: it shows 0 (`hidden`
    known), or the same categories among all cases are 0 (zeros of all cases are always
    shown, and verified <= all), or it is a group's count (0 or at least k: a group's "—"
    beside a rounded total reads as 0)."""
    atoms = release.atoms_for(meaning)
    if atoms is None or any(a >= release.own_size()[0] for a in atoms):
        return False
    if sum(release.atom_values[a] for a in atoms) != 0:
        return False
    own = release.cell_of(atoms)
    if own is not None and release.cells[own].fixed:
        return True
    if hidden is not None and own is not None and release.shown(own, hidden) == 0:
        return True
    everyone = release.atoms_for(("all", meaning[1]))
    return everyone is not None and sum(release.atom_values[a] for a in everyone) == 0


def _same_atoms(
    system: ReleaseSystem, other: ReleaseSystem, done: list[tuple[ReleaseSystem, list[int]]]
) -> dict[int, int]:
    """Atoms of `other` whose count is the same as this release's atom for the same
    categories, or else as the atom of another release imported before it (`done`: each
    with its atoms' indices here): the tie of their one-atom cells (a count that did not
    change), written as one unknown shared by both releases rather than two and an
    equation."""
    own_atoms, _ = other.own_size()
    same: dict[int, int] = {}
    for key, cell in other.cells.items():
        if len(cell.atoms) != 1 or cell.atoms[0] >= own_atoms:
            continue
        meaning = other.meanings.get(key)
        if meaning is None:
            continue
        for held, held_mapping in [(system, None), *done]:
            atoms = held.atoms_for(meaning)
            if atoms is None or len(atoms) != 1 or atoms[0] >= held.own_size()[0]:
                continue
            if held.atom_values[atoms[0]] == other.atom_values[cell.atoms[0]]:
                same[cell.atoms[0]] = atoms[0] if held_mapping is None else held_mapping[atoms[0]]
                break
    return same


def protect_against_earlier(
    system: ReleaseSystem,
    k: int,
    earlier: list[Earlier],
    protect: Callable[..., set[Key]],
    strict: bool = True,
) -> set[Key]:
    """The new release's hidden set: protected (by `protect`, tables.protect_release) with
    the earlier releases' numbers known, and hiding more until no earlier release's hidden
    number is narrowed further by it (see the module docstring). UnprotectableError when no
    pattern does."""
    audit_with(
        system,
        [e.shown() for e in earlier],
        facts_holding(system, [f for e in earlier for f in e.facts()]),
    )
    hidden = protect(system, k, start=still_hidden(system, k, earlier), strict=strict)
    width = 0  # the verified total's least rounding width, widened as a last resort
    for _ in range(MAX_ROUNDS):
        widen: int | None = None
        ours = published_facts(system, hidden)
        new: Shown = (NEW_RELEASE, system, hidden, system.ranges)
        more: set[Key] = set()
        for e in earlier:
            others = [o for o in earlier if o is not e]
            shown = [f for o in others for f in o.facts()]
            joint = ([o.shown() for o in others] + [new], facts_holding(e.system, shown + ours))
            audit_with(e.system, *joint, e.hidden)
            narrow = e.system.audit(e.hidden, e.k)
            if not narrow:
                continue
            if e._baseline is None:
                e._baseline = _guessed_alone(e, joint, shown)
            for key, (low, high) in narrow.items():
                if not _narrower((low, high), e._baseline.get(key)):
                    continue  # what guesses about the counts of the day give, shown or not
                found = _to_hide(system, hidden, e, key)
                if not found and VERIFIED_TOTAL in system.cells:
                    # the last resort: the verified total as a rounded range, wider each
                    # round, which widens how far every verified number can have moved since
                    if VERIFIED_TOTAL not in hidden:
                        found = {VERIFIED_TOTAL}
                    elif widen is None:
                        lo, hi = system.ranges[VERIFIED_TOTAL]
                        if lo > 0 or hi < system.cells["all|total"].value:
                            widen = 2 * (hi - lo + 1)
                if not found and widen is None:  # nothing left to hide: it cannot be cut
                    raise NarrowsEarlierError(k)
                more |= found
        if not more and widen is None:
            return hidden
        if widen is not None:
            width = widen
        hidden = protect(system, k, start=hidden | more, strict=strict, least_width=width)
    raise NarrowsEarlierError(k)


def _guessed_alone(
    e: Earlier,
    joint: tuple[list[Shown], list[tuple[list[int], float, float]]],
    shown: list[Fact],
) -> dict[Key, tuple[float, float]]:
    """What the earlier release's hidden numbers are narrowed to with the other releases and
    the new release's counts as unknowns, nothing of it shown: the attacker's right guesses
    about the counts of the day alone (tied to an earlier release's where unchanged, ordered
    where they moved). Those counts exist whether or not a release is cut, so what guesses
    about them narrow is narrowed whatever is published, and refusing the cut would take
    none of it from the attacker; a cut is answerable only for what its shown numbers narrow
    beyond it. (Auditing against the other releases alone refused a third cut of 1,000 cases
    after 16 minutes for a number guesses narrowed with nothing of the cut shown,
    bench/README.md.) Leaves the earlier release audited with the new one imported, as
    _to_hide needs it (_pinning asks that audit's programs which cells pin a number)."""
    others, _ = joint
    audit_with(e.system, others, facts_holding(e.system, shown), e.hidden, NEW_RELEASE)
    alone = e.system.audit(e.hidden, e.k)
    audit_with(e.system, *joint, e.hidden)
    return alone


def _narrower(interval: tuple[float, float], before: tuple[float, float] | None) -> bool:
    """Whether a narrowed number's interval is narrower than `before`, what guesses alone
    narrow it to (None: they do not narrow it)."""
    return before is None or interval[1] - interval[0] < before[1] - before[0] - 1e-6


def still_hidden(system: ReleaseSystem, k: int, earlier: list[Earlier]) -> set[Key]:
    """Cells of the new release whose number an earlier release hid and which moved by less
    than k since: they stay hidden. Shown, a number that moved a little bounds the hidden one
    to an attacker who guesses which way it moved (cases are added, rarely removed: an outside
    attack read a count hidden at 10 as at most the 11 shown a release later, and a hidden
    sum of governorates as at least the earlier sum less the later one); moved by k or more,
    the bound it gives is at least k wide. The audit knows which way every number moved, so
    it would hide the cells beside such a number instead; keeping the pattern across
    releases, as statistics offices do, costs fewer cells (without it, auditing with the
    directions hid every table of a second release of a few hundred cases)."""
    out: set[Key] = set()
    for e in earlier:
        for key in e.hidden:
            theirs = e.system.cells.get(key)
            meaning = e.system.meanings.get(key)
            if theirs is None or meaning is None or not theirs.published or theirs.total:
                continue
            atoms = system.atoms_for(meaning)
            ours = system.cell_of(atoms) if atoms is not None else None
            if ours is None:
                continue
            cell = system.cells[ours]
            if cell.total or cell.fixed or not cell.published or cell.value == 0:
                continue  # a zero is shown (the audit takes a hidden number as at least 1)
            if abs(cell.value - theirs.value) < k:
                out.add(ours)
    return out


def _to_hide(system: ReleaseSystem, hidden: set[Key], e: Earlier, narrowed: Key) -> set[Key]:
    """Cells of the new release that tell the attacker something about the earlier release's
    `narrowed` number which the earlier release itself hides: its row and column mates and
    margins first, then theirs, then every such cell."""

    def telling(keys: Iterable[Key]) -> set[Key]:
        out: set[Key] = set()
        for key in keys:
            cell = e.system.cells.get(key)
            meaning = e.system.meanings.get(key)
            if cell is None or meaning is None or e.system.shown(key, e.hidden) is not None:
                continue  # the earlier release shows it itself: hiding it now changes nothing
            atoms = system.atoms_for(meaning)
            ours = system.cell_of(atoms) if atoms is not None else None
            if ours is None or ours in hidden or system.cells[ours].total:
                continue
            if system.shown(ours, hidden) == cell.value:
                out.add(ours)
        return out

    def beside(keys: Iterable[Key], margins: bool) -> set[Key]:
        """The new release's shown cells in the lines of its cells for `keys`: where the
        narrowing runs through a hidden number both releases share (tied), the new release's
        own row and column mates of it are what pin it, whatever their values."""
        out: set[Key] = set()
        for key in keys:
            meaning = e.system.meanings.get(key)
            atoms = system.atoms_for(meaning) if meaning is not None else None
            ours = system.cell_of(atoms) if atoms is not None else None
            if ours is None:
                continue
            for mate in [ours, *system.related(ours)]:
                cell = system.cells[mate]
                if mate in hidden or cell.total or not cell.published or cell.value == 0:
                    continue
                if cell.fixed and not margins:
                    continue
                if system.shown(mate, hidden) is not None:
                    out.add(mate)
        return out

    near = [narrowed, *e.system.related(narrowed)]
    found = telling(near)
    if not found:
        found = beside(near, margins=False)
    if not found:
        found = telling({r2 for r in near for r2 in e.system.related(r)})
    if not found:
        found = beside(near, margins=True)
    if not found:
        found = telling(e.system.cells)
    if not found:
        found = _pinning(system, hidden, e, narrowed)
    return found


def _pinning(system: ReleaseSystem, hidden: set[Key], e: Earlier, narrowed: Key) -> set[Key]:
    """The new release's shown cells whose numbers pin the earlier release's `narrowed`
    number (a dual value in the programs that bound it): where the narrowing runs through
    hidden numbers both releases share, the cells that close it may lie anywhere. Needs the
    earlier release audited with the new one imported (as protect_against_earlier leaves it)."""
    tag = ("release", NEW_RELEASE)
    candidates: dict[tuple[int, ...], Key] = {}
    for key, cell in system.cells.items():
        if key in hidden or not cell.published or cell.total or cell.value == 0:
            continue
        if system.shown(key, hidden) is None:
            continue
        theirs = [e.system.atom_index.get((tag, a)) for a in cell.atoms]
        if any(a is None for a in theirs):
            return set()  # the new release is not imported: nothing to ask
        candidates[tuple(sorted(a for a in theirs if a is not None))] = key
        meaning = system.meanings.get(key)
        own = e.system.atoms_for(meaning) if meaning is not None else None
        if own is not None:
            candidates.setdefault(tuple(sorted(own)), key)
    return e.system.binding(narrowed, e.hidden, candidates)
