"""API messages follow the request's Accept-Language, 422 field messages included."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, make_user


def test_422_messages_follow_accept_language(app: Flask, client: FlaskClient) -> None:
    h = bearer(app, make_user(app, "documenter", language="en"))
    bad = {"person": {"family_name": "الخطيب", "birth_date": "2999"}, "consent": {}}
    ar = client.post("/api/v1/cases", json=bad, headers={**h, "Accept-Language": "ar"})
    assert ar.status_code == 422
    fields = ar.get_json()["error"]["fields"]
    assert fields["person.first_name"] == ["هذا الحقل مطلوب."]
    assert any("المستقبل" in m for m in fields["person.birth_date"])
    en = client.post("/api/v1/cases", json=bad, headers={**h, "Accept-Language": "en"})
    assert en.get_json()["error"]["fields"]["person.first_name"] == ["This field is required."]


def test_an_arabic_account_reads_english_errors_when_it_asks(
    app: Flask, client: FlaskClient
) -> None:
    h = bearer(app, make_user(app, "lawyer", language="ar"))
    resp = client.get(
        "/api/v1/cases/00000000-0000-0000-0000-000000000000",
        headers={**h, "Accept-Language": "en"},
    )
    assert resp.status_code == 404 and resp.get_json()["error"]["message"] == "Not found."


def test_messages_with_values_are_translated_with_their_values(app: Flask) -> None:
    from casebook.messages import localise_message

    with app.test_request_context(headers={"Accept-Language": "ar"}):
        from flask_babel import refresh

        refresh()
        assert localise_message("k is a whole number from 5 to 1000.") == (
            "k عدد صحيح من 5 إلى 1000."
        )
        assert "11 صفاً" in localise_message("Nothing was imported: 11 rows need attention.")
        assert localise_message("Some message nobody listed.") == "Some message nobody listed."
