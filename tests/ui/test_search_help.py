"""The search form says what each field searches and what to add when one field found nothing."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, csrf_from, login, make_user, minimal_case


def _search(client: FlaskClient, lang: str = "en", **fields: str) -> str:
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    return client.post(
        "/cases/", data={"csrf_token": token, **fields}, headers={"Accept-Language": lang}
    ).get_data(as_text=True)


def test_form_explains_fields_and_the_first_name_rule(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "lawyer"))
    html = client.get("/cases/").get_data(as_text=True)
    assert "One word: the family name only." in html
    assert "first name or family name in the Name field." in html
    assert "Why can I not search by first name alone?" in html


def test_first_name_alone_finding_nothing_suggests_what_to_add(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer")
    client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, lawyer))
    login(client, lawyer)
    html = _search(client, q="أحمد")
    assert "0 cases" in html and "If it is a first name, add the family name" in html
    html = _search(client, mother="فاطمة")
    assert "write one of them in the Name field too" in html
    assert (
        "first name"
        not in _search(client, q="أحمد الحلبي").split("<table")[0].split("</details>")[1]
    )  # a search that found the case suggests nothing
    arabic_client = app.test_client()
    login(arabic_client, make_user(app, "lawyer", language="ar"))
    arabic = _search(arabic_client, lang="ar", q="أحمد")
    assert "لا حالات" in arabic and "إن كانت اسماً أول" in arabic


def test_counts_use_plural_forms(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, lawyer))
    login(client, lawyer)
    assert "<p>1 case</p>" in _search(client, q="أحمد الحلبي")
    arabic_client = app.test_client()
    login(arabic_client, make_user(app, "lawyer", language="ar"))
    assert "حالة واحدة" in _search(arabic_client, lang="ar", q="أحمد الحلبي")
