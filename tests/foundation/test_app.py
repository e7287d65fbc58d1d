"""The app answers, in both languages, with JSON errors under /api/ and pages elsewhere."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from casebook.config import Settings
from tests.conftest import login, make_user


def test_healthz_is_public(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_login_page_renders_in_arabic_by_default(client: FlaskClient) -> None:
    resp = client.get("/login", headers={"Accept-Language": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    assert "تسجيل الدخول" in html


def test_accept_language_english(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert 'dir="ltr"' in html and "Sign in" in html


def test_language_switch_sticks_for_the_session(client: FlaskClient) -> None:
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    resp = client.post(
        "/language",
        data={"lang": "en", "next": "/login", "csrf_token": token},
        headers={"Accept-Language": "ar"},
    )
    assert resp.status_code == 302
    html = client.get("/login", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert 'dir="ltr"' in html


def test_language_switch_refuses_offsite_next(client: FlaskClient) -> None:
    from tests.conftest import csrf_token

    token = csrf_token(client, "/login")
    resp = client.post(
        "/language", data={"lang": "en", "next": "https://evil.example/", "csrf_token": token}
    )
    assert resp.headers["Location"] == "/"


def test_unknown_page_is_a_page_and_unknown_api_is_json(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.get_json() == {
        "error": {"code": "not_found", "message": api.get_json()["error"]["message"]}
    }


def test_api_without_credentials_is_401_json(client: FlaskClient) -> None:
    resp = client.get("/api/v1/audit")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthenticated"


def test_anonymous_page_redirects_to_login(client: FlaskClient) -> None:
    resp = client.get("/admin/users")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_home_after_login(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    login(client, user)
    html = client.get("/").get_data(as_text=True)
    assert "Test lawyer" in html


def test_session_lifetime_follows_the_setting(settings: Settings) -> None:
    """The absolute session lifetime is the operator's setting, not a constant written over it."""
    import dataclasses
    from datetime import timedelta

    from casebook import create_app

    shorter = dataclasses.replace(settings, session_absolute=timedelta(hours=2))
    application = create_app(shorter)
    try:
        assert application.permanent_session_lifetime == timedelta(hours=2)
    finally:
        application.extensions["casebook.db"].dispose()
