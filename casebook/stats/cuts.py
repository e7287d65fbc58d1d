"""Cutting a release: the one path the command line and the web share, and the web's cuts run
in the background, one at a time, followed on the releases page.

A cut audits every table of the new release against every earlier release (history.py); with
a few thousand cases and several releases that takes minutes, longer than a browser or a proxy
waits. So the page takes the single cut slot, a thread of the same worker does the cut, and the
page shows the cut's step until it ends in a release, a refusal with its reason, or a failure.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.background import abandon_if_silent, heartbeat
from casebook.db import Database
from casebook.encrypted import Vault
from casebook.estimate.histories import HistoryInputError
from casebook.estimate.lcmcr import Schedule
from casebook.estimate.release import release_estimate_store, release_estimator
from casebook.stats.models import ReleaseCut
from casebook.stats.services import (
    COUNTING,
    N_,
    WRITING,
    ReleaseRefusedError,
    release_create,
    release_prepare,
)

RUNNING, DONE, REFUSED, FAILED = "running", "done", "refused", "failed"

log = logging.getLogger(__name__)


class CutBusyError(Exception):
    """Another cut holds the slot."""


@dataclass(frozen=True)
class CutOutcome:
    number: int
    cases: int
    changes: int
    estimate: dict[str, Any]


def release_cut(
    database: Database,
    vault: Vault,
    actor: Actor,
    *,
    k: int,
    min_changes: int,
    note: str | None,
    estimate_lists: list[str],
    estimate_by: str | None,
    schedule: Schedule,
    step: Callable[[str], None] | None = None,
) -> CutOutcome:
    """Count, protect and estimate from one snapshot holding no write lock, then write the
    release and its estimate in one short transaction. Raises ReleaseRefusedError (too few
    changes, unprotectable, another release written meanwhile) or HistoryInputError (an
    outside list that does not exist); nothing is written then."""
    estimator = release_estimator(estimate_lists, estimate_by, schedule)
    with database.snapshot_sessionmaker() as r, r.begin():
        prepared = release_prepare(
            r, vault, k=k, min_changes=min_changes, estimate=estimator, step=step
        )
    estimate = prepared.estimate
    assert estimate is not None  # an estimator was given
    if step is not None:
        step(WRITING)
    with database.sessionmaker() as s, s.begin():
        made = release_create(
            s, vault, actor, k=k, min_changes=min_changes, note=note, prepared=prepared
        )
        release_estimate_store(s, actor, made, estimate)
        return CutOutcome(made.number, made.cases, made.changes, estimate)


def cut_current(session: Session) -> ReleaseCut | None:
    """The cut that holds the slot, after releasing one whose worker died (no heartbeat for
    STALE), so a killed worker never blocks releases for good."""
    cut = session.scalars(select(ReleaseCut).where(ReleaseCut.slot.is_not(None))).first()
    if cut is not None and abandon_if_silent(cut):
        cut.reason = N_(
            "The cut stopped without finishing (its worker ended); nothing was published."
        )
        cut.reason_values = None
        session.flush()
        return None
    return cut


def cut_latest(session: Session) -> ReleaseCut | None:
    """The cut going, or else the last one (what the releases page shows)."""
    return (
        cut_current(session)
        or session.scalars(
            select(ReleaseCut).order_by(ReleaseCut.started_at.desc()).limit(1)
        ).first()
    )


def cut_start(
    session: Session,
    actor: Actor,
    *,
    started_by: uuid.UUID | None,
    note: str | None,
    estimate_lists: list[str],
    estimate_by: str | None,
) -> ReleaseCut:
    """Take the single cut slot (CutBusyError when a cut holds it: the unique index refuses a
    second, whichever worker asks) and audit the start. The caller commits, then runs it."""
    if cut_current(session) is not None:
        raise CutBusyError
    cut = ReleaseCut(
        id=uuid.uuid4(),
        started_by=started_by,
        note=note,
        estimate_lists=json.dumps(estimate_lists),
        estimate_by=estimate_by,
        slot=1,
        state=RUNNING,
        step=COUNTING,
    )
    try:
        with session.begin_nested():
            session.add(cut)
            session.flush()
    except IntegrityError:
        raise CutBusyError from None
    audit_record(
        session,
        actor,
        "stats.release_cut_start",
        object_type="stats_release_cut",
        object_id=cut.id,
        details={"estimate_lists": len(estimate_lists), "estimate_by": estimate_by},
    )
    return cut


def cut_execute(
    database: Database,
    vault: Vault,
    actor: Actor,
    cut_id: uuid.UUID,
    *,
    k: int,
    min_changes: int,
    schedule: Schedule,
) -> None:
    """The cut itself (a background thread): `release_cut`, with each step and a heartbeat
    written beside it in short transactions. The outcome — the release's number, or the
    refusal or failure with its reason, nothing published — is written with the slot
    released, and audited. Never raises: a failure is the cut's state."""

    def mark(**values: Any) -> None:
        with database.sessionmaker() as s, s.begin():
            s.execute(
                update(ReleaseCut)
                .where(ReleaseCut.id == cut_id)
                .values(heartbeat_at=datetime.now(UTC), **values)
            )

    with database.sessionmaker() as s, s.begin():
        cut = s.get(ReleaseCut, cut_id)
        assert cut is not None
        note, by = cut.note, cut.estimate_by
        lists: list[str] = json.loads(cut.estimate_lists)
    number: int | None = None
    reason: str | None = None
    values: dict[str, Any] | None = None
    state = FAILED
    try:
        with heartbeat(mark):
            outcome = release_cut(
                database,
                vault,
                actor,
                k=k,
                min_changes=min_changes,
                note=note,
                estimate_lists=lists,
                estimate_by=by,
                schedule=schedule,
                step=lambda name: mark(step=name),
            )
        number, state = outcome.number, DONE
    except ReleaseRefusedError as exc:
        state, reason, values = REFUSED, exc.message, dict(exc.values)
    except HistoryInputError as exc:
        state, reason = REFUSED, " ".join(exc.problems)
    except Exception as exc:  # any failure must end the cut, not leave it "running"
        reason = N_("The cut failed (%(kind)s); nothing was published.")
        values = {"kind": type(exc).__name__}
        log.error(
            "release cut failed", extra={"event": "release_cut_failed", "error": type(exc).__name__}
        )
    with database.sessionmaker() as s, s.begin():
        cut = s.get(ReleaseCut, cut_id)
        assert cut is not None
        cut.slot = None
        cut.finished_at = datetime.now(UTC)
        cut.heartbeat_at = cut.finished_at
        cut.state = state
        cut.release_number = number
        cut.reason = reason[:1000] if reason else None
        cut.reason_values = json.dumps(values) if values else None
        audit_record(
            s,
            actor,
            "stats.release_cut_end",
            object_type="stats_release_cut",
            object_id=cut_id,
            outcome={DONE: "success", REFUSED: "refused"}.get(state, "failure"),
            details={"state": state, "release": number},
        )


def cut_reason(cut: ReleaseCut, translate: Callable[..., str]) -> str:
    """Why a cut was refused or failed, in the reader's language (`translate` is gettext)."""
    if not cut.reason:
        return ""
    values: dict[str, Any] = json.loads(cut.reason_values) if cut.reason_values else {}
    return translate(cut.reason, **values)
