"""Statistics for advocates and lawyers: the table page, CSV and JSON downloads, the printable
brief (Arabic and English, inline SVG charts), and GET /api/v1/stats. Re-authentication is
needed within the last 10 minutes; every export is audited with its parameters."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from casebook import db, vocab
from casebook.auth.permissions import Permission
from casebook.spreadsheet import csv_writer
from casebook.stats.charts import bar_chart
from casebook.stats.queries import DIMENSIONS, StatsCache
from casebook.stats.services import (
    DEFAULT_K,
    Release,
    StatsInputError,
    dp_spent,
    parse_params,
    stats_release,
)
from casebook.web import current_actor, error_response, recent_auth, requires

bp = Blueprint("stats", __name__, url_prefix="/stats")
api = Blueprint("stats_api", __name__, url_prefix="/api/v1/stats")


def cache() -> StatsCache:
    c: StatsCache = current_app.extensions.setdefault("casebook.stats_cache", StatsCache())
    return c


def _release(export_format: str) -> Release:
    by = request.args.get("by", "")
    second = request.args.get("by2", "").strip()
    if second and second not in by.split(","):
        by = f"{by},{second}"
    dims, k, eps = parse_params(by, request.args.get("k"), request.args.get("epsilon"))
    verified = request.args.get("verified", "").lower() in ("1", "true", "yes", "on")
    return stats_release(
        db.session(),
        current_app.extensions["casebook.vault"],
        current_actor(),
        cache(),
        dimensions=dims,
        k=k,
        epsilon=eps,
        verified_only=verified,
        budget=current_app.config["CASEBOOK"].dp_budget,
        export_format=export_format,
    )


def dimension_label(dimension: str) -> str:
    labels: dict[str, str] = {
        "arrest_year": _("Year of arrest"),
        "arrest_month": _("Month of arrest"),
        "governorate": _("Governorate"),
        "sex": _("Sex"),
        "age_band": _("Age at arrest"),
        "perpetrator": _("Forces believed responsible"),
        "facility": _("Facility"),
        "status": _("Current status"),
    }
    return labels.get(dimension, dimension)


def label(dimension: str, value: str) -> str:
    lang = str(get_locale() or "ar")
    names = {
        "governorate": "governorate",
        "sex": "sex",
        "age_band": "age_band",
        "perpetrator": "perpetrator_group",
        "facility": "facility",
        "status": "status",
    }
    if value == "unknown":
        return "غير معروف" if lang == "ar" else "Unknown"
    if value == "before_2011":
        return "قبل 2011" if lang == "ar" else "Before 2011"
    if value == "other":
        return "أخرى" if lang == "ar" else "Other"
    if dimension in names:
        term = vocab.ALL[names[dimension]].get(value)
        return term.label(lang) if term else value
    return value


@bp.get("/")
@requires(Permission.STATS_READ)
@recent_auth
def index() -> Any:
    release, errors = None, {}
    if request.args.get("by"):
        try:
            release = _release("page")
        except StatsInputError as exc:
            errors = exc.fields
    return render_template(
        "stats/index.html",
        release=release,
        errors=errors,
        dimensions=DIMENSIONS,
        args=request.args,
        label=label,
        dimension_label=dimension_label,
        default_k=DEFAULT_K,
    ), (422 if errors else 200)


@bp.get("/brief")
@requires(Permission.STATS_READ)
@recent_auth
def brief() -> Any:
    try:
        release = _release("brief")
    except StatsInputError as exc:
        return error_response(422, " ".join(m for ms in exc.fields.values() for m in ms))
    first = release.dimensions[0]
    series = [(label(first, r), t) for r, t in zip(release.rows, release.row_totals, strict=True)]
    return render_template(
        "stats/brief.html",
        release=release,
        label=label,
        dimension_label=dimension_label,
        dimensions_title=" × ".join(map(dimension_label, release.dimensions)),
        chart=bar_chart(series, rtl=str(get_locale()) == "ar"),
    )


def _csv(release: Release) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([*release.dimensions, "count", "suppressed"])
    for cell in release.cells():
        writer.writerow(
            [
                *(cell[d] for d in release.dimensions),
                "" if cell["count"] is None else cell["count"],
                "true" if cell["suppressed"] else "false",
            ]
        )
    writer.writerow(
        ["total"]
        + [""] * (len(release.dimensions) - 1)
        + [
            "" if release.total is None else release.total,
            "true" if release.total is None else "false",
        ]
    )
    writer.writerow([])
    writer.writerow([f"# method: {release.method}"])
    writer.writerow([f"# extracted: {release.extracted_at}; documented cases are a minimum"])
    return out.getvalue()


def _download(fmt: str, render: Callable[[Release], str], mimetype: str) -> Any:
    try:
        release = _release(fmt)
    except StatsInputError as exc:
        return error_response(422, " ".join(m for ms in exc.fields.values() for m in ms))
    name = "casebook-" + "-".join(release.dimensions) + "." + fmt
    return Response(
        render(release),
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.get("/export.csv")
@requires(Permission.STATS_READ)
@recent_auth
def export_csv() -> Any:
    return _download("csv", _csv, "text/csv")


@bp.get("/export.json")
@requires(Permission.STATS_READ)
@recent_auth
def export_json() -> Any:
    return _download(
        "json", lambda r: json.dumps(r.as_json(), ensure_ascii=False, indent=1), "application/json"
    )


@api.get("")
@requires(Permission.STATS_READ)
@recent_auth
def api_stats() -> Any:
    try:
        release = _release("api")
    except StatsInputError as exc:
        return error_response(422, "The query has problems.", fields=exc.fields)
    return jsonify(release.as_json())


@api.get("/budget")
@requires(Permission.STATS_READ)
def api_budget() -> Any:
    """How much of this period's differential-privacy budget is spent."""
    from datetime import UTC, datetime

    period = datetime.now(UTC).strftime("%Y-%m")
    budget = current_app.config["CASEBOOK"].dp_budget
    spent = dp_spent(db.session(), period)
    return jsonify(
        {"period": period, "budget": budget, "spent": spent, "remaining": max(0.0, budget - spent)}
    )
