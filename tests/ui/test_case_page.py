"""The case page as a lawyer reads it: nothing left blank without a dash, no separator left
hanging, and the status form starts with no status chosen."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, login, make_user, minimal_case


def test_empty_fields_show_a_dash_and_no_separator_hangs(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer", language="ar")
    data = minimal_case()
    del data["person"]["mother_name"]  # type: ignore[attr-defined]
    data["arrests"][0].pop("place")  # type: ignore[index]
    made = client.post("/api/v1/cases", json=data, headers=bearer(app, lawyer)).get_json()
    login(client, lawyer)
    html = client.get(f"/cases/{made['id']}", headers={"Accept-Language": "ar"}).get_data(
        as_text=True
    )
    people = html.split('<dl class="grid">', 1)[1].split("</dl>", 1)[0]
    for dd in re.findall(r"<dd>(.*?)</dd>", people, re.S):
        assert re.sub(r"<[^>]+>", "", dd).strip(), people  # never a label with nothing
    assert "<dd>—</dd>" in people  # the missing mother's name and place of birth
    arrest = html.split('<div class="repeat">', 1)[1].split("</p>", 1)[0]
    assert "حلب" in arrest and not re.search(r"·\s*$", arrest)  # no trailing separator
    status = html.split('<select name="status" required>', 1)[1].split("</option>", 1)[0]
    assert status == '<option value="">—'  # nothing chosen until the lawyer chooses


def test_a_duplicate_without_its_reference_is_marked_on_the_field(
    app: Flask, client: FlaskClient
) -> None:
    from tests.conftest import csrf_from

    lawyer = make_user(app, "lawyer")
    made = client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, lawyer)).get_json()
    login(client, lawyer)
    page = client.get(f"/cases/{made['id']}").get_data(as_text=True)
    resp = client.post(
        f"/cases/{made['id']}/review",
        data={"csrf_token": csrf_from(page), "verification": "duplicate"},
    )
    assert resp.status_code == 303 and resp.headers["Location"].endswith("#duplicate_of")
    html = client.get(f"/cases/{made['id']}").get_data(as_text=True)
    field = html[html.index('id="duplicate_of"') : html.index('id="duplicate_of-error"') + 200]
    assert 'aria-invalid="true"' in field and "Name the case this one duplicates." in field
