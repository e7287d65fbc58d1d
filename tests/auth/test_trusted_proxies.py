"""Behind a reverse proxy every request comes from 127.0.0.1: the sign-in throttle must count
the real client (X-Forwarded-For from a trusted hop), and never believe the header otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casebook import create_app
from casebook.config import ConfigError, Settings
from tests.conftest import EnglishClient, csrf_token, make_user

ATTACKER = "203.0.113.7"
COLLEAGUE = "198.51.100.9"


def _app(settings: Settings, hops: int) -> Iterator[Flask]:
    application = create_app(settings.with_(trusted_proxies=hops))
    application.test_client_class = EnglishClient
    application.extensions["casebook.vault"].load()
    yield application
    application.extensions["casebook.db"].dispose()


@pytest.fixture
def proxied(settings: Settings) -> Iterator[Flask]:
    yield from _app(settings, 1)


@pytest.fixture
def direct(settings: Settings) -> Iterator[Flask]:
    yield from _app(settings, 0)


def _client(app: Flask, forwarded_for: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # nginx on the same host
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def _attempt(client: FlaskClient, email: str, password: str, forwarded_for: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/login")
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
    )


def test_one_attacker_behind_the_proxy_does_not_lock_out_colleagues(proxied: Flask) -> None:
    colleague = make_user(proxied, "lawyer")
    attacker = _client(proxied, ATTACKER)
    statuses = [
        # a fresh account each time: only the per-address limit (30 a minute) applies; the
        # attacker also prepends a made-up address, which a trusted hop count ignores
        _attempt(
            attacker, f"user{i}@example.org", "wrong password here", f"10.0.0.{i}, {ATTACKER}"
        ).status_code
        for i in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    resp = _attempt(_client(proxied, COLLEAGUE), colleague.email, colleague.password)
    assert resp.status_code == 302 and "/login/verify" in resp.headers["Location"]


def test_without_trusted_proxies_the_header_is_ignored(direct: Flask) -> None:
    colleague = make_user(direct, "lawyer")
    attacker = _client(direct, ATTACKER)
    statuses = [
        # a different X-Forwarded-For on every attempt buys no fresh bucket
        _attempt(attacker, f"user{i}@example.org", "wrong password here", f"10.0.1.{i}").status_code
        for i in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    # everyone reaching casebook from the same address shares the throttle
    assert (
        _attempt(_client(direct, COLLEAGUE), colleague.email, colleague.password).status_code == 429
    )


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    base = {"CASEBOOK_INSTANCE": str(tmp_path)}
    assert Settings.from_env(base).trusted_proxies == 0
    assert Settings.from_env({**base, "CASEBOOK_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    for bad in ("one", "-1", "9", "١"):
        with pytest.raises(ConfigError, match="CASEBOOK_TRUSTED_PROXIES"):
            Settings.from_env({**base, "CASEBOOK_TRUSTED_PROXIES": bad})
