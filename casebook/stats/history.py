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
Counts finer than one release's groups (a category merged into "other" in one release and
shown apart in another) are unknowns of every release in the audit and tied the same way
(`_finer_ties`).
"""

from __future__ import annotations

import math
from collections import defaultdict
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
    own_silent: bool = False,
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
    tell. `own_silent`: no zero of this release is known either (it shows nothing)."""
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
                    silent_held = own_silent and held_mapping is None
                    if not silent_held and _zero_known(held, meaning, held_hidden):
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
    joint = [(system, None), *((o, m) for o, m, _ in done)]
    for ours, theirs in _finer_ties(system, joint):
        ties.setdefault((tuple(sorted(ours)), tuple(sorted(theirs))), (ours, theirs))
    for ours, theirs in ties.values():
        # as one sum of terms: atoms both sides share (see _same_atoms) cancel out
        terms = equation_key([*ours, *theirs], [1] * len(ours) + [-1] * len(theirs))
        if terms:
            system.links.append(Equation([a for a, _ in terms], [c for _, c in terms], 0, False))
    for larger, smaller in orders.values():
        system.order(larger, smaller)
    system.know(list(facts) + imported)


# a two-way count over the finest groups of the releases audited together, by verified flag,
# dimensions and the blocks' indices: its atom in the joint system
Finer = dict[tuple[str, str, int, str, int], int]


def _finer_ties(
    system: ReleaseSystem, held: list[tuple[ReleaseSystem, list[int] | None]]
) -> list[tuple[list[int], list[int]]]:
    """Ties of counts finer than one release's groups. Releases group rare categories
    differently (a category merged into "other" in one is its own group in the next), and a
    count one release publishes over a group another merges with others is still a count of
    the other release's cases: an unknown part of its coarser cell, tied to the first
    wherever it did not change. Each release in the joint audit (`held`: this system's own,
    mapping None, then each imported with its atoms' indices here) is given its two-way
    counts over the blocks of the meet of every grouping (the categories all of them group
    together) as unknowns: each of its cells over groups the sum of the blocks inside,
    each block's row the block's one-way counts. Then every count over groups of any release
    and over blocks, in every scope, is tied between every two releases wherever its count
    is the same in both — a cell of a third release too, which neither of the two shows as
    one number (the attacker ties it all the same). Only the two-way tables of a dimension
    whose groupings differ get blocks: elsewhere every release has the same cells, tied
    above."""
    releases = [release for release, _ in held]
    blocks, split = _meet(releases)
    if not split:
        return []
    finer = [
        _finer_atoms(system, number, release, mapping, blocks, split)
        for number, (release, mapping) in enumerate(held)
    ]
    grouped = [
        {d: [frozenset(_blocks_in(blocks[d], m)) for _, m in r.counts.groups[d]] for d in BASE}
        for r in releases
    ]
    out: list[tuple[list[int], list[int]]] = []
    for da, db in pairs():
        if da not in split and db not in split:
            continue
        meanings = {
            (frozenset([i]), frozenset([j]))
            for i in range(len(blocks[da]))
            for j in range(len(blocks[db]))
        }
        meanings |= {(a, b) for g in grouped for a in g[da] for b in g[db]}
        for one in range(len(held)):
            for two in range(one + 1, len(held)):
                for a, b in sorted(meanings, key=lambda m: (sorted(m[0]), sorted(m[1]))):
                    sides = [_over(finer[r], da, a, db, b) for r in (one, two)]
                    if sides[0] is None or sides[1] is None:
                        continue  # a category one of them does not have
                    equal = {
                        f: _value(system, sides[0][f]) == _value(system, sides[1][f])
                        for f in ("v", "u")
                    }
                    for f in ("v", "u"):
                        if equal[f]:
                            out.append((sides[0][f], sides[1][f]))
                    both = [sides[0]["v"] + sides[0]["u"], sides[1]["v"] + sides[1]["u"]]
                    if not all(equal.values()) and _value(system, both[0]) == _value(
                        system, both[1]
                    ):
                        out.append((both[0], both[1]))
    return out


def _value(system: ReleaseSystem, atoms: list[int]) -> int:
    return sum(system.atom_values[a] for a in atoms)


def _over(
    finer: Finer, da: str, a: frozenset[int], db: str, b: frozenset[int]
) -> dict[str, list[int]] | None:
    """The atoms of one release that count blocks `a` × `b`, per verified flag (None where
    the release does not have one of those categories)."""
    out: dict[str, list[int]] = {}
    for f in ("v", "u"):
        atoms = [finer.get((f, da, i, db, j)) for i in sorted(a) for j in sorted(b)]
        if any(x is None for x in atoms):
            return None
        out[f] = [x for x in atoms if x is not None]
    return out


def _blocks_in(blocks: list[frozenset[str]], members: Iterable[str]) -> list[int]:
    inside = set(members)
    return [i for i, block in enumerate(blocks) if block <= inside]


def _meet(releases: list[ReleaseSystem]) -> tuple[dict[str, list[frozenset[str]]], set[str]]:
    """Per base dimension, the blocks of the meet of the releases' groupings (the categories
    every release puts in one group), and the dimensions where some release's group holds
    more than one block (where groupings differ)."""
    blocks: dict[str, list[frozenset[str]]] = {}
    split: set[str] = set()
    for dim in BASE:
        where = [
            {c: code for code, members in r.counts.groups.get(dim, []) for c in members}
            for r in releases
        ]
        classes: dict[tuple[str | None, ...], list[str]] = {}
        for category in dict.fromkeys(c for w in where for c in w):
            classes.setdefault(tuple(w.get(category) for w in where), []).append(category)
        blocks[dim] = [frozenset(members) for members in classes.values()]
        if any(
            len(_blocks_in(blocks[dim], members)) > 1
            for r in releases
            for _, members in r.counts.groups.get(dim, [])
        ):
            split.add(dim)
    return blocks, split


def _finer_atoms(
    system: ReleaseSystem,
    number: int,
    release: ReleaseSystem,
    mapping: list[int] | None,
    blocks: dict[str, list[frozenset[str]]],
    split: set[str],
) -> Finer:
    """One release's two-way counts over the blocks, as atoms of `system`: a cell over one
    block each way is the release's own atom; a cell over groups of several blocks is the
    sum of new unknowns (true values from the release's cases), and each block smaller than
    its group sums, over every block of the other dimension, to its one-way counts."""

    def here(name: tuple[str, ...]) -> int:
        atom = release.atom_index[name]
        return atom if mapping is None else mapping[atom]

    out: Finer = {}
    for da, db in pairs():
        if da not in split and db not in split:
            continue
        block_a = {c: i for i, b in enumerate(blocks[da]) for c in b}
        block_b = {c: i for i, b in enumerate(blocks[db]) for c in b}
        counted: dict[tuple[str, int, int], int] = defaultdict(int)
        for (f, ca, cb), n in release.pair_counts(da, db).items():
            counted[(f, block_a[ca], block_b[cb])] += n
        rows = [(code, _blocks_in(blocks[da], m)) for code, m in release.counts.groups[da]]
        cols = [(code, _blocks_in(blocks[db], m)) for code, m in release.counts.groups[db]]
        for f in ("v", "u"):
            for code_a, inside_a in rows:
                for code_b, inside_b in cols:
                    group = here(("2", f, da, code_a, db, code_b))
                    if len(inside_a) == 1 and len(inside_b) == 1:
                        out[(f, da, inside_a[0], db, inside_b[0])] = group
                        continue
                    parts = []
                    for i in inside_a:
                        for j in inside_b:
                            name = ("finer", number, f, da, i, db, j)
                            out[(f, da, i, db, j)] = system.unknown(name, counted[(f, i, j)])
                            parts.append(out[(f, da, i, db, j)])
                    if _value(system, parts) != system.atom_values[group]:
                        raise ValueError("a release's cases do not add up to its counts")
                    system.link(parts, [group])
            every_b = [j for _, inside in cols for j in inside]
            every_a = [i for _, inside in rows for i in inside]
            for _, inside_a in rows:
                for i in inside_a if len(inside_a) > 1 else []:
                    line = [out[(f, da, i, db, j)] for j in every_b]
                    system.link(line, [here(("1", f, da, c)) for c in sorted(blocks[da][i])])
            for _, inside_b in cols:
                for j in inside_b if len(inside_b) > 1 else []:
                    line = [out[(f, da, i, db, j)] for i in every_a]
                    system.link(line, [here(("1", f, db, c)) for c in sorted(blocks[db][j])])
    return out


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

    def protect_own(start: set[Key], least_width: int = 0) -> set[Key]:
        try:
            return protect(system, k, start=start, strict=strict, least_width=least_width)
        except UnprotectableError:
            if system.allowance is not None or not earlier:
                raise
        # only when no pattern passes without it, so that every cut that could be made
        # before is made with the same pattern
        system.allowance = _guessed_of_new(system, k, earlier)
        return protect(system, k, start=start, strict=strict, least_width=least_width)

    hidden = protect_own(still_hidden(system, k, earlier))
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
        hidden = protect_own(hidden | more, width)
    raise NarrowsEarlierError(k)


def _guessed_of_new(
    system: ReleaseSystem, k: int, earlier: list[Earlier]
) -> dict[Key, tuple[float, float]]:
    """How far the earlier releases and the attacker's right guesses about the new release's
    counts (which did not change since an earlier release, which way the others moved)
    narrow the new release's own numbers with nothing of it shown. Those counts exist
    whether or not the release is cut: a number they narrow below k is narrowed as far by
    refusing the cut, so the cut is answerable only for narrowing it further, as it is for
    an earlier release's numbers (_guessed_alone). Without this floor a cut was refused under
    every pattern, however much it hid, for months of 1 case the earlier releases alone pin
    to [1, 11]. Leaves the system set up as protect needs it."""
    others = [e.shown() for e in earlier]
    # only numbers an earlier release showed exactly that are the same now (an unchanged
    # count): a range that still holds of a count that moved is no right guess (taken as
    # known, an earlier verified total rounded to 100-119 let a cut read its own month of 1
    # as [1, 11])
    facts = facts_holding(system, [f for e in earlier for f in e.facts()])
    exact = [(atoms, low, high) for atoms, low, high in facts if low == high]
    audit_with(system, others, exact, own_silent=True)
    floor = system.audit(set(), k, bare=True)
    audit_with(system, others, facts)  # every fact again, for the audit itself
    return floor


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
