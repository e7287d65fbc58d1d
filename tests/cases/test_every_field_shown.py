"""Every field a documenter can store is shown back: on the case page to whoever may see the
case, in the printed dossier, and (the facts a mechanism needs) in the WGEID packet. A field
that is stored but never shown is one the family gave and nobody reads again.

The test is tied to the record's types (casebook.cases.records): a field added there and not
given a value here fails the test until it is also shown."""

from __future__ import annotations

from typing import Any, get_type_hints

from flask import Flask
from flask.testing import FlaskClient

from casebook.cases import records
from tests.conftest import bearer, csrf_from, login, make_user

# Every field of the record, each with a value no other field has (codes: their English label).
PERSON = {
    "first_name": "سارة",
    "father_name": "خالد",
    "grandfather_name": "عبدو",
    "family_name": "الحموي",
    "mother_name": "ريمة",
    "latin_name": "Sara Hamwi",
    "other_names": ["أم خالد", "Sarah Hamoui"],
    "sex": "female",
    "birth_date": "1992-04",
    "birth_place": "مصياف",
    "nationality": "سورية",
    "national_id": "HM0457",
    "occupation": "معلمة",
    "civil_status": "متزوجة",
    "dependants": 4,
    "address": "حي الحاضر، شارع العلمين",
    "description": "طويلة، ندبة فوق الحاجب",
}
ARREST = {
    "date": "2014-02",
    "governorate": "hama",
    "place": "حاجز المشفى الوطني",
    "perpetrator": "regime.political_security",
    "unit": "فرع حماة",
    "circumstances": "أوقفت عند الحاجز وهي عائدة من المدرسة",
    "reason_given": "التواصل مع جهات خارجية",
    "witnesses": "سائق الحافلة",
}
PLACE = {
    "facility": "adra",
    "place": "جناح النساء",
    "from": "2014-03",
    "to": "2015-01",
    "note": "رآها معتقل سابق هناك",
}
DETENTION = {
    "places": [PLACE],
    "transfers": "نقلت من فرع حماة إلى دمشق",
    "court": "محكمة الإرهاب",
    "charge": "تمويل الإرهاب",
}
STATUS = {"status": "detained", "date": "2014-02", "source": "زوجها", "note": "لا زيارة"}
PAYMENT = {
    "type": "payment_demanded",
    "date": "2014-06",
    "amount": "5000 دولار",
    "note": "طلبها وسيط مقابل معلومة",
}
SUBMISSION = {
    "type": "submission",
    "date": "2016-01",
    "body": "wgeid",
    "reference": "WG-9981",
    "reply": "الحكومة لم ترد",
    "reply_date": "2016-09",
    "note": "عبر منظمة محلية",
}
SOURCE = {
    "name": "ريمة الحموي",
    "relationship": "أم",
    "contact": "+90 555 777 1234",
    "language": "كردية",
    "reliability": "medium",
    "confidential": False,
}
LABELS = {  # codes as an English page shows them
    "female": "Female",
    "hama": "Hama",
    "regime.political_security": "Political Security",
    "adra": "Adra",
    "detained": "Detained",
    "payment_demanded": "Payment demanded",
    "submission": "Submission",
    "wgeid": "WGEID",
    "medium": "Medium",
}
# Fields kept for the record's own machinery, not typed by anyone: shown as a badge when set.
NOT_TYPED = {"merged_from"}


def test_the_values_here_cover_every_field_of_the_record() -> None:
    for typed, given in [
        (records.Person, PERSON),
        (records.Arrest, ARREST),
        (records.DetentionPlace, {**PLACE, "date_from": 1, "date_to": 1}),
        (records.Detention, DETENTION),
        (records.StatusEntry, STATUS),
        (records.FamilyAction, {**PAYMENT, **SUBMISSION}),
        (records.Source, SOURCE),
    ]:
        missing = set(get_type_hints(typed)) - set(given) - NOT_TYPED
        assert not missing, (typed.__name__, missing)


def _case() -> dict[str, Any]:
    return {
        "person": PERSON,
        "arrests": [ARREST],
        "detention": DETENTION,
        "status": [STATUS],
        "family_actions": [PAYMENT, SUBMISSION],
        "source": SOURCE,
        "consent": {
            "documentation": {"granted": True, "date": "2024-05-01"},
            "un_mechanisms": {"granted": True, "date": "2024-05-02"},
        },
        "testimonies": [{"text": "اعتقلت سارة عند الحاجز", "date": "2024-05-01", "language": "ku"}],
    }


def _values(*sections: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for section in sections:
        for key, value in section.items():
            if key in NOT_TYPED or isinstance(value, bool):
                continue
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict):
                    out += _values(v)
                else:
                    out.append(LABELS.get(str(v), str(v)))
    return out


EVERY_VALUE = _values(PERSON, ARREST, DETENTION, STATUS, PAYMENT, SUBMISSION, SOURCE)


def _page(client: FlaskClient, path: str) -> str:
    resp = client.get(path, headers={"Accept-Language": "en"})
    assert resp.status_code == 200, path
    return resp.get_data(as_text=True)


def test_every_stored_field_is_on_the_case_page_and_in_the_dossier(app: Flask) -> None:
    documenter = make_user(app, "documenter", language="en")
    client = app.test_client()
    resp = client.post("/api/v1/cases", json=_case(), headers=bearer(app, documenter))
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["id"]
    change = {"scope": "un_mechanisms", "granted": False, "date": "2024-07-09"}
    resp = client.post(
        f"/api/v1/cases/{case_id}/consent", json=change, headers=bearer(app, documenter)
    )
    assert resp.status_code == 200, resp.get_json()
    login(client, documenter)
    page = _page(client, f"/cases/{case_id}")
    assert [v for v in EVERY_VALUE if v not in page] == []
    assert "Kurdî" in page  # the testimony's language
    history = page.split('class="meta consent-history"', 1)[1].split("</span>", 1)[0]
    assert "Earlier" in history and "Yes" in history and "2024-05-02" in history
    assert "2024-07-09" in page  # the withdrawal, as the scope's state
    lawyer_client = app.test_client()
    login(lawyer_client, make_user(app, "lawyer", language="en"))
    assert [v for v in EVERY_VALUE if v not in _page(lawyer_client, f"/cases/{case_id}")] == []
    dossier = _page(lawyer_client, f"/cases/{case_id}/dossier")
    assert [v for v in EVERY_VALUE if v not in dossier] == []


def test_the_packet_shows_other_names_and_the_amount_demanded(app: Flask) -> None:
    lawyer = make_user(app, "lawyer", language="en")
    client = app.test_client()
    resp = client.post("/api/v1/cases", json=_case(), headers=bearer(app, lawyer))
    assert resp.status_code == 201, resp.get_json()
    login(client, lawyer)
    packet = _page(client, f"/cases/{resp.get_json()['id']}/packet/wgeid")
    for value in ("5000 دولار", "Payment demanded", "أم خالد", "Sarah Hamoui", "سورية"):
        assert value in packet, value


def test_the_fields_typed_in_the_form_are_on_the_case_page(app: Flask, client: FlaskClient) -> None:
    """The same through the HTML form a documenter fills in (Arabic-Indic digits included)."""
    login(client, make_user(app, "documenter", language="ar"))
    form = {
        "consent.documentation.granted": "yes",
        "consent.documentation.date": "2024-05-01",
        **{f"person.{k}": v for k, v in PERSON.items() if k not in ("other_names", "dependants")},
        "person.other_names": "\n".join(PERSON["other_names"]),
        "person.dependants": "٤",
        **{f"arrests.0.{k}": v for k, v in ARREST.items()},
        **{f"detention.places.0.{k}": v for k, v in PLACE.items() if k != "note"},
        **{f"detention.{k}": v for k, v in DETENTION.items() if k != "places"},
        **{f"status.0.{k}": v for k, v in STATUS.items()},
        **{f"family_actions.0.{k}": v for k, v in PAYMENT.items()},
        "family_actions.0.amount": "٥٠٠٠ دولار",
        **{f"source.{k}": v for k, v in SOURCE.items() if k != "confidential"},
        "source.confidential": "no",
        "testimony.text": "اعتقلت سارة عند الحاجز",
        "testimony.language": "ar",
    }
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    resp = client.post("/cases/new", data={**form, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get(resp.headers["Location"], headers={"Accept-Language": "ar"}).get_data(
        as_text=True
    )
    for value in (
        "سورية",
        "متزوجة",
        "حي الحاضر، شارع العلمين",
        "أم خالد",
        "Sarah Hamoui",
        "التواصل مع جهات خارجية",
        "سائق الحافلة",
        "جناح النساء",
        "محكمة الإرهاب",
        "تمويل الإرهاب",
        "5000 دولار",
        "المبلغ المطلوب",
        "كردية",
        "متوسطة",  # the reliability, in the page's language
        '<bdi dir="ltr">4</bdi>',  # the dependants, as a number
    ):
        assert value in page, value
