"""User-entered values are isolated wherever they are shown, so a bidi override typed into a
name cannot reorder the rest of the page; dates and ids are always left to right."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from casebook.ui import bidi, filesize, ltr
from tests.conftest import bearer, csrf_from, login, make_user, minimal_case

OVERRIDE = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


def _isolated(html: str, value: str) -> bool:
    """Every occurrence of `value` in the page sits inside an isolating element."""
    for match in re.finditer(re.escape(value), html):
        before = html[: match.start()]
        opened = max(before.rfind("<bdi"), before.rfind('dir="auto">'))
        closed = max(before.rfind("</bdi>"), before.rfind("</div>"))
        if opened < 0 or closed > opened:
            return False
    return True


def test_override_in_a_name_stays_inside_its_isolate(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    evil = f"{OVERRIDE}evil name"
    case = minimal_case(first_name=evil, latin_name=f"Ahmad {OVERRIDE}Halabi")
    case["family_actions"] = [{"type": "inquiry", "date": "2014-01"}]
    case["consent"]["un_mechanisms"] = {"granted": True, "date": "2024-05-01"}  # type: ignore[index]
    cid = client.post("/api/v1/cases", json=case, headers=bearer(app, lawyer)).get_json()["id"]
    login(client, lawyer)
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    pages = {
        "case": client.get(f"/cases/{cid}").get_data(as_text=True),
        "dossier": client.get(f"/cases/{cid}/dossier").get_data(as_text=True),
        "packet": client.get(f"/cases/{cid}/packet/wgeid").get_data(as_text=True),
        "list": client.post(
            "/cases/", data={"csrf_token": token, "q": "evil name الحلبي"}
        ).get_data(as_text=True),
    }
    for name, html in pages.items():
        # the override is stripped when the case is validated; what remains is still isolated
        assert OVERRIDE not in html, name
        shown = re.sub(r"<input[^>]*>", "", html)  # the search form echoes the query in its field
        for value in ("evil name", "Ahmad Halabi"):
            if value in shown:
                assert _isolated(shown, value), (name, value)
        # dates are left to right, isolated
        assert '<bdi dir="ltr">2013-05</bdi>' in html or name == "list", name


@given(st.text(max_size=40))
@settings(max_examples=200)
def test_the_filter_escapes_and_isolates_anything(text: str) -> None:
    html = str(bidi(text))
    if text:
        assert html.startswith('<bdi dir="auto">') and html.endswith("</bdi>")
        assert "<" not in html[len('<bdi dir="auto">') : -len("</bdi>")]
    assert str(ltr("2013-05")) == '<bdi dir="ltr">2013-05</bdi>'


def test_sizes_for_people(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert filesize(12 * 1024) == "12 KB"
        assert filesize(50 * 1024 * 1024) == "50 MB"
        assert filesize(512) == "512 bytes"


def test_case_actions_say_what_happened(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    cid = client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, lawyer)).get_json()[
        "id"
    ]
    login(client, lawyer)
    token = csrf_from(client.get(f"/cases/{cid}").get_data(as_text=True))
    resp = client.post(
        f"/cases/{cid}/legal-notes",
        data={"csrf_token": token, "text": "ملاحظة"},
        follow_redirects=True,
    )
    assert "Legal note added. Only lawyers can read it." in resp.get_data(as_text=True)
    resp = client.post(
        f"/cases/{cid}/review",
        data={"csrf_token": token, "verification": "under_review"},
        follow_redirects=True,
    )
    assert "Review saved" in resp.get_data(as_text=True)
