"""Every message the case schema can give reaches the field it is about: nothing is refused with
"correct the fields marked below" and no field marked."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.cases.test_forms import FULL_FORM
from tests.conftest import csrf_from, login, make_user

NAME_RE = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"')


def _bad_value(name: str) -> str:
    """A value the schema refuses for this field."""
    field = name.rsplit(".", 1)[-1]
    if "date" in field or field in ("from", "to"):
        return "2999-01"
    if field in ("granted", "confidential"):
        return "maybe"
    if field in (
        "sex",
        "governorate",
        "perpetrator",
        "facility",
        "status",
        "type",
        "body",
        "reliability",
    ):
        return "not-a-code"
    if field == "dependants":
        return "abc"
    if field == "national_id":
        return "12 34/5"
    if name == "testimony.text":
        return "x" * 200_001
    if name == "testimony.language":
        return "x" * 11
    return "x" * 20_001


def _form_fields(html: str) -> list[str]:
    return [n for n in NAME_RE.findall(html) if n not in ("csrf_token", "add", "lang", "next")]


def _assert_every_field_marked(html: str, names: list[str]) -> None:
    for name in names:
        assert f'id="{name}-errors"' in html, name
        assert re.search(rf'id="{re.escape(name)}"[^>]*aria-invalid="true"', html), name
        assert f'href="#{name}"' in html, name  # the summary links to it
    assert 'id="error-summary"' in html


def test_future_testimony_date_is_marked_beside_its_field(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    resp = client.post(
        "/cases/new", data={**FULL_FORM, "testimony.date": "2999-01", "csrf_token": token}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'id="testimony.date-errors"><li>This date is in the future.</li>', html), (
        html[:3000]
    )
    assert 'href="#testimony.date">Date of the interview: This date is in the future.' in html


def test_every_field_of_the_new_case_form_shows_its_own_message(
    app: Flask, client: FlaskClient
) -> None:
    login(client, make_user(app, "documenter"))
    page = client.get("/cases/new").get_data(as_text=True)
    names = _form_fields(page)
    assert len(names) > 45  # the whole form, with one row of each repeatable section
    data = {n: _bad_value(n) for n in names}
    resp = client.post("/cases/new", data={**data, "csrf_token": csrf_from(page)})
    assert resp.status_code == 422
    _assert_every_field_marked(resp.get_data(as_text=True), names)


def test_every_field_of_the_edit_form_shows_its_own_message(
    app: Flask, client: FlaskClient
) -> None:
    login(client, make_user(app, "documenter"))
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    case_url = client.post("/cases/new", data={**FULL_FORM, "csrf_token": token}).headers[
        "Location"
    ]
    page = client.get(case_url + "/edit").get_data(as_text=True)
    names = [n for n in _form_fields(page) if not n.startswith("consent.")]
    opened = dict(re.findall(r'name="(_version|_base)" value="([^"]*)"', page))
    assert opened.get("_version")  # what the form was opened on comes back unchanged
    names = [n for n in names if n not in opened]
    data = {n: _bad_value(n) for n in names}
    resp = client.post(case_url + "/edit", data={**data, **opened, "csrf_token": csrf_from(page)})
    assert resp.status_code == 422
    _assert_every_field_marked(resp.get_data(as_text=True), names)


def test_messages_without_a_field_go_to_their_row_or_the_summary() -> None:
    from casebook.cases.forms import place

    placed = place(
        {
            "testimonies.0.date": ["a"],
            "testimonies": ["b"],
            "person.other_names.3": ["c"],
            "family_actions.0.reply_date": ["d"],
            "person.unknown_field": ["e"],
            "nothing.like.this": ["f"],
        }
    )
    assert placed == {
        "testimony.date": ["a"],
        "testimony.text": ["b"],
        "person.other_names": ["c"],
        "family_actions.0": ["d"],
        "person": ["e"],
        "_schema": ["f"],
    }


def test_the_summary_follows_the_page_names_each_row_and_asks_for_consent_and_date_at_once(
    app: Flask, client: FlaskClient
) -> None:
    login(client, make_user(app, "documenter"))
    html = client.get("/cases/new").get_data(as_text=True)
    resp = client.post(
        "/cases/new",
        data={
            "csrf_token": csrf_from(html),
            "person.first_name": "A",
            "person.family_name": "B",
            "arrests.0.date": "2999",
            "family_actions.0.type": "visit",
            "family_actions.0.date": "2999",
        },
    )
    body = resp.get_data(as_text=True)
    summary = body.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    items = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    names = [n for n, _ in items]
    # page order: consent first, its choice and its date in the same round
    assert names[:2] == ["consent.documentation.granted", "consent.documentation.date"]
    assert names.index("arrests.0.date") < names.index("family_actions.0.date")
    words = dict(items)
    assert words["arrests.0.date"].startswith("Arrest 1 – Date of arrest:")
    assert words["family_actions.0.date"].startswith("What the family did 1 – Date:")
    select = body[body.index('<select id="consent.documentation.granted"') :].split(">", 1)[0]
    assert 'aria-invalid="true"' in select  # the consent choice itself is marked
