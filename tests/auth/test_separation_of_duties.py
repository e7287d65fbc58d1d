"""Separation of duties: tokens are minted only by their own user, after re-authentication;
no token can do what needs a person at a session."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from casebook.audit.services import Actor
from casebook.auth.models import ApiToken, User
from casebook.auth.services import AccountError, token_issue
from tests.conftest import UserFixture, bearer, csrf_from, login, make_user


def _reauth(client: FlaskClient, user: UserFixture, offset: int = 1) -> None:
    page = client.get("/reauth").get_data(as_text=True)
    resp = client.post(
        "/reauth",
        data={
            "password": user.password,
            "code": user.code(offset),
            "csrf_token": csrf_from(page),
            "next": "/",
        },
    )
    assert resp.status_code == 302


def test_a_user_mints_their_own_token_after_reauth_and_sees_it_once(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer")
    with freeze_time() as clock:
        login(client, lawyer)
        clock.tick(11 * 60)
        page = client.get("/account/tokens").get_data(as_text=True)
        resp = client.post("/account/tokens", data={"days": "5", "csrf_token": csrf_from(page)})
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/reauth")
        _reauth(client, lawyer)
        page = client.get("/account/tokens").get_data(as_text=True)
        resp = client.post("/account/tokens", data={"days": "5", "csrf_token": csrf_from(page)})
    raw = re.search(r"(cbt_[A-Za-z0-9_-]+)", resp.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert raw not in listing
    with app.extensions["casebook.db"].sessionmaker() as s:
        token = s.scalars(select(ApiToken)).one()
    assert token.user_id == lawyer.id and str(token.id) in listing
    client.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": csrf_from(listing)})
    assert client.get("/api/v1/cases", headers=headers).status_code == 401


def test_a_token_cannot_mint_a_token(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    resp = client.post("/account/tokens", data={"days": "5"}, headers=bearer(app, lawyer))
    assert resp.status_code == 403 and "cbt_" not in resp.get_data(as_text=True)
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert len(s.scalars(select(ApiToken)).all()) == 1


def test_no_one_signed_in_mints_a_token_for_someone_else(app: Flask) -> None:
    admin = make_user(app, "admin")
    lawyer = make_user(app, "lawyer")
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        target = s.get(User, lawyer.id)
        assert target is not None
        with pytest.raises(AccountError):
            token_issue(s, Actor.user(str(admin.id), "admin"), target, 5)
        token_issue(s, Actor.user(str(lawyer.id), "lawyer"), target, 5)
        token_issue(s, Actor.cli(), target, 5)  # the operator at the shell holds the keyring


def test_an_admin_token_cannot_make_admin_changes(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    lawyer = make_user(app, "lawyer")
    resp = client.post(f"/admin/users/{lawyer.id}/reset-2fa", headers=bearer(app, admin))
    assert resp.status_code == 403
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.get(User, lawyer.id).totp_confirmed_at is not None  # type: ignore[union-attr]


def test_a_token_alone_cannot_erase_a_case(app: Flask, client: FlaskClient) -> None:
    from tests.conftest import fresh_code, minimal_case

    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    created = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()
    url = f"/api/v1/cases/{created['id']}/erase"
    body = {"confirm": created["reference"]}
    bare = client.post(url, json=body, headers=h)
    assert bare.status_code == 401
    assert bare.get_json()["error"]["code"] == "second_factor_required"
    wrong = client.post(url, json=body, headers={**h, "X-Casebook-OTP": "000000"})
    assert wrong.status_code == 401
    assert client.get(f"/api/v1/cases/{created['id']}", headers=h).status_code == 200
    with_code = fresh_code(app, h)
    assert client.post(url, json=body, headers=with_code).status_code == 200
    assert client.get(f"/api/v1/cases/{created['id']}", headers=h).status_code == 404
    # the code is spent: replaying the same request with it is refused
    other = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()
    replay = client.post(
        f"/api/v1/cases/{other['id']}/erase",
        json={"confirm": other["reference"]},
        headers={**h, "X-Casebook-OTP": with_code["X-Casebook-OTP"]},
    )
    assert replay.status_code == 401
    with app.extensions["casebook.db"].sessionmaker() as s:
        from casebook.audit.models import AuditEntry

        failures = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "token.second_factor")
        ).all()
    assert len(failures) == 2 and all(f.outcome == "failure" for f in failures)


def test_wrong_codes_on_the_api_throttle_the_token_not_the_owner(
    app: Flask, client: FlaskClient
) -> None:
    """A stolen token's wrong codes are throttled per token (5 a minute), and neither the
    owner's other tokens nor the owner's sign-in are throttled by them."""
    from tests.conftest import csrf_token, minimal_case

    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    created = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()
    url = f"/api/v1/cases/{created['id']}/erase"
    body = {"confirm": created["reference"]}
    statuses = [
        client.post(url, json=body, headers={**h, "X-Casebook-OTP": "000000"}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    # the owner's other token has its own bucket
    other = bearer(app, lawyer)
    assert (
        client.post(url, json=body, headers={**other, "X-Casebook-OTP": "000000"}).status_code
        == 401
    )
    # the owner still signs in
    c = app.test_client()
    c.post(
        "/login",
        data={"email": lawyer.email, "password": lawyer.password, "csrf_token": csrf_token(c)},
    )
    resp = c.post(
        "/login/verify", data={"code": lawyer.code(), "csrf_token": csrf_token(c, "/login/verify")}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_entries_made_with_a_token_name_the_token_id_never_the_token(
    app: Flask, client: FlaskClient
) -> None:
    import json

    from casebook.audit.models import AuditEntry
    from tests.conftest import minimal_case

    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    raw = h["Authorization"].removeprefix("Bearer ")
    created = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()
    assert client.get(f"/api/v1/cases/{created['id']}", headers=h).status_code == 200
    web = app.test_client()
    login(web, lawyer)
    assert web.get(f"/cases/{created['id']}").status_code == 200
    with app.extensions["casebook.db"].sessionmaker() as s:
        token_id = str(s.scalars(select(ApiToken.id)).one())
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.object_id == created["id"]).order_by(AuditEntry.seq)
        ).all()
        everything = " ".join(e.details + e.actor for e in s.scalars(select(AuditEntry)))
    via = [json.loads(e.details).get("via_token") for e in entries]
    assert via[:2] == [token_id, token_id]  # the create and the read, by the token
    assert via[-1] is None  # the read from the signed-in session
    assert raw not in everything and raw[4:20] not in everything
