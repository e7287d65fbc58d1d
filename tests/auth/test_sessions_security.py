"""Sessions the server can end, cookies, CSRF on every write, headers on every response."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import func, select

from casebook.auth.models import WebSession
from casebook.config import Settings
from casebook.web import CSP
from tests.conftest import csrf_token, login, make_user

ROOT = Path(__file__).resolve().parents[2]


def _count_sessions(app: Flask) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_idle_timeout_sends_back_to_login(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    with freeze_time() as clock:
        login(client, user)
        clock.tick(29 * 60)
        assert client.get("/").status_code == 200
        clock.tick(31 * 60)
        resp = client.get("/")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
        assert "Your session ended" in client.get("/login").get_data(as_text=True)


def test_absolute_timeout_even_when_active(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    with freeze_time() as clock:
        login(client, user)
        for _ in range(26):  # active every 28 minutes for over 12 hours
            clock.tick(28 * 60)
            if client.get("/").status_code != 200:
                break
        assert client.get("/").status_code == 302


def test_replayed_old_cookie_after_logout_is_refused(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    login(client, user)
    old = client.get_cookie("casebook_session")
    assert old is not None
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    thief = app.test_client()
    thief.set_cookie("casebook_session", old.value)
    assert thief.get("/").status_code == 302


def test_logout_ends_every_session_of_the_user(app: Flask) -> None:
    user = make_user(app, "lawyer")
    a, b = app.test_client(), app.test_client()
    login(a, user)
    login(b, user, code_offset=1)
    assert b.get("/").status_code == 200
    a.post("/logout", data={"csrf_token": csrf_token(a, "/")})
    assert b.get("/").status_code == 302


def test_password_change_expires_every_session(app: Flask) -> None:
    user = make_user(app, "documenter")
    a, b = app.test_client(), app.test_client()
    login(a, user)
    login(b, user, code_offset=1)
    resp = a.post(
        "/account/password",
        data={
            "current_password": user.password,
            "new_password": "a brand new long passphrase",
            "confirm_password": "a brand new long passphrase",
            "csrf_token": csrf_token(a, "/account/password"),
        },
    )
    assert resp.status_code == 302
    assert a.get("/").status_code == 302
    assert b.get("/").status_code == 302


def test_password_change_lists_every_problem(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "documenter")
    login(client, user)
    resp = client.post(
        "/account/password",
        data={
            "current_password": "wrong one entirely",
            "new_password": "short",
            "confirm_password": "different",
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "current password is not right" in html
    assert "at least 12 characters" in html
    assert "two new passwords differ" in html


def test_session_table_holds_no_cookie_value(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    login(client, user)
    cookie = client.get_cookie("casebook_session")
    with app.extensions["casebook.db"].sessionmaker() as s:
        rows = s.scalars(select(WebSession)).all()
    assert rows and all(cookie.value not in (r.id_hash + r.data) for r in rows)  # type: ignore[union-attr]


def test_production_cookie_flags(settings: Settings) -> None:
    from casebook import create_app

    prod = create_app(settings.with_(env="production"))
    prod.extensions["casebook.vault"].load()
    client = prod.test_client()
    resp = client.get("/login", base_url="https://casebook.example")
    header = resp.headers["Set-Cookie"]
    assert header.startswith("__Host-casebook=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in header
    assert "Domain" not in header
    prod.extensions["casebook.db"].dispose()


def _rules(app: Flask) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "00000000-0000-4000-8000-000000000000", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # type: ignore[operator]
            out.append((rule.endpoint, method, path))
    return out


def test_every_write_route_refuses_a_missing_csrf_token(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "admin")
    login(client, user)
    writes = [(e, m, p) for e, m, p in _rules(app) if m != "GET"]
    assert len(writes) >= 10
    devices = {e for e, view in app.view_functions.items() if getattr(view, "casebook_device", 0)}
    assert devices, "the field devices' endpoints are part of this test"
    assert {"seal.seal", "seal.unseal"} <= {e for e, _m, _p in writes}
    for endpoint, method, path in writes:
        resp = client.open(path, method=method, data={})
        if endpoint in devices:
            # exempt from CSRF (the path's token is the credential); no live device: 401
            assert resp.status_code == 401, (endpoint, resp.status_code)
            assert "csrf" not in resp.get_data(as_text=True).lower()
            continue
        assert resp.status_code == 400, (endpoint, resp.status_code)
        body = resp.get_data(as_text=True)
        assert "csrf" in body.lower() or "expired" in body.lower()


def test_every_response_carries_the_security_headers(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "admin")
    login(client, user)
    assert {"/seal", "/unseal"} <= {p for _, m, p in _rules(app) if m == "GET"}
    paths = {p for _, m, p in _rules(app) if m == "GET"} | {
        "/static/casebook.css",
        "/static/missing.css",
        "/nowhere",
        "/api/v1/nowhere",
    }
    for path in sorted(paths):
        for c in (client, app.test_client()):
            resp = c.get(path)
            h = resp.headers
            assert h["Content-Security-Policy"] == CSP, path
            assert h["X-Content-Type-Options"] == "nosniff"
            assert h["Referrer-Policy"] == "no-referrer"
            assert h["Cache-Control"] == "no-store"
            assert h["Cross-Origin-Opener-Policy"] == "same-origin"
            assert h["Cross-Origin-Resource-Policy"] == "same-origin"
            assert h["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert int(h["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 31536000
            assert "frame-ancestors 'none'" in h["Content-Security-Policy"]


def test_templates_have_no_inline_script_or_style() -> None:
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if (
            re.search(r"<script(?![^>]*\bsrc=)", text)
            or re.search(r"\son[a-z]+\s*=", text)
            or re.search(r"<style\b|\sstyle\s*=", text)
        ):
            offenders.append(path.name)
    assert offenders == []


def test_server_error_shows_no_traceback_and_logs_no_value(
    app: Flask, client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    from casebook.web import public

    @public
    def boom() -> str:
        raise ValueError("ZQX-CANARY-7731 قناريزكس secret value")

    app.view_functions["home.healthz"] = boom
    resp = client.get("/healthz")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Traceback" not in body and "ZQX-CANARY-7731" not in body and "ValueError" not in body
    out, err = capfd.readouterr()
    assert "ZQX-CANARY-7731" not in out + err and "قناريزكس" not in out + err
    assert '"error": "ValueError"' in err


def test_log_lines_encode_newlines(
    app: Flask, client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    logging.getLogger("casebook.test").warning("line one\nline two")
    _, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if "line one" in line]
    assert len(lines) == 1 and "line two" in lines[0]


def test_sealed_responses_carry_the_security_headers(app: Flask, client: FlaskClient) -> None:
    """A sealed service's 503 pages and JSON carry the same headers as every other answer."""
    user = make_user(app, "lawyer")
    login(client, user)
    assert client.post("/seal", data={"csrf_token": csrf_token(client, "/seal")}).status_code == 503
    for path in ("/", "/seal", "/cases/", "/api/v1/cases", "/login", "/nowhere"):
        resp = app.test_client().get(path)
        assert resp.status_code == 503, path
        assert resp.headers["Content-Security-Policy"] == CSP, path
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Frame-Options"] == "DENY"
