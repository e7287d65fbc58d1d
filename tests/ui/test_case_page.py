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


def test_a_day_no_calendar_has_is_named_and_the_accepted_form_given(
    app: Flask, client: FlaskClient
) -> None:
    h = bearer(app, make_user(app, "documenter", language="en"))
    data = minimal_case()
    data["arrests"][0]["date"] = "٣١/٢/٢٠١٢"  # type: ignore[index]
    ar = client.post("/api/v1/cases", json=data, headers={**h, "Accept-Language": "ar"})
    assert ar.status_code == 422
    said = " ".join(ar.get_json()["error"]["fields"]["arrests.0.date"])
    assert "هذا التاريخ غير موجود" in said and "يوم/شهر/سنة" in said
    en = client.post("/api/v1/cases", json=data, headers={**h, "Accept-Language": "en"})
    said = " ".join(en.get_json()["error"]["fields"]["arrests.0.date"])
    assert "This date does not exist" in said and "d/m/yyyy" in said
    data["arrests"][0]["date"] = "last spring"  # type: ignore[index]
    other = client.post("/api/v1/cases", json=data, headers={**h, "Accept-Language": "en"})
    assert other.get_json()["error"]["fields"]["arrests.0.date"] == [
        "Use a year (2013), a month (5/2013 or 2013-05) or a day (14/5/2013 or 2013-05-14)."
    ]


def test_an_undated_testimony_shows_the_day_it_was_recorded_without_a_time(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer", language="ar")
    data = minimal_case()
    data["testimonies"] = [  # type: ignore[index]
        {"text": "شهادة بلا تاريخ", "language": "ar"},
        {"text": "شهادة مؤرخة", "language": "ar", "date": "2024-05-01"},
    ]
    made = client.post("/api/v1/cases", json=data, headers=bearer(app, lawyer)).get_json()
    login(client, lawyer)
    for path, opens in (
        (f"/cases/{made['id']}", 'class="testimony"'),
        (f"/cases/{made['id']}/dossier", "<blockquote>"),
    ):
        html = client.get(path).get_data(as_text=True)
        shown = {}
        for part in html.split(opens)[1:]:
            for text in ("شهادة بلا تاريخ", "شهادة مؤرخة"):
                if text in part:
                    shown[text] = re.sub(r"<[^>]+>", "", part.split(text)[0])
        undated, dated = shown["شهادة بلا تاريخ"], shown["شهادة مؤرخة"]
        assert "2024-05-01" in dated and "يوم تسجيلها" not in dated, path
        assert re.search(r"\d{4}-\d{2}-\d{2}[^\w(]{0,4}\(يوم تسجيلها\)", undated), (path, undated)
        assert not re.search(r"\d{1,2}:\d{2}", undated), path  # a day, as the dated one


def test_the_read_only_labels_carry_no_form_instruction_and_places_are_separated(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer", language="ar")
    data = minimal_case(other_names=["أبو محمود"])  # type: ignore[arg-type]
    data["arrests"] = [  # type: ignore[index]
        {"date": "2012-11-01", "governorate": "rif_dimashq", "place": "حاجز مدخل دوما"}
    ]
    made = client.post("/api/v1/cases", json=data, headers=bearer(app, lawyer))
    assert made.status_code == 201, made.get_json()
    case_id = made.get_json()["id"]
    login(client, lawyer)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<dt>أسماء أخرى</dt>" in page and "اسم في كل سطر" not in page
    dossier = client.get(f"/cases/{case_id}/dossier").get_data(as_text=True)
    timeline = dossier.split('<ol class="timeline">')[1].split("</ol>")[0]
    text = re.sub(r"<[^>]+>", "", timeline)
    assert "ريف دمشق، حاجز مدخل دوما" in text and "ريف دمشق حاجز" not in text
