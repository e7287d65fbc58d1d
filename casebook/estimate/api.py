"""GET /api/v1/stats/estimate: the multiple systems estimate for advocates and lawyers.

Separate from the statistics tables (its own blueprint) but under the same permission and
re-authentication rule. The estimate runs LCMCR's default schedule with a fixed seed, so the
same data always gives the same answer; it is cached per statistics epoch and capture
histories, because a run takes seconds. Counts below k are never published (release.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from casebook import db
from casebook.audit.services import audit_record
from casebook.auth.permissions import Permission
from casebook.estimate.captures import CaptureError
from casebook.estimate.histories import HistoryInputError, case_histories, lists_state
from casebook.estimate.lcmcr import Schedule
from casebook.estimate.release import publish
from casebook.estimate.report import stratified_report
from casebook.stats.queries import stats_epoch
from casebook.stats.services import DEFAULT_K, MIN_K
from casebook.web import current_actor, error_response, recent_auth, requires

api = Blueprint("estimate_api", __name__, url_prefix="/api/v1/stats/estimate")

SEED = 20_161_001  # fixed: the published estimate of the same data never changes
SCHEDULE = Schedule()  # LCMCR's defaults
_CACHE_SIZE = 32


class _Cache:
    """Published documents by a digest of everything they depend on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)


def _cache() -> _Cache:
    c: _Cache = current_app.extensions.setdefault("casebook.estimate_cache", _Cache())
    return c


def _k(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_K
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < MIN_K or value > 1000:
        raise HistoryInputError([f"k is a whole number from {MIN_K} to 1000."])
    return value


@api.get("")
@requires(Permission.STATS_READ)
@recent_auth
def api_estimate() -> Any:
    lists = [n for n in request.args.get("lists", "").split(",") if n.strip()]
    by = request.args.get("by") or None
    session = db.session()
    try:
        k = _k(request.args.get("k"))
        state = lists_state(session, lists, by)  # checks the lists before any case is decrypted
    except HistoryInputError as exc:
        fields: dict[str, list[str]] = {}
        for problem in exc.problems:
            field = problem.split(" ", 1)[0] if problem.startswith(("k ", "by ")) else "lists"
            fields.setdefault(field, []).append(problem)
        return error_response(422, "The query has problems.", fields=fields)
    # Everything the document depends on, without decrypting a case: the statistics epoch moves
    # with every case write that can change a count, the lists' state with every decision.
    digest = hashlib.sha256(
        json.dumps([stats_epoch(session), lists, by, k, state], sort_keys=True).encode()
    ).hexdigest()
    document = _cache().get(digest)
    if document is None:
        try:
            histories = case_histories(session, lists, by)
            report = stratified_report(
                histories.lists,
                dict(histories.overall),
                {s: dict(c) for s, c in histories.strata.items()},
                seed=SEED,
                schedule=SCHEDULE,
                unstratified=histories.unstratified,
                dimension=by,
            )
        except HistoryInputError as exc:
            return error_response(422, "The query has problems.", fields={"lists": exc.problems})
        except CaptureError:
            return error_response(
                422,
                "These lists cannot give an estimate: too little overlap between them.",
                fields={"lists": ["no estimate is possible from these lists"]},
            )
        report["warnings"] = histories.warnings + report["warnings"]
        overall = {"".join(map(str, p)): n for p, n in sorted(histories.overall.items())}
        document = publish(report, overall, k)
        document["lists"] = [n.strip() for n in lists]  # as asked: list labels stay sealed
        _cache().put(digest, document)
    audit_record(
        session,
        current_actor(),
        "stats.estimate",
        details={"lists": len(lists), "by": by, "k": k},
    )
    return jsonify(document)
