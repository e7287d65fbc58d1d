"""View guards for actions a standing credential must not do alone.

`recent_auth` (casebook.web) lets bearer tokens through, since a token is a script's standing
credential for ordinary work. Two stronger guards:

- `fresh_session`: minting a token and every administrative change need a person at a
  signed-in session with a recent password and second factor; tokens are refused (403
  `session_required`).
- `fresh_factor`: erasure and other destructive case actions. A session needs a recent
  re-authentication as before; a token must also carry a current authenticator code of its user
  in the `X-Casebook-OTP` header (401 `second_factor_required` otherwise). The code is spent
  (a code works once) and wrong codes count against the token's own throttle (5 a minute, 20
  an hour), apart from the account's sign-in bucket, so a stolen token cannot lock its owner out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request
from flask_babel import gettext
from flask_login import current_user

from casebook import db
from casebook.audit.services import audit_record
from casebook.auth.limits import token_factor_allowed, token_factor_failure
from casebook.auth.services import totp_fresh_code
from casebook.web import current_actor, error_response, recent_auth

F = TypeVar("F", bound=Callable[..., Any])
OTP_HEADER = "X-Casebook-OTP"


def fresh_session(view: F) -> F:
    """Refuse API tokens; require a re-authentication within the window for sessions.

    Example::

        @bp.post("/account/tokens")
        @requires(Permission.ACCOUNT)
        @fresh_session
        def token_new(): ...
    """
    checked = recent_auth(view)

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("auth_via") == "token":
            return error_response(
                403,
                gettext(
                    "An API token cannot do this. Sign in to the web interface and confirm "
                    "your password and code."
                ),
                code="session_required",
            )
        return checked(*args, **kwargs)

    return cast(F, wrapped)


def fresh_factor(view: F) -> F:
    """Sessions: recent re-authentication. Tokens: a fresh TOTP code in `X-Casebook-OTP`.

    Example::

        @bp.post("/<case_id>/erase")
        @requires(Permission.CASE_ERASE)
        @fresh_factor
        def erase(case_id): ...
    """
    checked = recent_auth(view)

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("auth_via") != "token":
            return checked(*args, **kwargs)
        token_id = str(g.get("token_id"))
        if not token_factor_allowed(token_id):
            return error_response(429)
        code = request.headers.get(OTP_HEADER, "")[:32]
        s = db.session()
        if code and totp_fresh_code(s, current_user, code):
            return view(*args, **kwargs)
        if code:
            token_factor_failure(token_id)
            audit_record(
                s,
                current_actor(),
                "token.second_factor",
                object_type="user",
                object_id=current_user.id,
                outcome="failure",
            )
        return error_response(
            401,
            gettext(
                "This action needs a current code from your authenticator app in the "
                "X-Casebook-OTP header, as well as the token."
            ),
            code="second_factor_required",
        )

    return cast(F, wrapped)
