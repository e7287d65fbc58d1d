"""Sign-in with two factors, enrolment, recovery codes, throttling, enumeration."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.auth import totp
from casebook.auth.models import User
from tests.conftest import csrf_from, csrf_token, login, make_user


def _actions(app: Flask) -> list[tuple[str, str]]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [
            (e.action, e.outcome) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ]


def _post_password(client: FlaskClient, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
    )


def test_full_login_regenerates_the_session_id(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "documenter")
    client.get("/login")
    before = client.get_cookie("casebook_session")
    assert before is not None
    _post_password(client, user.email, user.password)
    middle = client.get_cookie("casebook_session")
    token = csrf_token(client, "/login/verify")
    client.post("/login/verify", data={"code": user.code(), "csrf_token": token})
    after = client.get_cookie("casebook_session")
    assert len({before.value, middle.value, after.value}) == 3
    assert len(after.value) >= 43  # 256 bits, url-safe base64
    assert client.get("/").status_code == 200
    assert ("login.success", "success") in _actions(app)


def test_password_alone_does_not_sign_in(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    _post_password(client, user.email, user.password)
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_wrong_password_and_unknown_email_look_the_same(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    wrong = _post_password(client, user.email, "not the password at all")
    unknown = _post_password(client, "nobody-here@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    strip = lambda html: html.replace(csrf_from(html), "")  # noqa: E731
    body_w = strip(wrong.get_data(as_text=True)).replace(user.email, "EMAIL")
    body_u = strip(unknown.get_data(as_text=True)).replace("nobody-here@example.org", "EMAIL")
    assert body_w == body_u
    assert [a for a in _actions(app) if a[0] == "login.failure"] == [
        ("login.failure", "failure")
    ] * 2


def test_unknown_email_costs_as_much_time_as_a_wrong_password(
    app: Flask, client: FlaskClient
) -> None:
    """Both paths verify exactly one Argon2id hash with the same parameters (the hash is what
    costs the time: skipping it for an unknown email would make that answer ~6x faster) and
    send the database the same number of statements. Counted, not timed: a shared host's
    scheduling noise cannot make it pass or fail."""
    from argon2 import PasswordHasher
    from sqlalchemy import event

    from casebook.auth.passwords import Passwords
    from casebook.config import PasswordHashing

    verified: list[str] = []

    class Recording(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            text = hash.decode() if isinstance(hash, bytes) else hash
            verified.append("$".join(text.split("$")[1:4]))  # algorithm, version, parameters
            return super().verify(hash, password)

    passwords = Passwords(PasswordHashing(1, 16384, 1))
    passwords._hasher = Recording(time_cost=1, memory_cost=16384, parallelism=1)
    app.extensions["casebook.passwords"] = passwords
    user = make_user(app, "lawyer")
    app.config["RATELIMIT_ENABLED"] = False
    from casebook.auth.limits import limiter

    statements: list[str] = []
    engine = app.extensions["casebook.db"].engine

    def count(*_: object) -> None:
        statements.append("")

    def attempt(email: str) -> tuple[list[str], int]:
        verified.clear()
        statements.clear()
        _post_password(client, email, "wrong password for timing")
        return list(verified), len(statements)

    limiter.enabled = False
    event.listen(engine, "before_cursor_execute", count)
    try:
        attempt(user.email)  # the first request of a client warms caches the others share
        known = attempt(user.email)
        unknown = attempt("nobody@example.org")
    finally:
        event.remove(engine, "before_cursor_execute", count)
        limiter.enabled = True
    assert known[0] == unknown[0] == ["argon2id$v=19$m=16384,t=1,p=1"]
    assert known[1] == unknown[1], (known, unknown)


def test_disabled_user_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        s.get(User, user.id).disabled = True  # type: ignore[union-attr]
    resp = _post_password(client, user.email, user.password)
    assert resp.status_code == 200 and "not right" in resp.get_data(as_text=True)


def test_reused_totp_code_is_refused(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    code = user.code()
    login(client, user)
    other = app.test_client()
    _post_password(other, user.email, user.password)
    resp = other.post(
        "/login/verify", data={"code": code, "csrf_token": csrf_token(other, "/login/verify")}
    )
    assert resp.status_code == 200
    assert "already used" in resp.get_data(as_text=True)


def test_code_ninety_seconds_old_is_refused(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    old = totp.code_at(user.secret, totp.current_step() - 3)
    _post_password(client, user.email, user.password)
    resp = client.post(
        "/login/verify", data={"code": old, "csrf_token": csrf_token(client, "/login/verify")}
    )
    assert resp.status_code == 200 and client.get("/").status_code == 302


def test_one_step_of_skew_is_accepted(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    _post_password(client, user.email, user.password)
    resp = client.post(
        "/login/verify",
        data={"code": user.code(-1), "csrf_token": csrf_token(client, "/login/verify")},
    )
    assert resp.status_code == 302


def test_recovery_code_works_once(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "advocate")
    code = user.recovery_codes[0]
    _post_password(client, user.email, user.password)
    resp = client.post(
        "/login/verify",
        data={"code": code.upper(), "csrf_token": csrf_token(client, "/login/verify")},
    )
    assert resp.status_code == 302
    other = app.test_client()
    _post_password(other, user.email, user.password)
    resp = other.post(
        "/login/verify", data={"code": code, "csrf_token": csrf_token(other, "/login/verify")}
    )
    assert resp.status_code == 200


def test_first_login_forces_enrolment_with_server_rendered_qr(
    app: Flask, client: FlaskClient
) -> None:
    user = make_user(app, "documenter", confirmed=False)
    resp = _post_password(client, user.email, user.password)
    assert "/login/enrol" in resp.headers["Location"]
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page and user.secret in page
    assert "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )  # no third-party image
    resp = client.post("/login/enrol", data={"code": user.code(), "csrf_token": csrf_from(page)})
    assert resp.status_code == 302  # admin-created users already hold recovery codes
    assert client.get("/").status_code == 200


def test_enrolment_after_reset_shows_new_recovery_codes_once(
    app: Flask, client: FlaskClient
) -> None:
    from casebook.audit.services import Actor
    from casebook.auth.services import user_2fa_reset

    user = make_user(app, "documenter")
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        user_2fa_reset(s, Actor.cli(), s.get(User, user.id))  # type: ignore[arg-type]
    _post_password(client, user.email, user.password)
    page = client.get("/login/enrol").get_data(as_text=True)
    import re

    secret = re.search(r'<code class="secret" dir="ltr">([A-Z2-7]+)</code>', page).group(1)  # type: ignore[union-attr]
    assert secret != user.secret
    resp = client.post(
        "/login/enrol",
        data={"code": totp.code_at(secret, totp.current_step()), "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]{14})</code></li>", resp.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/").status_code == 200


def test_login_throttle_per_account(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    statuses = [
        _post_password(client, user.email, f"wrong password {i}").status_code for i in range(6)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    # even the right password is refused while the account is throttled
    assert _post_password(client, user.email, user.password).status_code == 429


def test_login_throttle_is_not_global(app: Flask, client: FlaskClient) -> None:
    victim = make_user(app, "lawyer")
    other = make_user(app, "documenter")
    for i in range(6):
        _post_password(client, victim.email, f"wrong password {i}")
    resp = _post_password(client, other.email, other.password)
    assert resp.status_code == 302


def test_login_throttle_per_address(app: Flask, client: FlaskClient) -> None:
    statuses = [
        _post_password(client, f"user{i}@example.org", "wrong password here").status_code
        for i in range(31)
    ]
    assert statuses[-1] == 429 and statuses[:30] == [200] * 30


def test_throttle_escalates_after_the_minute(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    with freeze_time() as clock:
        for rounds in range(4):
            for i in range(5):
                assert _post_password(client, user.email, f"wrong {rounds}-{i}").status_code == 200
            clock.tick(61)
        # 20 failures this hour: now refused for the rest of the hour
        assert _post_password(client, user.email, "wrong again").status_code == 429
        clock.tick(61)
        assert _post_password(client, user.email, "wrong again").status_code == 429


def test_pending_second_step_expires(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer")
    with freeze_time() as clock:
        _post_password(client, user.email, user.password)
        clock.tick(301)
        resp = client.get("/login/verify")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"]
)
def test_next_never_leaves_the_site(app: Flask, client: FlaskClient, target: str) -> None:
    user = make_user(app, "lawyer")
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"email": user.email, "password": user.password, "csrf_token": token, "next": target},
    )
    resp = client.post(
        "/login/verify",
        data={
            "code": user.code(),
            "next": target,
            "csrf_token": csrf_token(client, "/login/verify"),
        },
    )
    assert resp.headers["Location"] == "/"
