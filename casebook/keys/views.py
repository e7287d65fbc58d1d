"""The keys page: `casebook keys status` on the web, for the admin (read only). Rotating,
rewrapping and retiring stay on the command line, where the keyring file lives."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from casebook import db
from casebook.auth.permissions import Permission
from casebook.keys.services import keys_status
from casebook.web import requires

bp = Blueprint("keys", __name__, url_prefix="/admin/keys")


@bp.get("/")
@requires(Permission.KEYS_MANAGE)
def index() -> Any:
    status = keys_status(db.session(), current_app.extensions["casebook.vault"])
    total = sum(count for _id, _status, _created, count in status.keks)
    on_primary = sum(count for kid, _s, _c, count in status.keks if kid == status.primary)
    return render_template(
        "keys/index.html",
        status=status,
        total=total,
        on_primary=on_primary,
        rewrapped=100 if total == 0 else round(100 * on_primary / total),
    )
