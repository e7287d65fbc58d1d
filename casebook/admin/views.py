"""Admin pages: accounts, roles, second factors and tokens. Admins never see case content.

Every change here needs a recent re-authentication and ends the affected user's sessions.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from casebook import db
from casebook.auth import totp
from casebook.auth.forms import EmptyForm, RoleForm, TokenForm, UserCreateForm
from casebook.auth.permissions import Permission
from casebook.auth.selectors import is_live, token_or_404, tokens_of, user_or_404, users_list
from casebook.auth.services import (
    AccountError,
    token_issue,
    token_revoke,
    user_2fa_reset,
    user_create,
    user_disable,
    user_role_change,
)
from casebook.web import current_actor, recent_auth, requires

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


@bp.get("/users")
@requires(Permission.USERS_MANAGE)
def users() -> Any:
    return render_template("admin/users.html", rows=users_list(db.session()), form=EmptyForm())


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
@recent_auth
def user_new() -> Any:
    form = UserCreateForm()
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and form.validate_on_submit():
        password = _temporary_password()
        try:
            user, enrolment = user_create(
                db.session(),
                current_actor(),
                current_app.extensions["casebook.passwords"],
                email=form.email.data,
                display_name=form.display_name.data,
                role=form.role.data,
                language=form.language.data,
                password=password,
                must_change_password=True,
            )
        except AccountError as exc:
            errors = exc.problems
        else:
            return render_template(
                "admin/enrolment.html",
                user=user,
                password=password,
                enrolment=enrolment,
                qr=totp.qr_svg(enrolment.uri),
            )
    elif request.method == "POST":
        errors = {name: list(msgs) for name, msgs in form.errors.items()}
    return render_template("admin/user_new.html", form=form, errors=errors), (
        422 if errors else 200
    )


@bp.get("/users/<user_id>")
@requires(Permission.USERS_MANAGE)
def user_detail(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    return render_template(
        "admin/user_detail.html",
        user=user,
        tokens=tokens_of(s, user),
        now=datetime.now(UTC),
        is_live=is_live,
        form=EmptyForm(),
        role_form=RoleForm(role=user.role),
        token_form=TokenForm(),
    )


@bp.post("/users/<user_id>/disable")
@requires(Permission.USERS_MANAGE)
@recent_auth
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
@recent_auth
def user_role(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    form = RoleForm()
    if form.validate_on_submit():
        user_role_change(s, current_actor(), user, form.role.data)
        flash(_("Role changed; the user's sessions and tokens were ended."))
    return redirect(url_for(".user_detail", user_id=user_id))


@bp.post("/users/<user_id>/reset-2fa")
@requires(Permission.USERS_MANAGE)
@recent_auth
def user_reset_2fa(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    if EmptyForm().validate_on_submit():
        user_2fa_reset(s, current_actor(), user)
        flash(_("Two-factor reset; the user enrols again at the next sign-in."))
    return redirect(url_for(".user_detail", user_id=user_id))


@bp.post("/users/<user_id>/tokens")
@requires(Permission.USERS_MANAGE)
@recent_auth
def token_new(user_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("A token lasts 1 to 366 days."))
        return redirect(url_for(".user_detail", user_id=user_id))
    try:
        token, raw = token_issue(s, current_actor(), user, form.days.data)
    except AccountError as exc:
        flash(" ".join(m for ms in exc.problems.values() for m in ms))
        return redirect(url_for(".user_detail", user_id=user_id))
    return render_template("admin/token.html", user=user, token=token, raw=raw)


@bp.post("/users/<user_id>/tokens/<token_id>/revoke")
@requires(Permission.USERS_MANAGE)
@recent_auth
def token_revoke_view(user_id: str, token_id: str) -> Any:
    s = db.session()
    user = user_or_404(s, user_id)
    token = token_or_404(s, user, token_id)
    if EmptyForm().validate_on_submit():
        token_revoke(s, current_actor(), token)
        flash(_("Token revoked."))
    return redirect(url_for(".user_detail", user_id=user_id))
