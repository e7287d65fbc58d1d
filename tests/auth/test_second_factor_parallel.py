"""Wrong sign-in codes sent at once on one pending sign-in: the lockout and the throttle hold.

The attempts are counted in the database under the account's lock before each code is checked,
so neither the session's last-write-wins nor the limiter's check-before/count-after lets the
requests in flight through (and the count is the same for every worker)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.auth import services
from tests.conftest import csrf_token, make_user

PARALLEL = 16


def test_sixteen_wrong_codes_at_once_check_at_most_five(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(app, "lawyer")
    first = app.test_client()
    resp = first.post(
        "/login",
        data={"email": user.email, "password": user.password, "csrf_token": csrf_token(first)},
    )
    assert resp.status_code == 302 and "/login/verify" in resp.headers["Location"]
    token = csrf_token(first, "/login/verify")
    cookie = first.get_cookie("casebook_session")
    assert cookie is not None
    clients: list[FlaskClient] = []
    for _ in range(PARALLEL):
        c = app.test_client()
        c.set_cookie("casebook_session", cookie.value)
        clients.append(c)

    checked: list[str] = []
    real = services.second_factor_check
    barrier = threading.Barrier(PARALLEL)

    def counted(*args: Any, **kwargs: Any) -> str | None:
        checked.append("x")
        return real(*args, **kwargs)

    monkeypatch.setattr("casebook.auth.views.second_factor_check", counted)
    statuses: list[int] = []

    def attempt(c: FlaskClient) -> None:
        barrier.wait(timeout=30)
        r = c.post("/login/verify", data={"code": "000000", "csrf_token": token})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(statuses) == PARALLEL
    assert len(checked) <= 5
    with app.extensions["casebook.db"].sessionmaker() as s:
        locked = s.scalars(select(AuditEntry).where(AuditEntry.action == "login.locked")).all()
        failures = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "login.failure", AuditEntry.object_id == str(user.id)
            )
        ).all()
    assert len(locked) == 1 and locked[0].object_id == str(user.id)
    assert len(failures) == len(checked) == 5
    # the right code on that pending sign-in does not sign in now
    resp = first.post("/login/verify", data={"code": user.code(), "csrf_token": token})
    assert first.get("/").status_code == 302


def test_serve_warns_of_per_worker_throttling_in_development_too(app: Flask) -> None:
    from dataclasses import replace

    from casebook.cli import throttle_warning

    settings = app.config["CASEBOOK"]
    assert not settings.production and not settings.redis_url
    assert "per worker" in (throttle_warning(settings, 2) or "")
    assert throttle_warning(settings, 1) is None
    assert throttle_warning(replace(settings, redis_url="redis://127.0.0.1:6379"), 2) is None
