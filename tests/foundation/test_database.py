"""PostgreSQL connections that the server dropped while they sat in the pool: the app recovers
without an operator, pinging only connections that were idle (a busy one is not pinged)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from casebook import db as casebook_db
from tests.conftest import UserFixture, bearer

_KILL_OTHERS = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _drop_pooled_connections(app: Flask) -> int:
    """What a PostgreSQL restart or an idle-session timeout does to the pool's connections."""
    engine = app.extensions["casebook.db"].engine
    with engine.connect() as conn:
        checked_out = conn.connection.dbapi_connection
        killed = int(conn.execute(_KILL_OTHERS).scalar() or 0)
    checked_out.close()  # this one too: every pooled connection is now dead
    return killed + 1


@pytest.fixture
def postgres_app(app: Flask) -> Flask:
    if app.extensions["casebook.db"].engine.dialect.name != "postgresql":
        pytest.skip("the pool's ping is for PostgreSQL (SQLite has no server to drop it)")
    return app


def test_idle_connections_dropped_by_the_server_are_replaced_before_use(
    postgres_app: Flask,
    client: FlaskClient,
    users: dict[str, UserFixture],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = bearer(postgres_app, users["lawyer"])
    assert client.get("/api/v1/cases", headers=h).status_code == 200
    assert _drop_pooled_connections(postgres_app) >= 1
    monkeypatch.setattr(casebook_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # "idle long enough"
    for _ in range(3):
        assert client.get("/api/v1/cases", headers=h).status_code == 200


def test_a_busy_connection_dropped_between_requests_fails_one_request_at_most(
    postgres_app: Flask,
    client: FlaskClient,
    users: dict[str, UserFixture],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the ping (the connection was in use a moment ago) the first request on a dead
    connection fails cleanly, and SQLAlchemy replaces the pool for the next one."""
    h = bearer(postgres_app, users["lawyer"])
    assert client.get("/api/v1/cases", headers=h).status_code == 200
    monkeypatch.setattr(casebook_db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    _drop_pooled_connections(postgres_app)
    first = client.get("/api/v1/cases", headers=h)
    assert first.status_code in (200, 500)
    if first.status_code == 500:
        assert "Traceback" not in first.text and first.get_json()["error"]["code"]
    for _ in range(3):
        assert client.get("/api/v1/cases", headers=h).status_code == 200
