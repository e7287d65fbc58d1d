"""Dates and numbers typed with Arabic-Indic (٠-٩) or Persian (۰-۹) digits, or as d/m/yyyy, are
taken everywhere (forms, API, import, search) and stored in ASCII ISO, so the edit form and every
later reader see one form."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from casebook.cases.schemas import PartialDate
from casebook.imports.columns import COLUMNS, case_to_row
from casebook.inputs import ascii_digits
from tests.conftest import bearer, csrf_from, form_fields, login, make_user, minimal_case

ARABIC, PERSIAN = "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"
NON_ASCII_DIGIT = re.compile(f"[{ARABIC}{PERSIAN}]")


def _digits(text: str, systems: list[int]) -> str:
    """`text` with its i-th digit written in system systems[i] (0 ASCII, 1 Arabic, 2 Persian)."""
    out, i = [], 0
    for ch in text:
        if ch.isdigit():
            out.append(("0123456789", ARABIC, PERSIAN)[systems[i % len(systems)]][int(ch)])
            i += 1
        else:
            out.append(ch)
    return "".join(out)


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    st.sampled_from(["year", "month", "day", "dmy", "my", "dmy_short", "dot"]),
    st.lists(st.integers(0, 2), min_size=1, max_size=8),
)
def test_partial_dates_in_any_digits_and_dmy_are_stored_as_ascii_iso(
    when: date, form: str, systems: list[int]
) -> None:
    typed, expected = {
        "year": (f"{when.year}", f"{when.year}"),
        "month": (f"{when:%Y-%m}", f"{when:%Y-%m}"),
        "day": (when.isoformat(), when.isoformat()),
        "dmy": (f"{when:%d/%m/%Y}", when.isoformat()),
        "dmy_short": (f"{when.day}/{when.month}/{when.year}", when.isoformat()),
        "dot": (f"{when.day}.{when.month}.{when.year}", when.isoformat()),
        "my": (f"{when.month}/{when.year}", f"{when:%Y-%m}"),
    }[form]
    assert PartialDate().deserialize(_digits(typed, systems)) == expected


@given(st.text(alphabet=st.sampled_from("0123456789" + ARABIC + PERSIAN + "-/ a"), max_size=20))
def test_ascii_digits_changes_only_digits(text: str) -> None:
    out = ascii_digits(text)
    assert not NON_ASCII_DIGIT.search(out) and len(out) == len(text)
    for a, b in zip(text, out, strict=True):
        assert a == b or (a.isdigit() and int(a) == int(b))


def test_status_in_arabic_digits_then_the_edit_form(app: Flask, client: FlaskClient) -> None:
    documenter = make_user(app, "documenter")
    h = bearer(app, documenter)
    cid = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()["id"]
    resp = client.post(
        f"/api/v1/cases/{cid}/status",
        json={"status": "released", "date": "٢٠١٩-٠٨", "source": "family"},
        headers=h,
    )
    assert resp.status_code == 201, resp.get_json()
    assert (
        client.get(f"/api/v1/cases/{cid}", headers=h).get_json()["status"][-1]["date"] == "2019-08"
    )

    web = app.test_client()
    login(web, documenter)
    page = web.get(f"/cases/{cid}")
    # the quick status form on the case page, as a Syrian office writes a date
    resp = web.post(
        f"/cases/{cid}/status",
        data={
            "status": "detained",
            "date": "١٤/٩/٢٠١٩",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert resp.status_code == 302
    doc = client.get(f"/api/v1/cases/{cid}", headers=h).get_json()
    assert [s["date"] for s in doc["status"]] == ["2013-05", "2019-08", "2019-09-14"]

    edit = web.get(f"/cases/{cid}/edit").get_data(as_text=True)
    values = form_fields(edit, "case-form")
    numeric = {
        found.group(1)
        for tag in re.findall(r"<input\b[^>]*>", edit)
        if 'inputmode="numeric"' in tag and (found := re.search(r'name="([^"]+)"', tag))
    }
    # a phone's number pad has no "-" or "/": a date field asks for the full keyboard
    assert not [name for name in numeric if "date" in name or "from" in name]
    assert values["status.1.date"] == "2019-08"
    assert values["status.2.date"] == "2019-09-14"
    dates = {k: v for k, v in values.items() if "date" in k or k in numeric}
    assert dates
    for name, value in dates.items():
        assert re.fullmatch(r"([0-9]{4}(-[0-9]{2}){0,2})?", value), (name, value)
    assert 'pattern="[0-9]' not in edit  # the browser does not refuse what the server takes
    resp = web.post(f"/cases/{cid}/edit", data={**values, "person.dependants": "٣"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    doc = client.get(f"/api/v1/cases/{cid}", headers=h).get_json()
    assert [s["date"] for s in doc["status"]] == ["2013-05", "2019-08", "2019-09-14"]
    assert doc["person"]["dependants"] == 3


def test_new_case_form_takes_dmy_and_any_digits(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    login(client, lawyer)
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    resp = client.post(
        "/cases/new",
        data={
            "csrf_token": token,
            "person.first_name": "سارة",
            "person.family_name": "الحموي",
            "person.birth_date": "٣/١٩٨٥",
            "person.national_id": "۰۱۲۳۴۵۶۷۸",
            "arrests.0.date": "۱۴.۲.۲۰۱۴",
            "consent.documentation.granted": "yes",
            "consent.documentation.date": "١/٥/٢٠٢٤",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    cid = resp.headers["Location"].rsplit("/", 1)[-1]
    h = bearer(app, lawyer)
    doc = client.get(f"/api/v1/cases/{cid}", headers=h).get_json()
    assert doc["person"]["birth_date"] == "1985-03"
    assert doc["person"]["national_id"] == "012345678"
    assert doc["arrests"][0]["date"] == "2014-02-14"
    assert doc["consent"]["documentation"]["date"] == "2024-05-01"
    # search with the other digit system finds it
    found = client.get(
        "/api/v1/cases", query_string={"national_id": "٠١٢٣٤٥٦٧٨"}, headers=h
    ).get_json()
    assert [i["id"] for i in found["items"]] == [cid]
    found = client.get(
        "/api/v1/cases", query_string={"q": "سارة الحموي", "birth_year": "١٩٨٥"}, headers=h
    ).get_json()
    assert [i["id"] for i in found["items"]] == [cid]


def test_import_takes_persian_digits(app: Flask, client: FlaskClient) -> None:
    h = bearer(app, make_user(app, "lawyer"))
    row = case_to_row(minimal_case())
    row.update({"arrest.date": "۱۴/۵/۲۰۱۳", "person.birth_date": "۱۹۸۵", "status_date": "٥/٢٠١٣"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerow([row.get(c, "") for c in COLUMNS])
    resp = client.post(
        "/api/v1/imports", headers=h, data={"file": (io.BytesIO(out.getvalue().encode()), "c.csv")}
    )
    assert resp.status_code == 201, resp.get_json()
    cid = client.get("/api/v1/cases", headers=h).get_json()["items"][0]["id"]
    doc = client.get(f"/api/v1/cases/{cid}", headers=h).get_json()
    assert doc["arrests"][0]["date"] == "2013-05-14"
    assert doc["person"]["birth_date"] == "1985"
    assert doc["status"][0]["date"] == "2013-05"
