"""Consent decides what may leave casebook: only who may edit a case changes it (its author
until verification, or a lawyer), on the pages and through the API."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import UserFixture, bearer, csrf_from, login, make_user, minimal_case


def _verified_case_assigned_to(
    app: Flask, client: FlaskClient, author: UserFixture, lawyer: UserFixture, other: UserFixture
) -> str:
    resp = client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, author))
    assert resp.status_code == 201
    cid = str(resp.get_json()["id"])
    lh = bearer(app, lawyer)
    assert (
        client.post(
            f"/api/v1/cases/{cid}/assign", json={"user_id": str(other.id)}, headers=lh
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/cases/{cid}/review", json={"verification": "verified"}, headers=lh
        ).status_code
        == 200
    )
    return cid


def _consent(client: FlaskClient, cid: str, headers: dict[str, str]) -> dict[str, object]:
    doc = client.get(f"/api/v1/cases/{cid}", headers=headers).get_json()
    consent: dict[str, object] = doc["consent"]
    return consent


GRANT_PUBLIC = {"scope": "public", "granted": True, "date": "2025-02-01"}


@pytest.mark.parametrize("who", ["assigned", "author"])
def test_documenter_without_edit_rights_cannot_grant_consent_through_the_api(
    app: Flask, client: FlaskClient, who: str
) -> None:
    author, lawyer = make_user(app, "documenter"), make_user(app, "lawyer")
    assigned = make_user(app, "documenter")
    cid = _verified_case_assigned_to(app, client, author, lawyer, assigned)
    headers = bearer(app, assigned if who == "assigned" else author)
    for scope in ("public", "un_mechanisms", "icrc"):
        resp = client.post(
            f"/api/v1/cases/{cid}/consent",
            json={**GRANT_PUBLIC, "scope": scope},
            headers=headers,
        )
        assert resp.status_code == 409, resp.get_json()
        assert resp.get_json()["error"]["code"] == "conflict"
    consent = _consent(client, cid, bearer(app, lawyer))
    assert not {"public", "un_mechanisms", "icrc"} & set(consent)
    # the lawyer still can
    resp = client.post(
        f"/api/v1/cases/{cid}/consent", json=GRANT_PUBLIC, headers=bearer(app, lawyer)
    )
    assert resp.status_code == 200
    assert resp.get_json()["consent"]["public"]["granted"] is True


def test_author_changes_consent_until_verification(app: Flask, client: FlaskClient) -> None:
    author = make_user(app, "documenter")
    headers = bearer(app, author)
    cid = client.post("/api/v1/cases", json=minimal_case(), headers=headers).get_json()["id"]
    resp = client.post(f"/api/v1/cases/{cid}/consent", json=GRANT_PUBLIC, headers=headers)
    assert resp.status_code == 200
    assert resp.get_json()["consent"]["public"]["granted"] is True


def test_assigned_documenter_cannot_grant_consent_on_the_case_page(
    app: Flask, client: FlaskClient
) -> None:
    author, lawyer = make_user(app, "documenter"), make_user(app, "lawyer")
    assigned = make_user(app, "documenter")
    cid = _verified_case_assigned_to(app, client, author, lawyer, assigned)
    login(client, assigned)
    page = client.get(f"/cases/{cid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/cases/{cid}/consent" not in html  # no form offered
    resp = client.post(
        f"/cases/{cid}/consent",
        data={
            "scope": "un_mechanisms",
            "granted": "yes",
            "date": "2025-02-01",
            "csrf_token": csrf_from(html),
        },
    )
    assert resp.status_code == 302
    shown = client.get(f"/cases/{cid}").get_data(as_text=True)
    assert "can no longer be edited by you" in shown
    assert "un_mechanisms" not in _consent(client, cid, bearer(app, lawyer))

    lawyer_client = app.test_client()
    login(lawyer_client, lawyer)
    html = lawyer_client.get(f"/cases/{cid}").get_data(as_text=True)
    assert f"/cases/{cid}/consent" in html
    lawyer_client.post(
        f"/cases/{cid}/consent",
        data={
            "scope": "un_mechanisms",
            "granted": "yes",
            "date": "2025-02-01",
            "csrf_token": csrf_from(html),
        },
    )
    assert _consent(client, cid, bearer(app, lawyer))["un_mechanisms"] == {
        "granted": True,
        "date": "2025-02-01",
    }
