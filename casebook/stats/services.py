"""Statistics releases: cut (refused until enough cases changed), listed, and read.

A release is frozen: its protected tables are computed and stored when it is cut, and every
page, download, brief and API answer of that release serves those stored tables. One mode only:
exact counts with jointly audited suppression (see docs/statistics.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor, audit_record
from casebook.auth.permissions import Permission, role_allows
from casebook.encrypted import Vault, open_json, seal_json
from casebook.pausepoints import pause_point
from casebook.stats.history import Earlier, NarrowsEarlierError, protect_against_earlier
from casebook.stats.models import StatsEpoch, StatsRelease, StatsReleaseTable
from casebook.stats.protect import UnprotectableError
from casebook.stats.queries import (
    BASE,
    COUNTED_STATES,
    DIMENSIONS,
    VERIFIED_STATES,
    BaseCounts,
    combos_of,
    count_base,
    counted_facets,
    fingerprint_category,
    tally,
)
from casebook.stats.tables import ReleaseSystem, Table, all_tables, protect_release
from casebook.vocab import VERIFICATION

MIN_K = 5
# the parts of a cut, as a cut followed on the web names them (stats.cuts)
COUNTING, PROTECTING, ESTIMATING, WRITING = "counting", "protecting", "estimating", "writing"
CUT_STEPS = (COUNTING, PROTECTING, ESTIMATING, WRITING)
DEFAULT_K = 11
MODE = "suppressed"
SCOPES = f"all={','.join(COUNTED_STATES)};verified={','.join(VERIFIED_STATES)}"


class StatsInputError(Exception):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in fields.values() for m in ms))
        self.fields = fields


class ReleaseRefusedError(Exception):
    """A new release would come too soon after the last one, or cannot be protected. Keeps
    its message untranslated with its values, so that a cut finished in the background can be
    explained later in the reader's language (`explain`)."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(_translated(message, **values))
        self.message = message
        self.values = values


@dataclass(frozen=True)
class Release:
    """One protected table of one release, as served."""

    number: int
    released_at: str
    dimensions: tuple[str, ...]
    grouped: bool
    k: int
    verified_only: bool
    rows: list[str]
    cols: list[str]
    members: dict[str, dict[str, list[str]]]  # dimension -> merged group -> categories
    values: list[list[int | None]]  # None where suppressed
    row_totals: list[int | None]
    col_totals: list[int | None]
    total: int | None
    method: str
    total_range: tuple[int, int] | None = None  # a hidden total published rounded

    @property
    def hidden_share(self) -> float:
        cells = [v for row in self.values for v in row]
        return sum(v is None for v in cells) / len(cells) if cells else 0.0

    def cells(self) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.cols):
                cell: dict[str, Any] = {self.dimensions[0]: r}
                if len(self.dimensions) > 1:
                    cell[self.dimensions[1]] = c
                cell["count"] = self.values[i][j]
                cell["suppressed"] = self.values[i][j] is None
                out.append(cell)
        return out

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "dimensions": list(self.dimensions),
            "k": self.k,
            "epsilon": None,
            "verified_only": self.verified_only,
            "release": {"number": self.number, "date": self.released_at, "mode": MODE},
            "grouped": self.grouped,
            "cells": self.cells(),
            "total": self.total,
            # the total when it could not be published exactly: it lies in [lo, hi]
            "total_range": list(self.total_range) if self.total_range else None,
            "method": self.method,
        }
        groups = {
            d: {code: m for code, m in g.items() if len(m) > 1} for d, g in self.members.items()
        }
        if any(groups.values()):
            doc["groups"] = {d: g for d, g in groups.items() if g}
        if len(self.dimensions) > 1:
            doc["margins"] = {
                self.dimensions[0]: [
                    {"value": r, "count": t, "suppressed": t is None}
                    for r, t in zip(self.rows, self.row_totals, strict=True)
                ],
                self.dimensions[1]: [
                    {"value": c, "count": t, "suppressed": t is None}
                    for c, t in zip(self.cols, self.col_totals, strict=True)
                ],
            }
        return doc


def parse_params(by: str, k: Any, epsilon: Any, release_k: int) -> tuple[tuple[str, ...], int]:
    """Check a request's parameters; every problem is reported at once."""
    problems: dict[str, list[str]] = {}
    dims = tuple(d.strip() for d in (by or "").split(",") if d.strip())
    if not 1 <= len(dims) <= 2:
        problems["by"] = ["Choose one or two dimensions."]
    elif any(d not in DIMENSIONS for d in dims) or len(set(dims)) != len(dims):
        problems["by"] = [f"Dimensions are {', '.join(DIMENSIONS)} (two different ones at most)."]
    elif len(dims) == 2 and "arrest_month" in dims:
        problems["by"] = ["Months are counted alone; use arrest_year with another dimension."]
    k_value = release_k
    if k not in (None, ""):
        try:
            k_value = int(k)
        except (TypeError, ValueError):
            k_value = -1
        if k_value < release_k or k_value > 1000:
            problems["k"] = [f"k is a whole number from {release_k} (this release's) to 1000."]
    if epsilon not in (None, ""):
        problems["epsilon"] = [
            "Releases publish exact counts with suppression; there is no noisy version."
        ]
    if problems:
        raise StatsInputError(problems)
    return dims, k_value


# -- cutting a release ------------------------------------------------------------------------


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "extract, translate later")
    return message


def _translated(message: str, **values: object) -> str:
    """In the request's language on the web; in English on the command line (no request)."""
    if has_request_context():
        return str(gettext(message, **values))
    return message % values


def _seal(vault: Vault, column: str, row_id: str, value: object) -> bytes:
    return seal_json(vault.system_cipher("system"), "stats_releases", column, row_id, value)


def _open(vault: Vault, release: StatsRelease, column: str) -> Any:
    blob: bytes = getattr(release, column)
    return open_json(vault.system_cipher("system"), "stats_releases", column, str(release.id), blob)


def latest_release(session: Session) -> StatsRelease | None:
    return session.scalars(
        select(StatsRelease).order_by(StatsRelease.number.desc()).limit(1)
    ).first()


def changes_since(previous: dict[str, str], current: dict[str, str]) -> int:
    """Cases added, removed, or whose counted categories changed."""
    changed = sum(1 for case, fp in current.items() if previous.get(case) != fp)
    return changed + sum(1 for case in previous if case not in current)


@dataclass
class PreparedRelease:
    """A release computed from one snapshot of the cases, not yet written."""

    counts: BaseCounts
    fingerprints: dict[str, str]
    hidden: set[Any]
    system: ReleaseSystem
    previous: int  # the number of the release it follows (0: the first)
    changes: int
    k: int
    now: datetime
    estimate: dict[str, Any] | None = None  # made from the same snapshot (see release_prepare)

    @property
    def cases(self) -> int:
        """The cases counted (the release's total of all counted cases)."""
        return self.counts.total.get("v", 0) + self.counts.total.get("u", 0)

    def counted(self, dimension: str | None) -> dict[str, str]:
        """Every counted case (id) with its category of `dimension` ("" without one)."""
        if dimension is None:
            return dict.fromkeys(self.fingerprints, "")
        return {case: fingerprint_category(fp, dimension) for case, fp in self.fingerprints.items()}

    def published(self, dimension: str) -> dict[str, int | None]:
        """The release's one-way table of `dimension` (all counted cases): category -> the
        count it shows (None where hidden)."""
        doc = self.system.render((dimension,), "all", self.hidden)
        return dict(zip(doc["rows"], doc["row_totals"], strict=True))


# made from the prepared release, in its snapshot: the estimate document to store with it
Estimator = Callable[[Session, PreparedRelease], dict[str, Any]]


def protect_in_turn(
    rows: list[Any], year: int, k: int, earlier: list[Earlier]
) -> tuple[ReleaseSystem, set[Any], BaseCounts, dict[str, str]]:
    """The release's counts and hidden set, protected against the earlier releases: over
    groups made for all cases where a few verified cases would merge everything (tally);
    failing that, over groups shaped by every scope; failing that (with earlier releases),
    over groups that do not split the earlier ones' — finer groups than an earlier release's,
    beside its coarse numbers, may be what cannot be protected. The last failure is raised
    (UnprotectableError, or NarrowsEarlierError)."""
    attempts: list[dict[str, Any]] = [{}, {"every_scope": True}]
    if earlier:
        attempts.append({"every_scope": True, "join": [e.system.counts.groups for e in earlier]})
    failure: UnprotectableError | None = None
    for options in attempts:
        counts, fingerprints = tally(rows, year, k, **options)
        for e in earlier:
            e.reset()
        system = ReleaseSystem(counts)
        try:
            hidden = protect_against_earlier(system, k, earlier, protect_release, strict=True)
        except UnprotectableError as exc:
            failure = exc
            continue
        return system, hidden, counts, fingerprints
    raise failure or UnprotectableError(k)


def release_prepare(
    session: Session,
    vault: Vault,
    *,
    k: int,
    min_changes: int,
    now: datetime | None = None,
    estimate: Estimator | None = None,
    step: Callable[[str], None] | None = None,
) -> PreparedRelease:
    """Count the cases and protect the tables from one read of them, writing nothing: run in a
    transaction that reads one snapshot (Database.snapshot_sessionmaker), so that the long
    part of a cut holds no write lock (SQLite has one for the whole database). `estimate`, if
    given, makes the release's estimate in the same snapshot (the same counted cases and the
    list matches as they were then), so that it is of the same cases as the tables. Refuses
    (ReleaseRefusedError) when fewer than `min_changes` cases changed. `step` hears which
    part of the cut begins (CUT_STEPS), for a cut followed on the web."""
    if k < MIN_K:
        raise ReleaseRefusedError(N_("k is at least %(k)s."), k=MIN_K)
    now = now or datetime.now(UTC)
    rows = list(counted_facets(session, vault))
    counts, fingerprints = tally(rows, now.year, k)
    pause_point("stats.release.snapshot")  # the snapshot is read: cases saved now are not in it
    last = latest_release(session)
    previous: dict[str, str] = _open(vault, last, "fingerprints_enc") if last else {}
    changes = changes_since(previous, fingerprints)
    if last is not None:
        # fewer than k changes would bound how far any number moved since the last release
        # by less than k, whatever the setting (an operator may set fewer changes than k)
        min_changes = max(min_changes, k)
    if changes < min_changes:
        if last is None:
            raise ReleaseRefusedError(
                N_(
                    "%(changes)s cases were added, changed or removed; a new release needs "
                    "at least %(least)s, so that no release can be compared with the last to "
                    "learn about a few cases."
                ),
                changes=changes,
                least=min_changes,
            )
        raise ReleaseRefusedError(
            N_(
                "%(changes)s cases were added, changed or removed since release %(n)s of "
                "%(date)s; a new release needs at least %(least)s, so that no release can "
                "be compared with the last to learn about a few cases."
            ),
            n=last.number,
            date=f"{last.created_at:%Y-%m-%d}",
            changes=changes,
            least=min_changes,
        )
    _, unknown = least_unknown_changes(session, last, previous, fingerprints)
    if 0 < unknown < k:
        raise ReleaseRefusedError(
            N_(
                "%(changes)s cases were added, changed or removed, but all except "
                "%(unknown)s of them were entered, edited or opened by one account that "
                "cannot read every case; a new release needs at least %(k)s changes that no "
                "such account made or saw, so that it cannot add cases of its own to learn "
                "about the others by comparing releases."
            ),
            changes=changes,
            unknown=unknown,
            k=k,
        )
    if step is not None:
        step(PROTECTING)
    earlier = earlier_releases(session, vault)
    try:
        # strict: a pattern that fails its own audit, or narrows what an earlier release hid,
        # is never published; the cut is refused
        system, hidden, counts, fingerprints = protect_in_turn(rows, now.year, k, earlier)
    except NarrowsEarlierError:
        raise ReleaseRefusedError(
            N_(
                "This release cannot be published at k=%(k)s yet: with the numbers the "
                "earlier releases publish, it would narrow a small number below k (its own "
                "or one an earlier release hides). Cut it when more cases have changed."
            ),
            k=k,
        ) from None
    except UnprotectableError:
        raise ReleaseRefusedError(
            N_(
                "These cases cannot be published at k=%(k)s yet: even with every other "
                "number hidden, the totals would narrow a small number below k. Cut the "
                "release when more cases are counted."
            ),
            k=k,
        ) from None
    prepared = PreparedRelease(
        counts, fingerprints, hidden, system, last.number if last else 0, changes, k, now
    )
    if estimate is not None:
        if step is not None:
            step(ESTIMATING)
        prepared.estimate = estimate(session, prepared)
    return prepared


def earlier_releases(session: Session, vault: Vault) -> list[Earlier]:
    """Every release cut so far, as an attacker holds it (see history.py)."""
    out = []
    for release in release_list(session):
        exact = _open(vault, release, "exact_enc")
        counts = BaseCounts.from_json(exact["counts"])
        counts.combos = combos_of(_open(vault, release, "fingerprints_enc").values())
        system = ReleaseSystem(counts)
        system.ranges = {key: (r[0], r[1]) for key, r in exact.get("ranges", {}).items()}
        out.append(Earlier(release.number, release.k, system, set(exact["hidden"])))
    return out


def least_unknown_changes(
    session: Session,
    last: StatsRelease | None,
    previous: dict[str, str],
    current: dict[str, str],
) -> tuple[str | None, int]:
    """The account that knows the most of the changes since `last` without knowing them all (it
    wrote, edited or opened those cases since, by the audit log), and how many it does not
    know. Accounts that may read every case (lawyers, the command line) are left out: they need
    no release to learn a case. An account that knows all changes but a few could otherwise pad
    the changes with cases of its own and learn the few by comparing two releases."""
    changed = {c for c, fp in current.items() if previous.get(c) != fp}
    changed |= {c for c in previous if c not in current}
    since = 0
    if last is not None:
        since = (
            session.scalar(
                select(AuditEntry.seq).where(
                    AuditEntry.action == "stats.release", AuditEntry.object_id == str(last.id)
                )
            )
            or 0
        )
    known: dict[str, set[str]] = defaultdict(set)
    rows = session.execute(
        select(AuditEntry.actor, AuditEntry.role, AuditEntry.object_id)
        .where(AuditEntry.object_type == "case", AuditEntry.seq > since)
        .distinct()
    )
    for actor, role, object_id in rows:
        if object_id not in changed or actor.startswith("cli:"):
            continue
        if role is not None and role_allows(role, Permission.CASE_READ_ALL):
            continue
        known[actor].add(object_id)
    unknown = {a: len(changed) - len(cases) for a, cases in known.items()}
    partial = [a for a in unknown if unknown[a] > 0]  # one that knows every change learns none
    if not partial:
        return None, 0
    writer = min(partial, key=lambda a: unknown[a])
    return writer, unknown[writer]


def release_create(
    session: Session,
    vault: Vault,
    actor: Actor,
    *,
    k: int,
    min_changes: int,
    note: str | None = None,
    now: datetime | None = None,
    prepared: PreparedRelease | None = None,
) -> StatsRelease:
    """Write a release (`prepared` by release_prepare from a snapshot, or computed here), or
    refuse (ReleaseRefusedError) when fewer than `min_changes` cases changed.

    The release lock (the statistics epoch row, SELECT ... FOR UPDATE on PostgreSQL; SQLite
    serialises writers) makes two simultaneous cuts one release and one refusal: a prepared
    release is written only if no other release was written since its snapshot. The release
    is of its snapshot: cases changed while it was computed count towards the next one."""
    session.execute(select(StatsEpoch).where(StatsEpoch.id == 1).with_for_update()).first()
    if prepared is None:
        prepared = release_prepare(session, vault, k=k, min_changes=min_changes, now=now)
    last = latest_release(session)
    if (last.number if last else 0) != prepared.previous:
        raise ReleaseRefusedError(
            N_(
                "Release %(n)s was cut while this one was being computed; cut again once "
                "enough cases have changed since."
            ),
            n=last.number if last else 0,
        )
    counts, fingerprints, hidden, system = (
        prepared.counts,
        prepared.fingerprints,
        prepared.hidden,
        prepared.system,
    )
    k, now, changes = prepared.k, prepared.now, prepared.changes
    release = StatsRelease(
        number=(last.number + 1) if last else 1,
        created_at=now,
        actor=actor.label,
        note=(note or "").strip()[:200] or None,
        k=k,
        mode=MODE,
        scopes=SCOPES,
        cases=prepared.cases,
        changes=changes,
        exact_enc=b"",
        fingerprints_enc=b"",
    )
    session.add(release)
    session.flush()
    release.exact_enc = _seal(
        vault,
        "exact_enc",
        str(release.id),
        {
            "counts": counts.to_json(),
            "hidden": sorted(map(str, hidden)),
            "ranges": {str(key): list(r) for key, r in system.ranges.items()},
        },
    )
    release.fingerprints_enc = _seal(vault, "fingerprints_enc", str(release.id), fingerprints)
    for table in all_tables():
        for scope in ("all", "verified"):
            session.add(
                StatsReleaseTable(
                    release_id=release.id,
                    k=k,
                    name=",".join(table),
                    scope=scope,
                    payload=json.dumps(system.render(table, scope, hidden), ensure_ascii=False),
                )
            )
    audit_record(
        session,
        actor,
        "stats.release",
        object_type="stats_release",
        object_id=release.id,
        details={"number": release.number, "k": k, "changes": changes, "cases": release.cases},
    )
    session.flush()
    return release


def release_list(session: Session) -> list[StatsRelease]:
    return list(session.scalars(select(StatsRelease).order_by(StatsRelease.number.desc())))


def release_dates(session: Session) -> list[tuple[int, datetime]]:
    """Every release's number and date, newest first: the chooser on the statistics page
    (without loading the releases' sealed tables)."""
    rows = session.execute(
        select(StatsRelease.number, StatsRelease.created_at).order_by(StatsRelease.number.desc())
    )
    return [(number, created) for number, created in rows]


def release_get(session: Session, number: int | None) -> StatsRelease | None:
    if number is None:
        return latest_release(session)
    return session.scalars(select(StatsRelease).where(StatsRelease.number == number)).first()


def pending_changes(session: Session, vault: Vault, k: int) -> int:
    """How many cases changed since the last release (shown before cutting one)."""
    _, fingerprints = count_base(session, vault, datetime.now(UTC), k)
    last = latest_release(session)
    return changes_since(_open(vault, last, "fingerprints_enc") if last else {}, fingerprints)


# -- reading a release ------------------------------------------------------------------------


class TableCache:
    """Protected tables already read, per process (a release never changes)."""

    def __init__(self, size: int = 256) -> None:
        import threading

        self._lock = threading.Lock()
        self._data: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._size = size

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: tuple[Any, ...], value: dict[str, Any]) -> None:
        with self._lock:
            if len(self._data) >= self._size:
                self._data.pop(next(iter(self._data)))
            self._data[key] = value


def _stored(
    session: Session, release: StatsRelease, k: int, name: str, scope: str
) -> dict[str, Any] | None:
    payload = session.scalar(
        select(StatsReleaseTable.payload).where(
            StatsReleaseTable.release_id == release.id,
            StatsReleaseTable.k == k,
            StatsReleaseTable.name == name,
            StatsReleaseTable.scope == scope,
        )
    )
    return json.loads(payload) if payload else None


def _table_for(
    session: Session, vault: Vault, release: StatsRelease, table: Table, k: int
) -> dict[str, dict[str, Any]]:
    """Both scopes of a table at k: stored, or (a larger k) the whole release protected at k.

    A larger k is protected jointly, never table by table: the first request for it computes
    one pattern over every table of the release (the same audit as the cut, starting from the
    release's own pattern) and stores every table at that k, so all tables at one k are cut
    from one pattern and cannot be combined to narrow what another hides."""
    name = ",".join(table)
    found = {s: _stored(session, release, k, name, s) for s in ("all", "verified")}
    if all(found.values()):
        return {s: d for s, d in found.items() if d is not None}
    exact = _open(vault, release, "exact_enc")
    system = ReleaseSystem(BaseCounts.from_json(exact["counts"]))
    # never a narrower rounded total than the release's own
    width = max((hi - lo + 1 for lo, hi in exact.get("ranges", {}).values()), default=0)
    try:
        hidden = protect_release(
            system, k, start=set(exact["hidden"]), strict=True, least_width=width
        )
    except UnprotectableError:
        raise StatsInputError(
            {
                "k": [
                    f"This release cannot be protected at k={k}: even with every other number "
                    "hidden, its total would narrow a small number below k. Ask for a "
                    "smaller k."
                ]
            }
        ) from None
    out = {scope: system.render(table, scope, hidden) for scope in ("all", "verified")}
    try:
        with session.begin_nested():  # a request computing the same k at once: keep theirs
            # rows a release stored table by table at this k (before joint protection) go:
            # every table at one k comes from one pattern
            session.execute(
                delete(StatsReleaseTable).where(
                    StatsReleaseTable.release_id == release.id, StatsReleaseTable.k == k
                )
            )
            for each in all_tables():
                for scope in ("all", "verified"):
                    doc = out[scope] if each == table else system.render(each, scope, hidden)
                    session.add(
                        StatsReleaseTable(
                            release_id=release.id,
                            k=k,
                            name=",".join(each),
                            scope=scope,
                            payload=json.dumps(doc, ensure_ascii=False),
                        )
                    )
            session.flush()
    except IntegrityError:
        found = {s: _stored(session, release, k, name, s) for s in ("all", "verified")}
        if not all(found.values()):
            raise
        return {s: d for s, d in found.items() if d is not None}
    return out


def _method(
    release: StatsRelease, released_at: str, k: int, verified_only: bool, doc: dict[str, Any]
) -> str:
    """What the release protects, in the request's language (the JSON's "method")."""
    states = VERIFIED_STATES if verified_only else COUNTED_STATES
    arabic = has_request_context() and str(get_locale() or "").startswith("ar")
    words = ", ".join(
        term.label("ar") if arabic and (term := VERIFICATION.get(s)) is not None else s
        for s in states
    )
    values: dict[str, object] = {
        "number": release.number,
        "date": released_at,
        "states": words,
        "low": k - 1,
        "k": k,
    }
    if k == release.k:
        method = _translated(
            N_(
                "Release %(number)s, data as of %(date)s: exact counts of consenting cases "
                "(%(states)s; rejected and duplicate cases are never counted); numbers from 1 "
                "to %(low)s are hidden, with further cells hidden so that no hidden number can "
                "be narrowed to an interval under %(k)s by combining any tables of this "
                "release or of any other release, even knowing which numbers, shown or "
                "hidden, stayed the same between releases and which way the others moved."
            ),
            **values,
        )
    else:
        method = _translated(
            N_(
                "Release %(number)s, data as of %(date)s: exact counts of consenting cases "
                "(%(states)s; rejected and duplicate cases are never counted); numbers from 1 "
                "to %(low)s are hidden, with further cells hidden so that no hidden number can "
                "be narrowed to an interval under %(k)s by combining any tables of this "
                "release (at k=%(k)s; at its own k=%(own)s also with any other release)."
            ),
            **values,
            own=release.k,
        )
    total_range = doc.get("total_range")
    if doc["total"] is None and total_range:
        method += " " + _translated(
            N_(
                "The total is rounded: it is between %(low)s and %(high)s (shown exactly, it "
                "would be a small number or let someone work out a hidden one)."
            ),
            low=total_range[0],
            high=total_range[1],
        )
    return method


def stats_table(
    session: Session,
    vault: Vault,
    actor: Actor,
    cache: TableCache,
    *,
    release: StatsRelease,
    dimensions: tuple[str, ...],
    k: int,
    verified_only: bool,
    grouped: bool,
    export_format: str,
) -> Release:
    """One protected table of a release (same numbers every time); the export is audited."""
    if len(dimensions) == 2:
        table: Table = tuple(sorted(dimensions, key=BASE.index))
    elif grouped and dimensions[0] in BASE:
        table = (dimensions[0], "grouped")
    else:
        table = dimensions
    scope = "verified" if verified_only else "all"
    key = (release.id, k, table, scope)
    doc = cache.get(key)
    if doc is None:
        doc = _table_for(session, vault, release, table, k)[scope]
        cache.put(key, doc)
    rows, cols = doc["rows"], doc["cols"]
    values, row_totals, col_totals = doc["values"], doc["row_totals"], doc["col_totals"]
    members: dict[str, dict[str, list[str]]] = {table[0]: doc.get("members") or {}}
    if len(dimensions) == 2:
        members[table[1]] = doc.get("col_members") or {}
    if len(dimensions) == 2 and table != dimensions:  # asked the other way round
        rows, cols = cols, rows
        values = [list(col) for col in zip(*values, strict=True)]
        row_totals, col_totals = col_totals, row_totals
    released_at = release.created_at.strftime("%Y-%m-%d")
    method = _method(release, released_at, k, verified_only, doc)
    total_range = doc.get("total_range")
    audit_record(
        session,
        actor,
        "stats.export",
        details={
            "release": release.number,
            "by": list(dimensions),
            "k": k,
            "verified_only": verified_only,
            "grouped": grouped,
            "format": export_format,
        },
    )
    return Release(
        number=release.number,
        released_at=released_at,
        dimensions=dimensions,
        grouped=(len(table) == 2 and table[1] == "grouped") or len(dimensions) == 2,
        k=k,
        verified_only=verified_only,
        rows=rows,
        cols=cols,
        members=members,
        values=values,
        row_totals=row_totals,
        col_totals=col_totals,
        total=doc["total"],
        method=method,
        total_range=(total_range[0], total_range[1]) if total_range else None,
    )


def release_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StatsRelease)) or 0)
