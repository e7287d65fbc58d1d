"""GET /api/v1/audit?after=SEQ: the log in order, for shipping off the host (admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from casebook import db
from casebook.audit.selectors import as_dict, audit_after
from casebook.audit.services import audit_record
from casebook.auth.permissions import Permission
from casebook.web import current_actor, error_response, requires

bp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")


@bp.get("")
@requires(Permission.AUDIT_READ)
def entries() -> Any:
    problems: dict[str, list[str]] = {}
    after = request.args.get("after", "0")
    limit = request.args.get("limit", "500")
    if not after.isdigit():
        problems["after"] = ["Must be a whole number (a sequence number)."]
    if not limit.isdigit() or not 1 <= int(limit) <= 5000:
        problems["limit"] = ["Must be a whole number from 1 to 5000."]
    if problems:
        return error_response(422, "The query has problems.", fields=problems)
    s = db.session()
    rows = audit_after(s, int(after), int(limit))
    audit_record(s, current_actor(), "audit.read", details={"after": int(after), "rows": len(rows)})
    return jsonify(
        {"items": [as_dict(r) for r in rows], "next_after": rows[-1].seq if rows else int(after)}
    )
