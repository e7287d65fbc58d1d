"""The estimate of a statistics release: computed once when the release is cut, from the same
snapshot as its tables (the cases it counts, and the outside lists' matches as they were
then), and stored with the release's tables in the transaction that writes the release, so
every page, brief and API answer of that release shows the same estimate until the next
release.

What is published: no count of people below k, and nothing that could undo the release's
suppression. A capture-pattern count is a small-cell count like any table cell (two people on
three particular lists, in a small community, point at those people), so:
- only the total estimate, its interval and the log-linear cross-check are published, with the
  number of lists; never a pattern count, and the documented count only when it is at least k;
- per stratum (a release cut with a dimension) only the estimate and interval, never the
  stratum's documented count, and only for strata whose count in the release's own table by
  that dimension is published (so at least k, and not hidden to protect another cell); when
  exactly one stratum is withheld for being small, the next smallest is withheld too (the
  overall estimate minus the others would approximate it);
- reasons and warnings are codes, without the counts they were built from; outside lists are
  counted, not named (their labels stay sealed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.config import Settings
from casebook.estimate.captures import CaptureError
from casebook.estimate.histories import OWN, release_histories
from casebook.estimate.lcmcr import LEVEL, Schedule
from casebook.estimate.report import stratified_report
from casebook.stats.models import StatsRelease, StatsReleaseTable
from casebook.stats.services import Estimator, PreparedRelease

SEED = 20_161_001  # fixed: the same data always gives the same published estimate
NAME = "estimate"  # the release table row holding the estimate (name and scope)

# Why there is no number (codes; the page and the brief say them in the reader's language).
REASONS = {
    "not_made": "no estimate was made when this release was cut",
    "no_lists": (
        "only the organisation's own cases were counted: an estimate needs at least one outside "
        "list of the same population beside them"
    ),
    "overlap": "too little overlap between the lists: too few people are on two lists or more",
    "lists": (
        "the lists cannot give an estimate (a list holds nobody, or the overlaps fit no model)"
    ),
    "converge": "the model did not settle (its chains did not converge): no figure is reliable",
    "small": "too few documented people in this group to publish an estimate",
    "unplaceable": (
        "rows of outside lists that match no case are stored without this dimension, so this "
        "group's people on outside lists only are unknown"
    ),
}
WARNINGS = {
    "counted_twice": (
        "rows of outside lists that match no case are not linked between outside lists: a "
        "person on two of them and not a case is counted twice, so the estimate is too high"
    ),
    "dependence": (
        "only two lists: dependence between them cannot be modelled; the estimate assumes "
        "they are independent"
    ),
}


def _not_estimable(base: dict[str, Any], code: str) -> dict[str, Any]:
    return base | {"estimable": False, "reason": code, "reason_text": REASONS[code]}


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": report["method"],
        "estimate": report["estimate"],
        "interval": report["interval"],
        "level": report["level"],
        "loglinear": {
            "estimate": report["loglinear"]["estimate"],
            "interval": report["loglinear"]["interval"],
        },
    }


def _unconverged(report: dict[str, Any]) -> bool:
    conv = report.get("convergence")
    return conv is not None and not conv["converged"]


def _strata(
    cells: dict[str, int | None], k: int, report: dict[str, Any], by: str
) -> list[dict[str, Any]]:
    """Per group of the release's one-way table by `by` (`cells`: category -> the count the
    release shows, None where hidden), its estimate or why there is none."""
    rows = {row["stratum"]: row for row in report["strata"]}
    # withheld: not in the release's table as a published count of at least k
    small = {name for name, n in cells.items() if n is None or n < k}
    withheld = [name for name in small if cells[name] != 0]  # a published zero hides nothing
    if len(withheld) == 1:  # one withheld group: the overall minus the others would approach it
        rest = sorted((n, name) for name, n in cells.items() if name not in small and n)
        if rest:
            small.add(rest[0][1])
    out: list[dict[str, Any]] = []
    for name in cells:  # the release's categories only: a stratum's existence is no news
        row = rows.get(name)
        if name in small or row is None:
            out.append({"stratum": name, "estimable": False, "reason": "small"})
        elif not row["estimable"]:
            reason = row["reason"]
            code = (
                "unplaceable"
                if "stored without" in reason
                else "overlap"
                if "overlap" in reason
                else "lists"
            )
            out.append({"stratum": name, "estimable": False, "reason": code})
        elif _unconverged(row):
            out.append({"stratum": name, "estimable": False, "reason": "converge"})
        else:
            out.append({"stratum": name, "estimable": True} | _figures(row))
    return out


def release_estimate_document(
    session: Session,
    prepared: PreparedRelease,
    outside: Sequence[str],
    by: str | None,
    schedule: Schedule,
) -> dict[str, Any]:
    """The published estimate of a release being cut, from the cases it counts and the outside
    lists `outside` (ids or labels) as they are in the cut's snapshot (`session` is the
    transaction that read `prepared`). Raises HistoryInputError for an unknown list or
    dimension (the cut is refused with the reason)."""
    names = [OWN, *outside]
    k = prepared.k
    base: dict[str, Any] = {"k": k, "sources": len(names), "by": by, "level": LEVEL}
    if not outside:
        return _not_estimable(base, "no_lists")
    histories = release_histories(session, prepared.counted(by), names, by)
    own = sum(n for pattern, n in histories.overall.items() if pattern[0] == 1)
    if own != prepared.cases:  # the own list is the release's counted cases, no other
        raise RuntimeError("the estimate's own list is not the release's counted cases")
    try:
        report = stratified_report(
            histories.lists,
            dict(histories.overall),
            {s: dict(c) for s, c in histories.strata.items()},
            seed=SEED,
            schedule=schedule,
            unstratified=histories.unstratified,
            dimension=by,
        )
    except CaptureError as exc:
        overlap = any("overlap" in p for p in exc.problems)
        return _not_estimable(base, "overlap" if overlap else "lists")
    if _unconverged(report):
        return _not_estimable(base, "converge")
    observed = int(report["observed"])
    warnings = histories.warnings + report["warnings"]
    doc = base | {"estimable": True} | _figures(report)
    doc["observed"] = observed if observed >= k else None
    doc["samples"], doc["seed"] = report["samples"], report["seed"]
    doc["warnings"] = [
        code
        for code, key in (("counted_twice", "counted twice"), ("dependence", "only two lists"))
        if any(key in w for w in warnings)
    ]
    if by is not None:
        doc["strata"] = _strata(prepared.published(by), k, report, by)
    return doc


def release_estimator(outside: Sequence[str], by: str | None, schedule: Schedule) -> Estimator:
    """What release_prepare calls to make the release's estimate in the cut's snapshot."""

    def make(session: Session, prepared: PreparedRelease) -> dict[str, Any]:
        return release_estimate_document(session, prepared, outside, by, schedule)

    return make


def release_estimate_store(
    session: Session, actor: Actor, release: StatsRelease, doc: dict[str, Any]
) -> None:
    """Store the estimate made with the release (release_prepare) beside its tables, in the
    transaction that writes the release (flush only); audited with the release, without any
    count."""
    audit_record(
        session,
        actor,
        "stats.release_estimate",
        object_type="stats_release",
        object_id=release.id,
        details={
            "number": release.number,
            "lists": doc["sources"],
            "by": doc["by"],
            "estimable": bool(doc["estimable"]),
            "reason": doc.get("reason"),
        },
    )
    session.add(
        StatsReleaseTable(
            release_id=release.id,
            k=release.k,
            name=NAME,
            scope=NAME,
            payload=json.dumps(doc, ensure_ascii=False),
        )
    )
    session.flush()


def release_estimate(session: Session, release: StatsRelease) -> dict[str, Any]:
    """The stored estimate of a release; a release cut without one says so."""
    payload = session.scalar(
        select(StatsReleaseTable.payload).where(
            StatsReleaseTable.release_id == release.id,
            StatsReleaseTable.name == NAME,
            StatsReleaseTable.scope == NAME,
        )
    )
    if payload is None:
        return _not_estimable({"k": release.k, "sources": None, "by": None}, "not_made")
    doc: dict[str, Any] = json.loads(payload)
    return doc


def schedule_from(settings: Settings) -> Schedule:
    """The LCMCR schedule of release estimates (LCMCR's defaults unless set shorter)."""
    return Schedule(
        samples=settings.estimate_samples,
        burn_in=settings.estimate_burn_in,
        thin=settings.estimate_thin,
    )
