"""One TOTP code signs in once, even when two sign-ins with it run at the same moment."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casebook.audit.models import AuditEntry
from casebook.auth import views as auth_views
from tests.conftest import csrf_token, make_user


def test_two_simultaneous_sign_ins_with_one_code_let_one_in(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(app, "lawyer")
    clients: list[FlaskClient] = [app.test_client() for _ in range(2)]
    for c in clients:
        resp = c.post(
            "/login",
            data={"email": user.email, "password": user.password, "csrf_token": csrf_token(c)},
        )
        assert resp.status_code == 302
    tokens = [csrf_token(c, "/login/verify") for c in clients]
    code = user.code()

    # The hook: both requests reach the second-factor claim (the account's row lock, then the
    # code check and the conditional step update) at the same moment, so the lock and the
    # update are what decide the winner. SQLite serialises writing requests from BEGIN
    # IMMEDIATE, so there the second request cannot start before the first commits.
    racing = app.extensions["casebook.db"].engine.dialect.name == "postgresql"
    barrier = threading.Barrier(2)
    real = auth_views.second_factor_claim

    def both_arrive_together(*args: Any, **kwargs: Any) -> Any:
        if racing:
            barrier.wait(timeout=30)
        return real(*args, **kwargs)

    monkeypatch.setattr(auth_views, "second_factor_claim", both_arrive_together)
    results: list[tuple[int, str]] = []

    def attempt(c: FlaskClient, token: str) -> None:
        resp = c.post("/login/verify", data={"code": code, "csrf_token": token})
        results.append((resp.status_code, resp.headers.get("Location", "")))

    threads = [
        threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(status for status, _ in results) == [200, 302]
    assert [loc for status, loc in results if status == 302] == ["/"]
    signed_in = [c.get("/").status_code for c in clients]
    assert sorted(signed_in) == [200, 302]
    with app.extensions["casebook.db"].sessionmaker() as s:
        wins = s.scalar(
            select(func.count()).where(AuditEntry.action == "login.success")  # type: ignore[arg-type]
        )
    assert wins == 1
