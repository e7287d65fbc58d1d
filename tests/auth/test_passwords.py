"""Password policy (NIST SP 800-63B as the issue sets it) and Argon2id parameters."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.auth.models import User
from casebook.auth.passwords import Passwords, password_problems
from casebook.config import PasswordHashing
from tests.conftest import csrf_token, make_user


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("a" * 5 + "bcdefg", False),  # 11 characters
        ("river lamp go", True),  # 13, all lowercase, no digits or symbols: fine
        ("kettle-harbour", True),
        ("x" * 12, False),  # one repeated character
        ("password1234", False),  # a common word padded with digits
        ("qwertyuiop123", False),
        ("123qweasdzxc", False),  # on the list as it is
        ("casebook-is-great", False),  # the service's name
        ("ن" * 3 + " صباح الخير يا", True),  # Arabic passphrases are welcome
        ("é" * 300, False),  # too long
    ],
)
def test_policy(password: str, ok: bool) -> None:
    assert (password_problems(password) == []) is ok, password_problems(password)


def test_email_name_is_refused() -> None:
    assert password_problems("samira-garden-2024", "samira@example.org")


def test_default_hash_is_argon2id_rfc9106_low_memory() -> None:
    stored = Passwords(PasswordHashing()).hash("correct horse battery staple")
    assert re.match(r"^\$argon2id\$v=19\$m=65536,t=3,p=4\$", stored)


def test_long_passwords_are_not_truncated() -> None:
    hasher = Passwords(PasswordHashing(1, 1024, 1))
    long = "w" * 127 + "x"
    stored = hasher.hash(long)
    assert hasher.verify(stored, long)
    assert not hasher.verify(stored, "w" * 127 + "y")
    assert not hasher.verify(stored, "w" * 127)


def test_login_rehashes_outdated_parameters(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")  # hashed with the test suite's cheap parameters
    with app.extensions["casebook.db"].sessionmaker() as s:
        before = s.scalar(select(User.password_hash).where(User.id == user.id))
    assert before and "m=1024,t=1,p=1" in before
    app.extensions["casebook.passwords"] = Passwords(PasswordHashing(2, 2048, 1))
    resp = client.post(
        "/login",
        data={
            "email": user.email,
            "password": user.password,
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert resp.status_code == 302
    with app.extensions["casebook.db"].sessionmaker() as s:
        after = s.scalar(select(User.password_hash).where(User.id == user.id))
    assert after and "m=2048,t=2,p=1" in after


def test_disabling_a_user_ends_their_sessions(app: Flask) -> None:
    from casebook.audit.services import Actor
    from casebook.auth.services import user_disable
    from tests.conftest import login

    user = make_user(app, "documenter")
    client = app.test_client()
    login(client, user)
    assert client.get("/").status_code == 200
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        user_disable(s, Actor.cli(), s.get(User, user.id))  # type: ignore[arg-type]
    assert client.get("/").status_code == 302


def test_throttling_works_with_redis_storage(settings: object) -> None:
    """With CASEBOOK_REDIS_URL set, every worker shares the counts (Redis on 127.0.0.1)."""
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    import uuid

    from casebook import create_app

    app = create_app(settings.with_(redis_url="redis://127.0.0.1:6379/15"))  # type: ignore[attr-defined]
    app.extensions["casebook.vault"].load()
    try:
        user = make_user(app, "lawyer", email=f"redis-{uuid.uuid4().hex[:8]}@example.org")
        a, b = app.test_client(), app.test_client()
        codes = [
            c.post(
                "/login",
                data={
                    "email": user.email,
                    "password": f"wrong {i}",
                    "csrf_token": csrf_token(c, "/login"),
                },
            ).status_code
            for i, c in enumerate([a, b, a, b, a, b])
        ]
        assert codes[:5] == [200] * 5 and codes[5] == 429
    finally:
        app.extensions["casebook.db"].dispose()
