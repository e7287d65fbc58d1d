"""Login throttling with Flask-Limiter: per client address and per account.

The per-account key is a keyed hash of the normalised email, so unknown and known emails are
throttled alike (no enumeration) and the limiter's storage never holds an email. Only failed
attempts count against the account. The windows escalate: 5 a minute, 20 an hour, 100 a day
(NIST SP 800-63B §3.2.2 caps consecutive failures at 100).
"""

from __future__ import annotations

from flask import request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

ACCOUNT_LIMITS = "5 per minute;20 per hour;100 per day"
ADDRESS_LIMITS = "30 per minute;300 per hour"

limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")


def account_key() -> str:
    """The account a login or second-factor attempt is for, as a keyed hash."""
    from casebook import db
    from casebook.auth.services import email_hash

    email = request.form.get("email")
    if email:
        return "acct:" + email_hash(db.session(), email)
    pending = session.get("pending_user")
    if pending:
        return f"acct-2fa:{pending}"
    return "acct:none"
