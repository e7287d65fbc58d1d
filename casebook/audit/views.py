"""The admin's audit viewer: filters, paging, CSV download (itself audited), chain check."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from casebook import db
from casebook.audit.selectors import (
    AuditFilter,
    as_dict,
    audit_all,
    audit_page,
    case_references,
    with_case_reference,
)
from casebook.audit.services import audit_record
from casebook.audit.verify import verify_chain
from casebook.auth.forms import EmptyForm
from casebook.auth.permissions import Permission
from casebook.spreadsheet import csv_writer
from casebook.web import current_actor, requires

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_id",
    "role",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "details",
    "prev_hash",
    "hash",
)


def _filter() -> AuditFilter:
    from casebook.ui import ACTION_LABELS

    a = request.args
    action = a.get("action", "")[:60]
    return AuditFilter(
        actor=a.get("actor", "")[:80],
        action=action,
        action_exact=action in ACTION_LABELS,
        object=a.get("object", "")[:64],
        date_from=a.get("from", "")[:10],
        date_to=a.get("to", "")[:10],
    )


def _people(session: Any) -> dict[str, tuple[str, str]]:
    """Every account as {id: (name, role)}: the viewer names people, never shows their UUIDs,
    and offers them as the person filter."""
    from sqlalchemy import select

    from casebook.auth.models import User

    return {str(u.id): (u.display_name or "", u.role or "") for u in session.scalars(select(User))}


@bp.get("/")
@requires(Permission.AUDIT_READ)
def index() -> Any:
    f = _filter()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = audit_page(db.session(), with_case_reference(db.session(), f), page)
    # Reading the log is itself recorded: the page and the filters (ids and dates, no names).
    audit_record(
        db.session(),
        current_actor(),
        "audit.read",
        details={"view": "audit", "page": page, "rows": len(rows), **f.as_details()},
    )
    return render_template(
        "audit/index.html",
        rows=rows,
        total=total,
        page=page,
        f=f,
        pages=max(1, (total + 99) // 100),
        form=EmptyForm(),
        verdict=None,
        people=_people(db.session()),
        references=case_references(db.session(), rows),
    )


@bp.post("/verify")
@requires(Permission.AUDIT_READ)
def verify() -> Any:
    s = db.session()
    verdict = verify_chain(s)
    audit_record(
        s,
        current_actor(),
        "audit.verify",
        outcome="success" if verdict.ok else "failure",
        details={"entries": verdict.entries, "first_bad": verdict.first_bad},
    )
    rows, total = audit_page(s, AuditFilter(), 1)
    return render_template(
        "audit/index.html",
        rows=rows,
        total=total,
        page=1,
        f=AuditFilter(),
        pages=max(1, (total + 99) // 100),
        form=EmptyForm(),
        verdict=verdict,
        people=_people(s),
        references=case_references(s, rows),
    )


@bp.get("/export.csv")
@requires(Permission.AUDIT_READ)
def export() -> Any:
    s = db.session()
    f = _filter()
    rows = audit_all(s, with_case_reference(s, f))
    audit_record(s, current_actor(), "audit.export", details={"rows": len(rows), **f.as_details()})
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(COLUMNS)
    for entry in rows:
        d = as_dict(entry)
        writer.writerow([d[c] for c in COLUMNS])
    current_app.logger.debug("audit export", extra={"event": "audit_export"})
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=casebook-audit.csv"},
    )
