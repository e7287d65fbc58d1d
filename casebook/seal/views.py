"""The seal gate in front of every request, the seal page (admins and lawyers) and the unseal
page (only when CASEBOOK_WEB_UNSEAL allows it, and only for a passphrase key source). The worker
that checks the passphrase hands the unlock key to its gunicorn master, which restarts every
worker with the keys (`casebook.seal.handoff`)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request, session
from flask_babel import gettext as _

from casebook import db
from casebook.audit.services import Actor, audit_record
from casebook.auth.limits import limiter
from casebook.auth.permissions import Permission
from casebook.config import Settings
from casebook.encrypted import CryptoError, PassphraseKeySource, Vault
from casebook.seal.forms import SealForm, UnsealForm
from casebook.seal.guard import guard_of, hand_keys_to_local_server, nudge_local_server
from casebook.seal.handoff import HandoffError
from casebook.seal.services import service_seal, service_unseal
from casebook.web import current_actor, error_response, is_api, public, requires

bp = Blueprint("seal", __name__)
log = logging.getLogger("casebook.seal")

# Each try costs an Argon2id derivation; the passphrase is the one secret that unlocks everything.
UNSEAL_LIMITS = "5 per minute;20 per hour"

# What a sealed service still answers: its stylesheets, the unseal page, the language switch.
OPEN_WHILE_SEALED = frozenset({"static", "seal.unseal", "auth.language"})


def _settings() -> Settings:
    s: Settings = current_app.config["CASEBOOK"]
    return s


def _vault() -> Vault:
    v: Vault = current_app.extensions["casebook.vault"]
    return v


def sealed_response() -> Response:
    """503 with `{"error": {"code": "sealed", …}}` under /api/, the sealed page elsewhere."""
    message = _(
        "casebook is sealed: its keys have been removed from memory. Nothing can be read or "
        "written until it is unsealed with the unlock secret."
    )
    # nobody is signed in to a sealed service (and their names could not be decrypted)
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    if is_api():
        return error_response(503, message, code="sealed")
    html = render_template("seal/sealed.html", message=message, web_unseal=_web_unseal_offered())
    return Response(html, status=503, mimetype="text/html")


def _web_unseal_offered() -> bool:
    return _settings().web_unseal and isinstance(_vault().source, PassphraseKeySource)


def gate() -> Response | None:
    """First of every request: a sealed service answers nothing but `OPEN_WHILE_SEALED`, and
    no user is loaded (no session, no token: there are none left, and no key to read them)."""
    if not guard_of(current_app).sealed_now():
        return None
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    if request.endpoint in OPEN_WHILE_SEALED:
        return None
    return sealed_response()


def _sealed_errors(exc: CryptoError) -> Response:
    """A request that was running when the keys went: it answers sealed, not 500."""
    if _vault().sealed:
        db.session().rollback()
        return sealed_response()
    from casebook.web import _handle_unexpected

    return _handle_unexpected(exc)


def install(app: Flask) -> None:
    app.before_request(gate)
    app.register_error_handler(CryptoError, _sealed_errors)


def seal_now(actor: Actor, via: str) -> None:
    """Seal from a request: commit the flag, the ended sessions and tokens and the audit entry
    first, then drop this process's keys and tell the local server's other workers."""
    s = db.session()
    service_seal(s, actor, via)
    s.commit()
    guard_of(current_app).mark_sealed()
    nudge_local_server(_settings().instance)


@bp.get("/seal")
@requires(Permission.SEAL)
def confirm() -> Any:
    return render_template("seal/confirm.html", form=SealForm())


@bp.post("/seal")
@requires(Permission.SEAL)
def seal() -> Any:
    form = SealForm()
    if not form.validate_on_submit():
        return error_response(400)
    seal_now(current_actor(), "web")
    session.clear()  # the session row is gone already; the cookie goes too
    return sealed_response()


@bp.route("/unseal", methods=["GET", "POST"])
@public
@limiter.limit(UNSEAL_LIMITS, methods=["POST"])
def unseal() -> Any:
    if not guard_of(current_app).sealed:
        return error_response(404)
    if not _settings().web_unseal:
        # the same sealed page as every other address (no more is told), which says who can
        # unseal: the operator, at the command line
        return sealed_response()
    form = UnsealForm()
    if not _web_unseal_offered():
        return render_template("seal/unseal.html", form=None)
    if request.method == "GET":
        return render_template("seal/unseal.html", form=form)
    if not form.validate_on_submit():
        return render_template(
            "seal/unseal.html", form=form, error=_("Enter the unlock passphrase.")
        ), 400
    s = db.session()
    try:
        _vault().unseal(form.passphrase.data)
    except CryptoError:
        audit_record(
            s,
            Actor.anonymous(),
            "service.unseal",
            object_type="service",
            outcome="failure",
            details={"via": "web"},
        )
        response = current_app.make_response(
            (
                render_template(
                    "seal/unseal.html",
                    form=form,
                    error=_("That passphrase does not unlock the keys."),
                ),
                400,
            )
        )
        response.casebook_failed = True  # type: ignore[attr-defined]
        return response
    service_unseal(s, Actor.anonymous(), "web")
    s.commit()
    guard_of(current_app).unsealed_here()
    others_sealed = False
    try:
        hand_keys_to_local_server(_settings().instance, _vault())
    except HandoffError as exc:
        # no socket: not under `casebook serve` (one process, which has its keys); else the
        # server's other workers stay sealed, and the page says so
        others_sealed = not exc.no_server
        if others_sealed:
            log.error(
                "web unseal: the server did not take the keys; its other workers stay sealed",
                extra={"event": "unseal_handoff_failed", "reason": exc.reason},
            )
    return render_template("seal/unsealed.html", others_sealed=others_sealed)
