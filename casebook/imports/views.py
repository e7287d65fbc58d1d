"""The import upload page (documenters and lawyers) and POST /api/v1/imports.

An upload reaches the view through the encrypted spool (casebook.uploads) and is read into
memory from there; the file is never stored. The run's report is kept, sealed, for its author.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from casebook import db
from casebook.auth.forms import EmptyForm
from casebook.auth.permissions import Permission
from casebook.cases.forms import localise
from casebook.imports.columns import COLUMNS
from casebook.imports.models import ImportRun
from casebook.imports.services import ImportFileError, ImportResult, import_file, report_csv
from casebook.messages import localise_message
from casebook.spreadsheet import csv_text
from casebook.ui import import_summary
from casebook.uploads import uploaded_bytes
from casebook.web import current_actor, denied, error_response, id_or_404, requires

bp = Blueprint("imports", __name__, url_prefix="/imports")
api = Blueprint("imports_api", __name__, url_prefix="/api/v1/imports")


def _flag(name: str) -> bool:
    return request.form.get(name, "").lower() in ("1", "true", "on", "yes")


def _run(data: bytes, filename: str) -> ImportResult:
    return import_file(
        db.session(),
        current_actor(),
        data,
        filename,
        created_by=current_user.id,
        dry_run=_flag("dry_run"),
        skip_invalid=_flag("skip_invalid"),
    )


def _recent_runs() -> list[ImportRun]:
    return list(
        db.session().scalars(
            select(ImportRun)
            .where(ImportRun.created_by == current_user.id)
            .order_by(ImportRun.created_at.desc())
            .limit(10)
        )
    )


@bp.get("/")
@requires(Permission.CASE_CREATE)
def index() -> Any:
    return render_template(
        "imports/index.html", form=EmptyForm(), columns=COLUMNS, runs=_recent_runs(), errors={}
    )


@bp.post("/")
@requires(Permission.CASE_CREATE)
def upload() -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    uploaded = uploaded_bytes()
    errors: dict[str, list[str]] = {}
    result = None
    if uploaded is None or not uploaded[0]:
        errors["file"] = [_("Choose a CSV, XLSX or JSON-lines file.")]
    else:
        try:
            result = _run(*uploaded)
        except ImportFileError as exc:
            errors["file"] = exc.problems
    status = 200 if not errors and result and result.outcome != "refused" else 422
    problems = [
        (row, column, localise({column: [reason]})[column][0])
        for row, column, reason in (result.problems if result else [])
    ]
    return (
        render_template(
            "imports/index.html",
            form=EmptyForm(),
            columns=COLUMNS,
            runs=_recent_runs(),
            errors=errors,
            result=result,
            problems=problems,
        ),
        status,
    )


@bp.get("/<run_id>/report.csv")
@requires(Permission.CASE_CREATE)
def report(run_id: str) -> Response:
    rid = id_or_404(run_id)
    run = db.session().get(ImportRun, rid)
    if run is None or run.created_by != current_user.id:
        denied("import", rid)
        abort(404)  # a report is its author's alone
    # the reasons in the reader's language (stored in English, as the logs and the CLI read
    # them); a byte-order mark so that spreadsheet programs read the Arabic as UTF-8
    problems = [[row, column, localise_message(reason)] for row, column, reason in run.report or []]
    # the first line says what the run did: a check-only run imported nothing
    summary = csv_text([[import_summary(run)]])
    return Response(
        "\ufeff" + summary + report_csv(problems, header=(_("Row"), _("Field"), _("Problem"))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{run.id}.csv"'},
    )


@bp.get("/template.csv")
@requires(Permission.CASE_CREATE)
def template() -> Response:
    return Response(
        "\ufeff" + csv_text([COLUMNS]),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="casebook-import-template.csv"'},
    )


@api.post("")
@requires(Permission.CASE_CREATE)
def api_import() -> Any:
    """multipart "file" (+ dry_run, skip_invalid): 200 with the run, or 422 with every problem
    as `rows.<row>.<field>`."""
    uploaded = uploaded_bytes()
    if uploaded is None or not uploaded[0]:
        return error_response(
            422, "Send the file in a multipart field named 'file'.", fields={"file": ["Missing."]}
        )
    try:
        result = _run(*uploaded)
    except ImportFileError as exc:
        return error_response(422, "The file could not be read.", fields={"file": exc.problems})
    if result.outcome == "refused":
        fields: dict[str, list[str]] = {}
        for row, column, reason in result.problems:
            fields.setdefault(f"rows.{row}.{column}", []).append(reason)
        response = error_response(
            422, f"Nothing was imported: {result.rejected} rows need attention.", fields=fields
        )
        body = response.get_json()
        body["import"] = result.as_json()
        response.set_data(_dumps(body))
        return response
    return result.as_json(), 201 if result.imported and not result.dry_run else 200


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


__all__ = ["api", "bp"]
