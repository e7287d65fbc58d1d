"""Statistics for advocates and lawyers: the table page, CSV and JSON downloads, the printable
brief (Arabic and English, inline SVG charts), and GET /api/v1/stats. Re-authentication is
needed within the last 10 minutes; every export is audited with its parameters."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from casebook import db, vocab
from casebook.auth.permissions import Permission
from casebook.background import start_worker
from casebook.estimate.histories import HistoryInputError
from casebook.estimate.release import release_estimate, schedule_from
from casebook.linkage.models import MatchList
from casebook.spreadsheet import csv_writer
from casebook.stats.charts import bar_chart, interval_chart
from casebook.stats.cuts import (
    RUNNING,
    CutBusyError,
    cut_execute,
    cut_latest,
    cut_reason,
    cut_start,
)
from casebook.stats.queries import DIMENSIONS, ORDERED
from casebook.stats.services import (
    COUNTING,
    ESTIMATING,
    PROTECTING,
    WRITING,
    Release,
    StatsInputError,
    TableCache,
    parse_params,
    pending_changes,
    release_dates,
    release_get,
    release_list,
    stats_table,
)
from casebook.ui import method_sentence, month_label
from casebook.web import current_actor, error_response, recent_auth, requires

bp = Blueprint("stats", __name__, url_prefix="/stats")
api = Blueprint("stats_api", __name__, url_prefix="/api/v1/stats")


class NoReleaseError(Exception):
    """No release has been cut yet, or the one asked for (`number`) does not exist."""

    def __init__(self, number: int | None = None) -> None:
        super().__init__(number)
        self.number = number


def cache() -> TableCache:
    c: TableCache = current_app.extensions.setdefault("casebook.stats_tables", TableCache())
    return c


def _release(export_format: str) -> Release:
    by = request.args.get("by", "")
    second = request.args.get("by2", "").strip()
    if second and second not in by.split(","):
        by = f"{by},{second}"
    number_arg = request.args.get("release", "").strip()
    # a release number fits the database's integer: a longer one is a bad request, not a 500
    number = int(number_arg) if number_arg.isdigit() and len(number_arg) <= 9 else None
    if number_arg and number is None:
        raise StatsInputError({"release": [_("A release is given by its number.")]})
    session = db.session()
    release = release_get(session, number)
    if release is None:
        raise NoReleaseError(number)
    dims, k = parse_params(by, request.args.get("k"), request.args.get("epsilon"), release.k)
    flag = ("1", "true", "yes", "on")
    return stats_table(
        session,
        current_app.extensions["casebook.vault"],
        current_actor(),
        cache(),
        release=release,
        dimensions=dims,
        k=k,
        verified_only=request.args.get("verified", "").lower() in flag,
        grouped=request.args.get("grouped", "").lower() in flag,
        export_format=export_format,
    )


def no_release_message(number: int | None) -> str:
    """Why there are no numbers: none published yet, or not the release asked for."""
    if number is not None:
        return str(_("There is no statistics release %(number)s.", number=number))
    return str(_("No statistics release has been published yet."))


def _no_release(exc: NoReleaseError) -> Response:
    return error_response(404, no_release_message(exc.number))


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


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


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
    if ".." in value:  # merged years or age bands
        first, last = value.split("..", 1)
        return f"{label(dimension, first)} – {label(dimension, last)}"
    if value.endswith("-unknown"):
        return str(_("%(year)s (month unknown)", year=value[:4]))
    if dimension == "arrest_month" and _MONTH.fullmatch(value):
        # in words, with the month names Syrians use in Arabic (كانون الأول 2016)
        return month_label(int(value[:4]), int(value[5:]))
    if value == "before_2011":
        return "قبل 2011" if lang == "ar" else "Before 2011"
    if value == "other":
        return "أخرى" if lang == "ar" else "Other"
    if dimension in names:
        term = vocab.ALL[names[dimension]].get(value)
        return term.label(lang) if term else value
    return value


def member_labels(dimension: str, members: list[str]) -> list[str]:
    """A merged group's categories in words: in their order for years and ages, else in the
    order of the reader's alphabet."""
    labels = [label(dimension, m) for m in members]
    return labels if dimension in ORDERED else sorted(labels)


def shape(release: Release) -> dict[str, Any]:
    """What a reader must be told about a table's shape before reading it as a breakdown: which
    categories were merged, whether the table collapsed to its total (every category of both
    dimensions merged into one), whether every row or a single row is hidden."""
    cells = [v for row in release.values for v in row]
    hidden = sum(v is None for v in cells)
    merged = []
    for dimension in release.dimensions:
        for code, members in (release.members.get(dimension) or {}).items():
            if len(members) > 1:
                merged.append(
                    (
                        dimension_label(dimension),
                        label(dimension, code),
                        member_labels(dimension, members),
                    )
                )
    two_way = len(release.dimensions) == 2
    # rows and columns that hold anyone (a shown zero holds nobody)
    rows_used = [t for t in release.row_totals if t != 0]
    cols_used = [t for t in release.col_totals if t != 0]
    cells_hidden = hidden > 0 and all(v is None or v == 0 for v in cells)
    margins = [t for t in [*release.row_totals, *release.col_totals] if t]
    return {
        "merged": merged,
        # every category merged into one: the table is its total, not a breakdown
        "collapsed": len(rows_used) <= 1 and (len(cols_used) <= 1 or not two_way) and bool(merged),
        # nothing but the total is shown
        "all_hidden": cells_hidden and not (two_way and margins),
        # a breakdown whose every cell is hidden while its row and column totals are shown
        "cells_hidden": cells_hidden and two_way and bool(margins),
        "one_hidden": not two_way and release.grouped and hidden == 1 and release.total is not None,
        # the bar chart draws the row totals: only where there is one to draw
        "drawn": any(t for t in release.row_totals),
    }


def estimate_chart(doc: dict[str, Any] | None) -> Markup | None:
    """The release's estimate drawn: documented count, estimated total and its interval."""
    if not doc or not doc.get("estimable"):
        return None
    return interval_chart(
        doc.get("observed"),
        int(doc["estimate"]),
        (doc["interval"][0], doc["interval"][1]),
        (
            _("Documented"),
            _("Estimated total"),
            _("Documented count and estimated total with its interval"),
        ),
        rtl=str(get_locale()) == "ar",
    )


@bp.get("/")
@requires(Permission.STATS_READ)
@recent_auth
def index() -> Any:
    release, errors, missing = None, {}, ""
    if request.args.get("by"):
        try:
            release = _release("page")
        except StatsInputError as exc:
            errors = exc.fields
        except NoReleaseError as exc:
            missing = no_release_message(exc.number)
    session = db.session()
    latest = release_get(session, None)
    number_arg = request.args.get("release", "").strip()
    shown = None
    if number_arg.isdigit() and len(number_arg) <= 9:
        shown = release_get(session, int(number_arg))
    shown = shown or latest
    estimate = release_estimate(session, shown) if shown else None
    chart, table_shape = None, None
    if release is not None:
        table_shape = shape(release)
    if (
        release is not None
        and table_shape
        and table_shape["drawn"]
        and not (table_shape["collapsed"])
    ):
        first = release.dimensions[0]
        series = [
            (label(first, r), t) for r, t in zip(release.rows, release.row_totals, strict=True)
        ]
        chart = bar_chart(series, rtl=str(get_locale()) == "ar")
    return render_template(
        "stats/index.html",
        release=release,
        latest=latest,
        releases=release_dates(session),
        shown_release=shown,
        estimate=estimate,
        estimate_chart=estimate_chart(estimate),
        estimate_release=shown,
        missing=missing,
        chart=chart,
        shape=table_shape,
        errors=errors,
        dimensions=DIMENSIONS,
        args=request.args,
        label=label,
        dimension_label=dimension_label,
        can_release=current_user.can(Permission.STATS_RELEASE),
    ), (422 if errors else 200)


@bp.get("/releases")
@requires(Permission.STATS_RELEASE)
def releases() -> Any:
    """Lawyers and admins cut releases (admins cannot read statistics, only cut them); the
    cut going, or the last one, is shown with its step or its outcome."""
    session = db.session()
    outside = [
        (str(m.id), m.label or str(m.id)[:8], m.rows)
        for m in session.scalars(select(MatchList).order_by(MatchList.created_at))
    ]
    cut = cut_latest(session)  # releases a cut whose worker died (the request commits it)
    settings = current_app.config["CASEBOOK"]
    listed = release_list(session)
    least = settings.release_min_changes
    if listed:  # after the first release a cut needs at least k changes whatever the setting
        least = max(least, settings.stats_k)
    # counting reads every case's counted facets (seconds at 100,000 cases), so only when
    # asked; it tells the count a cut would report, nothing more
    changes = (
        pending_changes(session, current_app.extensions["casebook.vault"], settings.stats_k)
        if request.args.get("changes") == "1" and (cut is None or cut.state != RUNNING)
        else None
    )
    return render_template(
        "stats/releases.html",
        releases=listed,
        outside=outside,
        dimensions=DIMENSIONS,
        dimension_label=dimension_label,
        cut=cut,
        cut_reason=cut_reason(cut, _) if cut is not None else "",
        cut_step=CUT_STEP_LABELS.get(cut.step, cut.step) if cut is not None else "",
        running=cut is not None and cut.state == RUNNING,
        min_changes=least,
        changes=changes,
    )


CUT_STEP_LABELS = {
    COUNTING: _l("reading and counting the cases"),
    PROTECTING: _l("protecting the tables"),
    ESTIMATING: _l("estimating the total from the outside lists"),
    WRITING: _l("writing the release"),
}


def _outside_lists(session: Session, chosen: list[str]) -> list[str]:
    """Ids of the outside lists chosen on the release form for the estimate."""
    known = {str(i) for i in session.scalars(select(MatchList.id))}
    if any(c not in known for c in chosen):
        raise HistoryInputError([_("An outside list chosen for the estimate does not exist.")])
    return list(dict.fromkeys(chosen))


def _start_cut(cut_id: Any, actor: Any) -> None:
    """Cut in a thread of this worker once the start is committed (casebook.background)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["CASEBOOK"]
    start_worker(
        "casebook.release_threads",
        f"casebook-release-cut-{cut_id}",
        lambda: cut_execute(
            app.extensions["casebook.db"],
            app.extensions["casebook.vault"],
            actor,
            cut_id,
            k=settings.stats_k,
            min_changes=settings.release_min_changes,
            schedule=schedule_from(settings),
        ),
    )


@bp.post("/releases")
@requires(Permission.STATS_RELEASE)
@recent_auth
def releases_create() -> Any:
    """Start a cut (one at a time); the releases page follows it to its end."""
    session = db.session()
    by = request.form.get("estimate_by") or None
    note = (request.form.get("note") or "").strip()[:200] or None
    try:
        if by is not None and by not in DIMENSIONS:
            raise HistoryInputError([_("Choose a dimension from the list.")])
        lists = _outside_lists(session, request.form.getlist("estimate_list"))
        actor = current_actor()
        cut = cut_start(
            session,
            actor,
            started_by=current_user.id,
            note=note,
            estimate_lists=lists,
            estimate_by=by,
        )
    except HistoryInputError as exc:
        session.rollback()
        flash(" ".join(exc.problems), "error")
        return redirect(url_for("stats.releases"), 303)
    except CutBusyError:
        session.rollback()
        flash(_("A release is already being cut. Wait for it to finish."), "error")
        return redirect(url_for("stats.releases"), 303)
    cut_id = cut.id
    db.after_commit(session, lambda: _start_cut(cut_id, actor))
    # no message: the page shows the cut itself, going or ended (a message saying it is going
    # would stand beside its refusal when it ends at once)
    return redirect(url_for("stats.releases"), 303)


@bp.get("/brief")
@requires(Permission.STATS_READ)
@recent_auth
def brief() -> Any:
    try:
        release = _release("brief")
    except StatsInputError as exc:
        return error_response(422, " ".join(m for ms in exc.fields.values() for m in ms))
    except NoReleaseError as exc:
        return _no_release(exc)
    first = release.dimensions[0]
    series = [(label(first, r), t) for r, t in zip(release.rows, release.row_totals, strict=True)]
    table_shape = shape(release)
    drawn = table_shape["drawn"] and not table_shape["collapsed"]
    stored = release_get(db.session(), release.number)
    estimate = release_estimate(db.session(), stored) if stored else None
    return render_template(
        "stats/brief.html",
        release=release,
        newer=newer_release(release),
        estimate=estimate,
        estimate_chart=estimate_chart(estimate),
        estimate_release=stored,
        label=label,
        dimension_label=dimension_label,
        dimensions_title=" × ".join(map(dimension_label, release.dimensions)),
        chart=bar_chart(series, rtl=str(get_locale()) == "ar") if drawn else None,
        shape=table_shape,
    )


def newer_release(release: Release) -> tuple[int, datetime] | None:
    """The latest release's number and date when `release` is an earlier one (a brief or file
    of old numbers says so), else None."""
    latest = release_get(db.session(), None)
    if latest is None or latest.number <= release.number:
        return None
    return latest.number, latest.created_at


def _csv(release: Release, newer: tuple[int, datetime] | None = None) -> str:
    """The table in the reader's language: each dimension's code (for tools) and its label (for
    people), the count, and notes on how it was protected."""
    out = io.StringIO()
    writer = csv_writer(out)
    # `kind` tells a table's cells from its margins and total, which a script summing the
    # count column must leave out ("total" stands in the codes of a margin's other dimension)
    writer.writerow(
        [
            *release.dimensions,
            "count",
            "suppressed",
            *(dimension_label(d) for d in release.dimensions),
            "kind",
        ]
    )

    def row(codes: list[str], count: int | str | None, flag: str, kind: str) -> None:
        writer.writerow(
            [
                *codes,
                "" if count is None else count,
                flag,
                *(
                    _("Total") if code == "total" else label(d, code)
                    for d, code in zip(release.dimensions, codes, strict=True)
                ),
                kind,
            ]
        )

    def flag(count: int | None) -> str:
        return "true" if count is None else "false"

    for cell in release.cells():
        row([cell[d] for d in release.dimensions], cell["count"], flag(cell["count"]), "cell")
    if len(release.dimensions) > 1:  # the margins the page and the JSON show beside the cells
        for r, t in zip(release.rows, release.row_totals, strict=True):
            row([r, "total"], t, flag(t), "margin")
        for c, t in zip(release.cols, release.col_totals, strict=True):
            row(["total", c], t, flag(t), "margin")
    rounded = release.total is None and release.total_range is not None
    total: int | str | None = release.total
    if release.total_range is not None and release.total is None:
        total = f"{release.total_range[0]}-{release.total_range[1]}"
    row(
        ["total"] * len(release.dimensions),
        total,
        "rounded" if rounded else flag(release.total),
        "total",
    )
    writer.writerow([])

    def comment(text: str) -> None:
        """A note line as scripts skip them (pandas' and R's comment character): "#" first,
        never quoted, one line (a spreadsheet may spread its commas over cells)."""
        out.write("# " + " ".join(text.split()) + "\r\n")

    table_shape = shape(release)
    if table_shape["collapsed"]:
        comment(_("Every category had to be merged into one, so this is not a breakdown."))
    for dimension, group, members in table_shape["merged"]:  # as the page says them
        comment(
            f"{dimension}: "
            + _("“%(group)s” is %(members)s", group=group, members=", ".join(members))
        )
    comment(f"{_('Method')}: {method_sentence(release)}")
    states = (
        _("Only cases verified by a lawyer are counted.")
        if release.verified_only
        else _("Cases awaiting or under review are counted with verified ones.")
    )
    comment(states)
    if release.total_range is not None and rounded:
        low, high = release.total_range
        rounded_note = _(
            "The total is rounded: it is between %(low)s and %(high)s (shown exactly, it "
            "would be a small number or let someone work out a hidden one).",
            low=low,
            high=high,
        )
        comment(rounded_note)
        comment(_("While the total is rounded, zeros are hidden too: a hidden cell may be 0."))
    comment(
        _(
            "Data as of %(date)s (release %(n)s); documented cases are a minimum.",
            date=release.released_at,
            n=release.number,
        )
    )
    if newer is not None:  # (number, date) of the latest release
        comment(
            _(
                "An earlier release: the latest is release %(n)s, data as of %(date)s.",
                n=newer[0],
                date=f"{newer[1]:%Y-%m-%d}",
            )
        )
    return out.getvalue()


def _download(fmt: str, render: Callable[[Release], str], mimetype: str) -> Any:
    try:
        release = _release(fmt)
    except StatsInputError as exc:
        return error_response(422, " ".join(m for ms in exc.fields.values() for m in ms))
    except NoReleaseError as exc:
        return _no_release(exc)
    # the file says which release and which cases it holds: two downloads of one table from
    # two releases are two files, not "casebook-governorate (1).csv"
    scope = "-verified" if release.verified_only else ""
    grouped = "-grouped" if release.grouped and len(release.dimensions) == 1 else ""
    name = (
        f"casebook-release{release.number}-{release.released_at}-"
        + "-".join(release.dimensions)
        + f"{scope}{grouped}.{fmt}"
    )
    return Response(
        render(release),
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.get("/export.csv")
@requires(Permission.STATS_READ)
@recent_auth
def export_csv() -> Any:
    # a byte-order mark first: Excel reads a CSV without one in the machine's code page and
    # turns its Arabic labels into mojibake (pandas and csv readers skip it)
    return _download("csv", lambda r: "\ufeff" + _csv(r, newer_release(r)), "text/csv")


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
        return error_response(422, _("The query has problems."), fields=exc.fields)
    except NoReleaseError as exc:
        return _no_release(exc)
    return jsonify(release.as_json())


@api.get("/releases")
@requires(Permission.STATS_READ)
def api_releases() -> Any:
    """The releases an advocate can query, newest first."""
    return jsonify(
        {
            "items": [
                {
                    "number": r.number,
                    "date": r.created_at.strftime("%Y-%m-%d"),
                    "k": r.k,
                    "mode": r.mode,
                    "scopes": r.scopes,
                    "cases": r.cases,
                }
                for r in release_list(db.session())
            ]
        }
    )
