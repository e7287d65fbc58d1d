"""A write to the API with neither a session nor a token is told what is missing (401
unauthenticated), not that a CSRF token failed; a signed-in browser session still needs CSRF."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casebook.config import Settings
from tests.conftest import EnglishClient, login, make_user

ANY_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def csrf_app(settings: Settings) -> Flask:
    from casebook import create_app

    application = create_app(settings.with_(csrf_enabled=True))
    application.test_client_class = EnglishClient
    application.extensions["casebook.vault"].load()
    return application


def _api_writes(app: Flask) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<int:[^>]+>", "0", rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", ANY_ID, path)
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, path))
    return out


def test_every_api_write_without_credentials_is_401_unauthenticated(csrf_app: Flask) -> None:
    assert csrf_app.config["WTF_CSRF_ENABLED"]
    writes = _api_writes(csrf_app)
    assert len(writes) >= 10
    client = csrf_app.test_client()
    for endpoint, method, path in writes:
        for kwargs in ({"json": {}}, {"data": {}}):
            resp = client.open(path, method=method, **kwargs)  # type: ignore[arg-type]
            assert resp.status_code == 401, (endpoint, resp.status_code)
            assert resp.get_json()["error"]["code"] == "unauthenticated", endpoint
    csrf_app.extensions["casebook.db"].dispose()


def test_a_signed_in_session_still_needs_the_csrf_token(csrf_app: Flask) -> None:
    client: FlaskClient = csrf_app.test_client()
    login(client, make_user(csrf_app, "lawyer"))
    for endpoint, method, path in _api_writes(csrf_app):
        resp = client.open(path, method=method, json={})
        assert resp.status_code == 400, (endpoint, resp.status_code)
        assert resp.get_json()["error"]["code"] == "csrf_failed", endpoint
    csrf_app.extensions["casebook.db"].dispose()
