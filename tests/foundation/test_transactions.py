"""The retry of reading requests (casebook.db, invariant 5): on SQLite, a GET that writes after
another connection committed since it began reading gets a real "database is locked"
(SQLITE_BUSY_SNAPSHOT); the request runs again on a fresh snapshot, its write lands once, and
the retries are bounded."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from casebook import db
from casebook.stats.models import StatsEpoch
from casebook.web import public


def _epoch(app: Flask) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(StatsEpoch.value).where(StatsEpoch.id == 1)) or 0)


def _reading_view_that_writes(app: Flask, interfere: int) -> list[int]:
    """A GET view that reads, then (for its first `interfere` attempts) lets another
    connection commit a write, then writes itself."""
    settings = app.config["CASEBOOK"]
    if not settings.is_sqlite:
        pytest.skip("SQLITE_BUSY_SNAPSHOT is SQLite's; PostgreSQL reads in autocommit")
    path = settings.database_url.removeprefix("sqlite:///")
    attempts: list[int] = []

    @public
    def view() -> Any:
        s = db.session()
        s.scalar(select(StatsEpoch.value).where(StatsEpoch.id == 1))  # the snapshot begins
        attempts.append(len(attempts) + 1)
        if len(attempts) <= interfere:
            other = sqlite3.connect(path, timeout=30)
            try:
                other.execute("UPDATE stats_epoch SET value = value + 1000 WHERE id = 1")
                other.commit()
            finally:
                other.close()
        s.execute(update(StatsEpoch).where(StatsEpoch.id == 1).values(value=StatsEpoch.value + 1))
        return "written"

    app.add_url_rule("/_test/read-then-write", "test_read_then_write", view)
    return attempts


def test_a_reading_request_whose_snapshot_went_stale_runs_again_and_writes_once(
    app: Flask,
) -> None:
    attempts = _reading_view_that_writes(app, interfere=2)
    before = _epoch(app)
    resp = app.test_client().get("/_test/read-then-write")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "written"
    assert attempts == [1, 2, 3]  # two stale snapshots, then a clean run
    assert _epoch(app) == before + 2000 + 1  # the other writes, and this request's write once


def test_the_retries_are_bounded(app: Flask) -> None:
    attempts = _reading_view_that_writes(app, interfere=100)
    before = _epoch(app)
    resp = app.test_client().get("/_test/read-then-write")
    assert resp.status_code == 500
    assert "locked" not in resp.get_data(as_text=True)  # no database detail leaves
    assert attempts == list(range(1, db.READ_ATTEMPTS + 1))
    assert _epoch(app) == before + 1000 * db.READ_ATTEMPTS  # none of the request's writes
