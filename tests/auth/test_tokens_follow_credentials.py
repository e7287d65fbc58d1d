"""A new password or a reset second factor takes the user's API tokens with it: a token taken
with the old credentials must not outlive them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from tests.conftest import bearer, csrf_from, csrf_token, login, make_user


def test_password_change_revokes_every_token(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    headers, other = bearer(app, lawyer), bearer(app, lawyer)
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    login(client, lawyer)
    resp = client.post(
        "/account/password",
        data={
            "current_password": lawyer.password,
            "new_password": "a brand new and long passphrase",
            "confirm_password": "a brand new and long passphrase",
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )
    assert resp.status_code == 302
    api = FlaskClient(app)
    assert api.get("/api/v1/cases", headers=headers).status_code == 401
    assert api.get("/api/v1/cases", headers=other).status_code == 401
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "user.password_change", AuditEntry.outcome == "success"
            )
        ).one()
    assert '"tokens_revoked":2' in entry.details


def test_two_factor_reset_revokes_every_token(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    lawyer = make_user(app, "lawyer")
    headers = bearer(app, lawyer)
    api = FlaskClient(app)
    assert api.get("/api/v1/cases", headers=headers).status_code == 200
    login(client, admin)
    page = client.get(f"/admin/users/{lawyer.id}").get_data(as_text=True)
    resp = client.post(f"/admin/users/{lawyer.id}/reset-2fa", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert api.get("/api/v1/cases", headers=headers).status_code == 401
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.2fa_reset")).one()
    assert entry.object_id == str(lawyer.id) and '"tokens_revoked":1' in entry.details
