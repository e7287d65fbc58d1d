"""Admin pages: accounts, roles, second factors and tokens. Admins never see case content.

Every change here needs a signed-in session with a recent re-authentication (an API token is
refused) and ends the affected user's sessions. Admins list and revoke tokens; they never mint
or see one for someone else (tokens are issued under each user's own account).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from casebook import db
from casebook.audit.services import audit_record
from casebook.auth import totp
from casebook.auth.forms import EmptyForm, RoleForm, UserCreateForm
from casebook.auth.guards import fresh_session
from casebook.auth.permissions import Permission, Role
from casebook.auth.selectors import (
    active_admins,
    is_live,
    request_or_404,
    role_changes,
    token_or_404,
    tokens_of,
    user_or_404,
    users_list,
)
from casebook.auth.services import (
    GUARDED_ROLES,
    AccountError,
    role_change_decide,
    role_change_withdraw,
    token_revoke,
    user_2fa_reset,
    user_create,
    user_disable,
    user_role_change,
)
from casebook.messages import localise_message
from casebook.web import current_actor, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")
WORDS = (
    "cedar",
    "olive",
    "river",
    "jasmine",
    "lantern",
    "harbor",
    "meadow",
    "falcon",
    "amber",
    "willow",
    "quarry",
    "saffron",
    "orchard",
    "pebble",
    "thistle",
    "compass",
    "ember",
    "lilac",
)


def _temporary_password() -> str:
    """Five words and four digits: typed by hand once, then changed at first sign-in."""
    words = "-".join(secrets.choice(WORDS) for _ in range(5))
    return f"{words}-{secrets.randbelow(10000):04d}"


def _duties(user_id: uuid.UUID | None = None) -> dict[str, Any]:
    """What every admin page shows prominently: role changes waiting for a second admin, the
    latest decisions, and whether there is a second admin at all. A user's page shows only
    the changes about that user."""
    s = db.session()
    return {
        "pending": role_changes(s, pending=True, user_id=user_id),
        "decided": role_changes(s, pending=False, limit=5, user_id=user_id),
        "only_admin": active_admins(s) < 2,
    }


@bp.get("/users")
@requires(Permission.USERS_MANAGE)
def users() -> Any:
    return render_template(
        "admin/users.html", rows=users_list(db.session()), form=EmptyForm(), **_duties()
    )


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
@fresh_session
def user_new() -> Any:
    form = UserCreateForm()
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and form.validate_on_submit():
        password = _temporary_password()
        s = db.session()
        # A new lawyer or admin is a role grant too: the account starts as an advocate (no
        # case content) and the role waits for a second admin, as any change to it would.
        wanted = form.role.data
        guarded = wanted in GUARDED_ROLES
        try:
            user, enrolment = user_create(
                s,
                current_actor(),
                current_app.extensions["casebook.passwords"],
                email=form.email.data,
                display_name=form.display_name.data,
                role=Role.ADVOCATE.value if guarded else wanted,
                language=form.language.data,
                password=password,
                must_change_password=True,
            )
            pending = user_role_change(s, current_actor(), user, wanted) if guarded else None
        except AccountError as exc:
            s.rollback()
            errors = exc.problems
        else:
            return render_template(
                "admin/enrolment.html",
                user=user,
                password=password,
                enrolment=enrolment,
                qr=totp.qr_svg(enrolment.uri),
                pending=pending,
                only_admin=active_admins(s) < 2,
            )
    elif request.method == "POST":
        errors = {name: list(msgs) for name, msgs in form.errors.items()}
    only_admin = active_admins(db.session()) < 2
    return render_template(
        "admin/user_new.html", form=form, errors=errors, only_admin=only_admin
    ), (422 if errors else 200)


@bp.get("/users/<user_id>")
@requires(Permission.USERS_MANAGE)
def user_detail(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    audit_record(
        s,
        current_actor(),
        "audit.read",
        object_type="user",
        object_id=user.id,
        details={"view": "user"},
    )
    return render_template(
        "admin/user_detail.html",
        user=user,
        tokens=tokens_of(s, user),
        now=datetime.now(UTC),
        is_live=is_live,
        form=EmptyForm(),
        role_form=RoleForm(role=user.role),
        revoke_endpoint="admin.token_revoke_view",
        revoke_args={"user_id": user.id},
        **_duties(user.id),
    )


@bp.post("/users/<user_id>/disable")
@requires(Permission.USERS_MANAGE)
@fresh_session
def user_disable_view(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    if EmptyForm().validate_on_submit():
        user_disable(s, current_actor(), user, disabled=not user.disabled)
        flash(
            _("The account is disabled: its sessions and tokens ended and it cannot sign in.")
            if user.disabled
            else _("The account is enabled: it can sign in again.")
        )
    return redirect(url_for(".user_detail", user_id=user_id))


@bp.post("/users/<user_id>/role")
@requires(Permission.USERS_MANAGE)
@fresh_session
def user_role(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            pending = user_role_change(s, current_actor(), user, form.role.data)
        except AccountError as exc:
            flash(" ".join(m for ms in exc.problems.values() for m in ms))
        else:
            if pending is not None:
                flash(
                    _(
                        "Role change requested. It takes effect when another administrator "
                        "approves it."
                    )
                )
            else:
                flash(_("Role changed; the user's sessions and tokens were ended."))
    return redirect(url_for(".user_detail", user_id=user_id))


@bp.post("/role-changes/<request_id>/<decision>")
@requires(Permission.USERS_MANAGE)
@fresh_session
def role_change_decision(request_id: str, decision: str) -> Any:
    """The second admin of the two-person rule approves or rejects a pending role change."""
    if decision not in ("approve", "reject", "withdraw"):
        abort(404)
    s = db.session()
    request_row = request_or_404(s, request_id)
    if EmptyForm().validate_on_submit():
        try:
            if decision == "withdraw":
                role_change_withdraw(s, current_actor(), request_row)
            else:
                role_change_decide(s, current_actor(), request_row, approve=decision == "approve")
        except AccountError as exc:
            flash(" ".join(localise_message(m) for ms in exc.problems.values() for m in ms))
        else:
            flash(
                {
                    "approve": _("Role change approved."),
                    "reject": _("Role change rejected."),
                    "withdraw": _("Role change request withdrawn."),
                }[decision]
            )
    return redirect(url_for(".users"))


@bp.post("/users/<user_id>/reset-2fa")
@requires(Permission.USERS_MANAGE)
@fresh_session
def user_reset_2fa(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    if EmptyForm().validate_on_submit():
        user_2fa_reset(s, current_actor(), user)
        flash(_("Two-factor reset; the user enrols again at the next sign-in."))
    return redirect(url_for(".user_detail", user_id=user_id))


@bp.post("/users/<user_id>/tokens/<token_id>/revoke")
@requires(Permission.USERS_MANAGE)
@fresh_session
def token_revoke_view(user_id: str, token_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    token = token_or_404(s, user, token_id)
    if EmptyForm().validate_on_submit():
        token_revoke(s, current_actor(), token)
        flash(_("Token revoked."))
    return redirect(url_for(".user_detail", user_id=user_id))
