"""Canary scans: seeded strings must appear in no file the app writes (bar items 1, 5, 20)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casebook.config import Settings
from tests.conftest import CANARY_ARABIC, CANARY_LATIN, csrf_from, login, make_user

NEEDLES = [
    CANARY_LATIN.encode(),
    CANARY_ARABIC.encode(),
    CANARY_LATIN.encode("utf-16-le"),
    CANARY_ARABIC.encode("utf-16-le"),
]


def scan(paths: list[Path]) -> list[str]:
    hits = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits += [f"{path}: {n!r}" for n in NEEDLES if n in data]
    return hits


def test_canary_staff_name_reaches_no_file(
    app: Flask, client: FlaskClient, settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    admin = make_user(app, "admin")
    login(client, admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "canary.person@example.org",
            "display_name": f"{CANARY_LATIN} {CANARY_ARABIC}",
            "role": "documenter",
            "language": "ar",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 200
    listing = client.get("/admin/users").get_data(as_text=True)
    assert CANARY_ARABIC in listing  # it is really stored and decrypts for the admin…
    audit_csv = client.get("/admin/audit/export.csv").get_data(as_text=True)
    assert CANARY_LATIN not in audit_csv and CANARY_ARABIC not in audit_csv  # …never in the log
    app.extensions["casebook.db"].dispose()
    out, err = capfd.readouterr()
    assert CANARY_LATIN not in out + err and CANARY_ARABIC not in out + err
    targets = [settings.instance, Path(tempfile.gettempdir())]
    if settings.is_sqlite:
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        targets += list(db_file.parent.glob(db_file.name + "*"))
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            dump = "\n".join(
                str(tuple(r))
                for t in ("users", "audit_log", "web_sessions")
                for r in conn.execute(text(f"SELECT * FROM {t}"))
            )
        engine.dispose()
        assert CANARY_LATIN not in dump and CANARY_ARABIC not in dump
    assert scan(targets) == []
    for cookie in client._cookies.values():  # session cookies carry only a random id
        assert CANARY_LATIN not in cookie.value
