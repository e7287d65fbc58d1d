"""Login throttling with Flask-Limiter: per client address and per account.

The password step's per-account key is a keyed hash of the normalised email, so unknown and
known emails are throttled alike (no enumeration) and the limiter's storage never holds an
email. The second-factor steps (verify, enrol, re-authentication) are keyed on the user the
server already holds (the pending login in the server-side session, or the signed-in user),
never on anything in the request: a client cannot buy fresh buckets by adding form fields.
Only failed attempts count. The windows escalate: 5 a minute, 20 an hour, 100 a day (NIST SP
800-63B §3.2.2 caps consecutive failures at 100).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse_many

ACCOUNT_LIMITS = "5 per minute;20 per hour;100 per day"
ADDRESS_LIMITS = "30 per minute;300 per hour"
# Wrong codes one pending sign-in may try before the password must be given again.
PENDING_ATTEMPTS = 5
# One bucket per account shared by the routes where a person gives a second factor (sign-in,
# enrolment, re-authentication).
SECOND_FACTOR_SCOPE = "second-factor"
# A code sent with a destructive API request counts against that token's own bucket: a stolen
# token's wrong guesses must not throttle (lock out) its owner's sign-in.
API_FACTOR_LIMITS = "5 per minute;20 per hour"
API_FACTOR_SCOPE = "token-second-factor"

limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")


def account_key() -> str:
    """The account a password attempt is for, as a keyed hash of the email."""
    from casebook import db
    from casebook.auth.services import email_hash

    email = request.form.get("email")
    if email:
        return "acct:" + email_hash(db.session(), email)
    return "acct:none"


def second_factor_key() -> str:
    """The account a second-factor attempt is for, from server-side state only.

    The pending user id is read when the limit is checked and again when a failure is counted;
    the view keeps it in `g` so a lockout that clears the session is still counted against the
    same account.
    """
    from flask import g

    uid = g.get("second_factor_user") or session.get("pending_user")
    if not uid and current_user and current_user.is_authenticated:
        uid = str(current_user.id)
    return f"acct-2fa:{uid or 'none'}"


def failed(response: Response) -> bool:
    """Views mark refused attempts; only those count against a bucket."""
    return bool(getattr(response, "casebook_failed", False))


def second_factor_limit() -> Callable[[Any], Any]:
    """The account's second-factor throttle, shared across the routes that use it."""
    return limiter.shared_limit(
        ACCOUNT_LIMITS,
        scope=SECOND_FACTOR_SCOPE,
        key_func=second_factor_key,
        methods=["POST"],
        deduct_when=failed,
    )


def token_factor_allowed(token_id: str) -> bool:
    """Whether a code sent with this API token may be tried now (checked outside a decorator)."""
    if not limiter.enabled:
        return True
    key = f"token-2fa:{token_id}"
    return all(
        limiter.limiter.test(item, key, API_FACTOR_SCOPE) for item in parse_many(API_FACTOR_LIMITS)
    )


def token_factor_failure(token_id: str) -> None:
    """Count a wrong code sent with an API token against that token's own bucket."""
    if not limiter.enabled:
        return
    key = f"token-2fa:{token_id}"
    for item in parse_many(API_FACTOR_LIMITS):
        limiter.limiter.hit(item, key, API_FACTOR_SCOPE)
