"""The administrator's key page: the facts of `casebook keys status`, read only. Key operations
stay on the command line, where the keyring's source (file, passphrase) is at hand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from casebook import db
from casebook.audit.services import audit_record
from casebook.auth.permissions import Permission
from casebook.encrypted import Vault
from casebook.keys.services import keys_status
from casebook.web import current_actor, requires

bp = Blueprint("keys", __name__, url_prefix="/admin/keys")


@bp.get("/")
@requires(Permission.KEYS_MANAGE)
def status() -> Any:
    vault: Vault = current_app.extensions["casebook.vault"]
    st = keys_status(db.session(), vault)
    total = sum(count for _kid, _state, _created, count in st.keks)
    audit_record(db.session(), current_actor(), "audit.read", details={"view": "keys"})
    return render_template(
        "keys/status.html",
        st=st,
        total=total,
        under_primary=total - st.rewrap_remaining,
    )
