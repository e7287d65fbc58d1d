"""GET /api/v1/stats/estimate: a release's multiple systems estimate, for advocates and lawyers.

Separate from the statistics tables (its own blueprint) but under the same permission and
re-authentication rule. The estimate is part of a release: computed when the release was cut
and stored with it (release.py), so it is served as stored, dated by the release, and changes
only with the next release. Counts below k are never published.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from casebook import db
from casebook.audit.services import audit_record
from casebook.auth.permissions import Permission
from casebook.estimate.release import release_estimate
from casebook.stats.services import release_get
from casebook.web import current_actor, error_response, recent_auth, requires

api = Blueprint("estimate_api", __name__, url_prefix="/api/v1/stats/estimate")


@api.get("")
@requires(Permission.STATS_READ)
@recent_auth
def api_estimate() -> Any:
    fields: dict[str, list[str]] = {}
    for name in ("lists", "by", "k"):
        if request.args.get(name):
            fields[name] = [
                _(
                    "Estimates come from statistics releases: the lists and the dimension are "
                    "chosen when a release is cut, at the release's k."
                )
            ]
    number_arg = request.args.get("release", "").strip()
    number = int(number_arg) if number_arg.isdigit() and len(number_arg) <= 9 else None
    if number_arg and number is None:
        fields["release"] = [_("A release is given by its number.")]
    if fields:
        return error_response(422, _("The query has problems."), fields=fields)
    session = db.session()
    release = release_get(session, number)
    if release is None:
        if number is not None:
            return error_response(
                404, _("There is no statistics release %(number)s.", number=number)
            )
        return error_response(404, _("No statistics release has been published yet."))
    date = release.created_at.strftime("%Y-%m-%d")
    document = {
        "release": {"number": release.number, "date": date},
        "data_as_of": date,
    } | release_estimate(session, release)
    audit_record(
        session,
        current_actor(),
        "stats.estimate",
        details={"release": release.number},
    )
    return jsonify(document)
