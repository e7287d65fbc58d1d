"""Anonymous visitors leave no session rows; expired sessions are purged."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from casebook.auth.models import WebSession
from tests.conftest import cli_env, csrf_token, login, make_user


def _rows(app: Flask) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_a_hundred_anonymous_requests_store_no_session(app: Flask, client: FlaskClient) -> None:
    for _ in range(50):
        assert client.get("/no-such-page").status_code == 404
    for _ in range(50):
        assert app.test_client().get("/no-such-page").status_code == 404
    for _ in range(5):
        client.get("/login")
        app.test_client().get("/login")
    assert _rows(app) == 0


def test_sign_in_still_works_and_sign_out_leaves_no_row(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    wrong = client.post(
        "/login", data={"email": user.email, "password": "x" * 12, "csrf_token": "forged"}
    )
    assert wrong.status_code == 400 and _rows(app) == 0  # the CSRF check still holds
    login(client, user)
    assert client.get("/").status_code == 200 and _rows(app) == 1
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert _rows(app) == 0
    assert client.get("/").status_code == 302


def _old_session(app: Flask, seen: datetime, created: datetime) -> None:
    with app.extensions["casebook.db"].engine.begin() as conn:
        conn.execute(
            insert(WebSession).values(
                id_hash=hashlib.sha256(
                    seen.isoformat().encode() + created.isoformat().encode()
                ).hexdigest(),
                user_id=None,
                data='{"pending_user":"x"}',
                created_at=created,
                last_seen_at=seen,
            )
        )


def test_expired_sessions_are_purged_at_sign_in(app: Flask, client: FlaskClient) -> None:
    now = datetime.now(UTC)
    _old_session(app, now - timedelta(hours=1), now - timedelta(hours=2))  # idle too long
    _old_session(app, now - timedelta(minutes=1), now - timedelta(hours=13))  # too old
    _old_session(app, now - timedelta(minutes=1), now - timedelta(hours=1))  # still live
    assert _rows(app) == 3
    login(client, make_user(app, "documenter"))
    assert _rows(app) == 2  # the live one and the new sign-in


def test_sessions_purge_command(app: Flask) -> None:
    from click.testing import CliRunner

    from casebook.cli import cli

    settings = app.config["CASEBOOK"]
    now = datetime.now(UTC)
    _old_session(app, now - timedelta(hours=1), now - timedelta(hours=2))
    _old_session(app, now - timedelta(minutes=1), now - timedelta(minutes=2))
    env = cli_env(settings)
    result = CliRunner().invoke(cli, ["sessions", "purge"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 expired sessions removed" in result.output and _rows(app) == 1
