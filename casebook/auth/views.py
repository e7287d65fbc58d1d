"""Sign-in with two factors, enrolment, re-authentication, password change, language."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from casebook import db
from casebook.audit.services import Actor, audit_record
from casebook.auth import totp
from casebook.auth.forms import (
    CodeForm,
    EmptyForm,
    LanguageForm,
    LoginForm,
    PasswordChangeForm,
    ReauthForm,
    TokenForm,
)
from casebook.auth.guards import fresh_session
from casebook.auth.limits import (
    ACCOUNT_LIMITS,
    ADDRESS_LIMITS,
    PENDING_ATTEMPTS,
    account_key,
    limiter,
    second_factor_limit,
)
from casebook.auth.models import RecoveryCode, User
from casebook.auth.passwords import Passwords
from casebook.auth.permissions import Permission
from casebook.auth.selectors import is_live, token_or_404, tokens_of
from casebook.auth.services import (
    AccountError,
    password_change,
    recovery_codes_replace,
    second_factor_check,
    second_factor_claim,
    sessions_end_all,
    token_issue,
    token_revoke,
    totp_begin_enrolment,
    totp_confirm,
    user_by_email,
)
from casebook.auth.sessions import sessions_purge
from casebook.web import current_actor, public, requires, safe_next

bp = Blueprint("auth", __name__)
PENDING_SECONDS = 300


def _passwords() -> Passwords:
    p: Passwords = current_app.extensions["casebook.passwords"]
    return p


def _failed(response: Any) -> bool:
    return bool(getattr(response, "casebook_failed", False))


def _refuse(template: str, status: int = 200, **context: Any) -> Any:
    response = current_app.make_response((render_template(template, **context), status))
    response.casebook_failed = True  # type: ignore[attr-defined]  # read by the limiter
    return response


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(ADDRESS_LIMITS, methods=["POST"])
@limiter.limit(ACCOUNT_LIMITS, key_func=account_key, methods=["POST"], deduct_when=_failed)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        expired = getattr(session, "expired", False)
        return render_template("auth/login.html", form=form, expired=expired)
    if not form.validate_on_submit():
        return _refuse("auth/login.html", form=form, error=_("Enter your email and password."))
    s = db.session()
    user = user_by_email(s, form.email.data)
    passwords = _passwords()
    # The password is checked against a dummy hash for unknown accounts: same time, same answer.
    good = passwords.verify(user.password_hash if user else None, form.password.data)
    if not good or user is None or user.disabled:
        audit_record(
            s,
            Actor.anonymous(),
            "login.failure",
            object_type="user",
            object_id=user.id if user else None,
            outcome="failure",
            details={"stage": "password"},
        )
        duress = current_app.config["CASEBOOK"].duress_hash
        if duress and passwords.verify(duress, form.password.data):
            # The duress password (any account): seal, and answer as to any wrong password.
            from casebook.seal.views import seal_now

            seal_now(Actor.anonymous(), "sign-in")
        return _refuse("auth/login.html", form=form, error=_("The email or password is not right."))
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(form.password.data)
    sessions_purge(s, current_app.config["CASEBOOK"])  # cheap housekeeping, indexed
    lang = session.get("lang")
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session["pending_user"] = str(user.id)
    session["pending_at"] = time.time()
    if lang:
        session["lang"] = lang
    elif user.language:
        # the second step is in the account's language, as every page after it (the
        # browser may ask for another)
        session["pending_lang"] = user.language
    audit_record(s, Actor.anonymous(), "login.password", object_type="user", object_id=user.id)
    target = ".enrol" if user.totp_confirmed_at is None else ".verify"
    return redirect(url_for(target, next=safe_next(form.next.data)))


def _pending_user() -> User | None:
    uid, started = session.get("pending_user"), session.get("pending_at", 0)
    if not uid or time.time() - float(started) > PENDING_SECONDS:
        return None
    user = db.session().get(User, uuid.UUID(uid))
    if user is None or user.disabled:
        return None
    g.second_factor_user = str(user.id)  # the throttle's key, kept if a lockout clears it
    return user


def _end_pending() -> Any:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Too many wrong codes. Sign in with your password again."))
    response = redirect(url_for(".login"))
    response.casebook_failed = True  # type: ignore[attr-defined]  # read by the limiter
    return response


def _claim_attempt(user: User) -> Any | None:
    """Claim an attempt before a code is checked: the account's wrong codes are counted in the
    database under its row lock (see `second_factor_claim`), so parallel requests and other
    workers cannot all pass the check together. Returns a refusal, or None to go on."""
    since = datetime.fromtimestamp(float(session.get("pending_at", 0)), UTC)
    claim = second_factor_claim(db.session(), user, since)
    if claim.pending >= PENDING_ATTEMPTS:
        return _end_pending()  # this pending sign-in is already locked
    if claim.throttled:
        abort(429)
    g.second_factor_pending = claim.pending
    return None


def _wrong_code(user: User, stage: str, template: str, error: str, **context: Any) -> Any:
    """Record a wrong code against this pending sign-in (in the database, with the attempt
    claimed under the account's lock); the PENDING_ATTEMPTS-th drops the pending sign-in and
    the password must be given again. Every wrong code also counts against the account's own
    second-factor throttle, so repeated lockouts throttle the account."""
    s = db.session()
    audit_record(
        s,
        Actor.anonymous(),
        "login.failure",
        object_type="user",
        object_id=user.id,
        outcome="failure",
        details={"stage": stage},
    )
    failures = int(g.get("second_factor_pending", 0)) + 1
    if failures < PENDING_ATTEMPTS:
        return _refuse(template, error=error, **context)
    audit_record(
        s,
        Actor.anonymous(),
        "login.locked",
        object_type="user",
        object_id=user.id,
        outcome="failure",
        details={"attempts": failures},
    )
    return _end_pending()


def _complete_login(user: User, factor: str, next_url: str | None) -> Any:
    lang = session.get("lang")
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    login_user(user)
    now = time.time()
    session["auth_at"] = now
    session["reauth_at"] = now
    if lang:
        session["lang"] = lang
    audit_record(
        db.session(),
        Actor.user(str(user.id), user.role),
        "login.success",
        object_type="user",
        object_id=user.id,
        details={"factor": factor},
    )
    if user.must_change_password:
        return redirect(url_for(".password"))
    return redirect(safe_next(next_url))


@bp.route("/login/verify", methods=["GET", "POST"])
@public
@limiter.limit(ADDRESS_LIMITS, methods=["POST"])
@second_factor_limit()
def verify() -> Any:
    user = _pending_user()
    if user is None:
        flash(_("Please sign in again."))
        return redirect(url_for(".login"))
    if user.totp_confirmed_at is None:
        return redirect(url_for(".enrol"))
    form = CodeForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        return render_template("auth/verify.html", form=form)
    s = db.session()
    refused = _claim_attempt(user)
    if refused is not None:
        return refused
    factor = (
        second_factor_check(s, user, form.code.data or "") if form.validate_on_submit() else None
    )
    if factor is None:
        return _wrong_code(
            user,
            "second_factor",
            "auth/verify.html",
            _("That code is not right, or it was already used."),
            form=form,
        )
    return _complete_login(user, factor, form.next.data)


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
@limiter.limit(ADDRESS_LIMITS, methods=["POST"])
@second_factor_limit()
def enrol() -> Any:
    user = _pending_user()
    if user is None:
        flash(_("Please sign in again."))
        return redirect(url_for(".login"))
    if user.totp_confirmed_at is not None:
        return redirect(url_for(".verify"))
    s = db.session()
    if user.totp_secret is None:
        totp_begin_enrolment(s, Actor.user(str(user.id), user.role), user)
    form = CodeForm()
    # no recovery code exists before the app is set up: the field asks for the app's code
    form.code.label.text = _("Code from your authenticator app")
    secret = user.totp_secret or ""
    uri = totp.provisioning_uri(secret, user.email or "")
    context: dict[str, Any] = {"form": form, "secret": secret, "qr": totp.qr_svg(uri)}
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        return render_template("auth/enrol.html", **context)
    actor = Actor.user(str(user.id), user.role)
    refused = _claim_attempt(user)
    if refused is not None:
        return refused
    if not (form.validate_on_submit() and totp_confirm(s, actor, user, form.code.data or "")):
        return _wrong_code(
            user,
            "enrolment",
            "auth/enrol.html",
            _("That code is not right. Check the time on your phone and try the next code."),
            **context,
        )
    has_codes = s.query(RecoveryCode.id).filter(RecoveryCode.user_id == user.id).first()
    response = _complete_login(user, "totp", form.next.data)
    if has_codes is None:
        codes = recovery_codes_replace(s, user)
        return render_template(
            "auth/recovery_codes.html", codes=codes, next=response.headers.get("Location", "/")
        )
    return response


@bp.post("/logout")
@requires(Permission.ACCOUNT)
def logout() -> Any:
    s = db.session()
    ended = sessions_end_all(s, current_user.id)
    audit_record(
        s,
        current_actor(),
        "logout",
        object_type="user",
        object_id=current_user.id,
        details={"sessions_ended": ended},
    )
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."))
    return redirect(url_for(".login"))


@bp.route("/reauth", methods=["GET", "POST"])
@requires(Permission.ACCOUNT)
@limiter.limit(ADDRESS_LIMITS, methods=["POST"])
@second_factor_limit()
def reauth() -> Any:
    form = ReauthForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        return render_template("auth/reauth.html", form=form)
    s = db.session()
    user: User = current_user
    ok = (
        form.validate_on_submit()
        and _passwords().verify(user.password_hash, form.password.data)
        and second_factor_check(s, user, form.code.data or "") is not None
    )
    audit_record(
        s,
        current_actor(),
        "user.reauth",
        object_type="user",
        object_id=user.id,
        outcome="success" if ok else "failure",
    )
    if not ok:
        return _refuse("auth/reauth.html", form=form, error=_("The password or code is not right."))
    session["reauth_at"] = time.time()
    return redirect(safe_next(form.next.data))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(Permission.ACCOUNT)
def password() -> Any:
    form = PasswordChangeForm()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                password_change(
                    db.session(),
                    current_actor(),
                    _passwords(),
                    current_user,
                    form.current_password.data,
                    form.new_password.data,
                    form.confirm_password.data,
                )
            except AccountError as exc:
                errors = exc.problems
            else:
                logout_user()
                session.clear()
                flash(
                    _(
                        "Your password was changed. Every session was signed out; sign in "
                        "with the new password."
                    )
                )
                return redirect(url_for(".login"))
        else:
            errors = {"current_password": [_("Fill in all three fields.")]}
    return render_template(
        "auth/password.html", form=form, errors=errors, forced=current_user.must_change_password
    ), (422 if errors else 200)


@bp.get("/account/tokens")
@requires(Permission.ACCOUNT)
def tokens() -> Any:
    """One's own API tokens: issue (after re-authentication) and revoke."""
    return _tokens_page()


def _tokens_page(status: int = 200, error: str | None = None) -> Any:
    return render_template(
        "auth/tokens.html",
        tokens=tokens_of(db.session(), current_user),
        now=datetime.now(UTC),
        is_live=is_live,
        form=EmptyForm(),
        token_form=TokenForm(),
        error=error,
        revoke_endpoint="auth.token_revoke_own",
        revoke_args={},
    ), status


@bp.post("/account/tokens")
@requires(Permission.ACCOUNT)
@fresh_session
def token_new() -> Any:
    """A token is minted only for the signed-in user, shown once to that user alone."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(422, _("A token lasts 1 to 366 days."))
    try:
        token, raw = token_issue(db.session(), current_actor(), current_user, form.days.data)
    except AccountError:
        return _tokens_page(422, _("A token lasts 1 to 366 days."))
    return render_template("auth/token.html", token=token, raw=raw)


@bp.post("/account/tokens/<token_id>/revoke")
@requires(Permission.ACCOUNT)
def token_revoke_own(token_id: str) -> Any:
    s = db.session()
    token = token_or_404(s, current_user, token_id)
    if EmptyForm().validate_on_submit():
        token_revoke(s, current_actor(), token)
        flash(_("Token revoked."))
    return redirect(url_for(".tokens"))


@bp.post("/language")
@public
def language() -> Any:
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in ("ar", "en"):
        session["lang"] = form.lang.data
        if current_user.is_authenticated and current_user.language != form.lang.data:
            current_user.language = form.lang.data
    return redirect(safe_next(form.next.data))
