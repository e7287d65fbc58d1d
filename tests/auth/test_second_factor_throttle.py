"""The second-factor throttle is keyed on the pending user held server-side, never on request
data, and a pending sign-in is dropped after a few wrong codes."""

from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.auth.limits import PENDING_ATTEMPTS
from tests.conftest import UserFixture, csrf_token, login, make_user


def _password(client: FlaskClient, user: UserFixture, path: str = "/login/verify") -> None:
    token = csrf_token(client, "/login")
    resp = client.post(
        "/login", data={"email": user.email, "password": user.password, "csrf_token": token}
    )
    assert resp.status_code == 302 and path in resp.headers["Location"]


def _wrong_code(client: FlaskClient, path: str = "/login/verify") -> int:
    """A wrong code with a fresh made-up `email` field each time (the old bypass)."""
    token = csrf_token(client, path)
    resp = client.post(
        path,
        data={
            "code": "000000",
            "csrf_token": token,
            "email": f"fresh-{uuid.uuid4().hex}@example.org",
        },
    )
    return resp.status_code


def test_extra_email_field_buys_no_fresh_attempts(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    _password(client, user)
    statuses = [_wrong_code(client) for _ in range(PENDING_ATTEMPTS)]
    # the last wrong code ends the pending sign-in: back to the password
    assert statuses[:-1] == [200] * (PENDING_ATTEMPTS - 1) and statuses[-1] == 302
    token = csrf_token(client, "/login")
    resp = client.post(
        "/login/verify",
        data={"code": user.code(), "csrf_token": token, "email": "another@example.org"},
    )
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert "/login/verify" not in resp.headers["Location"]
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/login")
    with app.extensions["casebook.db"].sessionmaker() as s:
        locked = s.scalars(select(AuditEntry).where(AuditEntry.action == "login.locked")).all()
    assert len(locked) == 1 and locked[0].object_id == str(user.id)


def test_lockouts_count_against_the_account(app: Flask, client: FlaskClient) -> None:
    """A fresh password sign-in does not reset the account's second-factor throttle: after a
    lockout even the right code is refused for the rest of the minute."""
    user = make_user(app, "lawyer")
    _password(client, user)
    for _ in range(PENDING_ATTEMPTS):
        _wrong_code(client)
    _password(client, user)
    token = csrf_token(client, "/login/verify")
    resp = client.post(
        "/login/verify",
        data={"code": user.code(), "csrf_token": token, "email": "x@example.org"},
    )
    assert resp.status_code == 429
    # another account from the same address is not affected
    other = make_user(app, "documenter")
    login(client, other)


def test_fresh_client_per_attempt_shares_the_account_bucket(app: Flask) -> None:
    """Each guess from its own client and pending sign-in still counts against the account."""
    user = make_user(app, "lawyer")
    statuses = []
    for _ in range(6):
        c = app.test_client()
        _password(c, user)
        statuses.append(_wrong_code(c))
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


def test_enrolment_codes_are_throttled_on_the_pending_user(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "documenter", confirmed=False)
    _password(client, user, path="/login/enrol")
    statuses = [_wrong_code(client, "/login/enrol") for _ in range(PENDING_ATTEMPTS)]
    assert statuses[:-1] == [200] * (PENDING_ATTEMPTS - 1) and statuses[-1] == 302
    resp = client.get("/login/enrol")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_reauth_is_throttled_per_account(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    login(client, user)
    statuses = []
    for _ in range(6):
        token = csrf_token(client, "/reauth")
        statuses.append(
            client.post(
                "/reauth",
                data={
                    "password": user.password,
                    "code": "000000",
                    "csrf_token": token,
                    "email": f"x-{uuid.uuid4().hex}@example.org",
                },
            ).status_code
        )
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
