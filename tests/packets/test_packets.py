"""WGEID and IIMP packets, the case dossier, and submissions with replies, as lawyers use them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from tests.conftest import UserFixture, bearer, login, make_user, minimal_case


def submittable(**source: Any) -> dict[str, Any]:
    case = minimal_case()
    case["family_actions"] = [
        {"type": "inquiry", "date": "2013-06", "note": "سألت الأم في فرع المخابرات الجوية"}
    ]
    case["consent"]["un_mechanisms"] = {"granted": True, "date": "2024-05-01"}  # type: ignore[index]
    case["source"].update(source)  # type: ignore[attr-defined]
    return case


@pytest.fixture
def lawyer(app: Flask) -> UserFixture:
    return make_user(app, "lawyer")


def _create(client: FlaskClient, h: dict[str, str], case: dict[str, Any]) -> str:
    resp = client.post("/api/v1/cases", json=case, headers=h)
    assert resp.status_code == 201, resp.get_json()
    return str(resp.get_json()["id"])


def _actions(app: Flask, action: str) -> list[dict[str, Any]]:
    """The entries' details, without the id of the token that made them (tests/auth checks it)."""
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [
            {k: v for k, v in json.loads(e.details).items() if k != "via_token"}
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == action))
        ]


def test_complete_case_gives_a_printable_wgeid_packet_in_both_languages(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    cid = _create(client, bearer(app, lawyer), submittable())
    login(client, lawyer)
    resp = client.get(f"/cases/{cid}/packet/wgeid?lang=en")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Working Group on Enforced or Involuntary Disappearances" in html
    for heading in (
        "1. Identity",
        "2. Date of arrest",
        "3. Place",
        "4. Forces",
        "5. Steps",
        "6. Submitting source",
    ):
        assert heading in html
    assert "أحمد محمود" in html and "2013-05" in html and "Air Force Intelligence" in html
    assert "أم أحمد" not in html  # the source is confidential by default: relationship only
    assert "+90 555" not in html
    assert "kept confidential" in html
    arabic = client.get(f"/cases/{cid}/packet/wgeid?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "الفريق العامل" in arabic
    assert _actions(app, "packet.wgeid") == [
        {"mechanism": "wgeid", "missing": []},
        {"mechanism": "wgeid", "missing": []},
    ]
    iimp = client.get(f"/cases/{cid}/packet/iimp?lang=en").get_data(as_text=True)
    assert "Independent Institution on Missing Persons" in iimp


def test_a_source_that_agreed_is_named(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    cid = _create(client, bearer(app, lawyer), submittable(confidential=False))
    login(client, lawyer)
    html = client.get(f"/cases/{cid}/packet/wgeid?lang=en").get_data(as_text=True)
    assert "أم أحمد" in html and "+90 555 000 0000" in html


def test_incomplete_case_is_refused_with_everything_missing(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    case = minimal_case()
    case["arrests"][0].pop("perpetrator")  # type: ignore[index]
    h = bearer(app, lawyer)
    cid = _create(client, h, case)
    resp = client.get(f"/api/v1/cases/{cid}/packets/wgeid", headers=h)
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"perpetrator", "family_steps", "consent"}
    login(client, lawyer)
    page = client.get(f"/cases/{cid}/packet/wgeid")
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'data-element="family_steps"' in text and 'data-element="consent"' in text
    assert _actions(app, "packet.refused")[0]["missing"] == [
        "perpetrator",
        "family_steps",
        "consent",
    ]


@pytest.mark.parametrize(
    ("names", "complete"),
    [
        ({"grandfather_name": "علي"}, True),  # the three-part name
        ({"grandfather_name": "علي", "family_name": "غير معروف"}, True),
        ({}, False),  # first and father's name only
        ({"family_name": "-"}, False),
        ({"first_name": "-", "family_name": "العلي"}, False),  # "-" is no first name
    ],
)
def test_a_three_part_name_is_a_full_name_where_the_family_name_is_not_known(
    app: Flask, client: FlaskClient, lawyer: UserFixture, names: dict[str, str], complete: bool
) -> None:
    case = submittable()
    del case["person"]["family_name"]  # type: ignore[attr-defined]
    case["person"].update(names)  # type: ignore[attr-defined]
    h = bearer(app, lawyer)
    cid = _create(client, h, case)
    resp = client.get(f"/api/v1/cases/{cid}/packets/wgeid", headers=h)
    if complete:
        assert resp.status_code == 200, resp.get_json()
    else:
        assert resp.status_code == 422
        assert set(resp.get_json()["error"]["fields"]) == {"identity"}
        message = resp.get_json()["error"]["fields"]["identity"][0]
        assert "grandfather" in message  # says what a full name is


def test_a_packet_never_gives_a_word_for_not_known_as_the_family_name(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    case = submittable()
    case["person"].update(grandfather_name="علي", family_name="غير معروف")  # type: ignore[attr-defined]
    cid = _create(client, bearer(app, lawyer), case)
    login(client, lawyer)
    for page in (f"/cases/{cid}/packet/wgeid?lang=en", f"/cases/{cid}/dossier?lang=en"):
        html = client.get(page).get_data(as_text=True)
        assert "أحمد محمود علي" in html and "غير معروف" not in html, page
        assert "Family name</dt><dd>Not known" in html, page


def test_withdrawn_consent_stops_the_packet_at_once(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    h = bearer(app, lawyer)
    cid = _create(client, h, submittable())
    assert client.get(f"/api/v1/cases/{cid}/packets/wgeid", headers=h).status_code == 200
    resp = client.post(
        f"/api/v1/cases/{cid}/consent",
        json={"scope": "un_mechanisms", "granted": False, "date": "2025-01-10"},
        headers=h,
    )
    assert resp.status_code == 200
    resp = client.get(f"/api/v1/cases/{cid}/packets/wgeid", headers=h)
    assert resp.status_code == 422 and list(resp.get_json()["error"]["fields"]) == ["consent"]


def test_only_lawyers_get_packets_and_dossiers(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    documenter = make_user(app, "documenter")
    hd = bearer(app, documenter)
    cid = _create(client, hd, submittable())  # the documenter's own case
    assert client.get(f"/api/v1/cases/{cid}/packets/wgeid", headers=hd).status_code == 403
    ha = bearer(app, make_user(app, "advocate"))
    assert client.get(f"/api/v1/cases/{cid}/packets/wgeid", headers=ha).status_code == 403
    login(client, documenter)
    assert client.get(f"/cases/{cid}/dossier").status_code == 403
    assert client.get(f"/cases/{cid}/packet/wgeid").status_code == 403
    hl = bearer(app, lawyer)
    assert client.get(f"/api/v1/cases/{cid}/packets/unknown", headers=hl).status_code == 404


def test_submission_and_reply_are_recorded_as_family_actions(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    h = bearer(app, lawyer)
    cid = _create(client, h, submittable())
    resp = client.post(
        f"/api/v1/cases/{cid}/packets/wgeid/submissions",
        json={"date": "2025-02-01", "reference": "WGEID-10.000123"},
        headers=h,
    )
    assert resp.status_code == 201
    index = resp.get_json()["index"]
    bad = client.post(f"/api/v1/cases/{cid}/submissions/0/reply", json={"reply": "x"}, headers=h)
    assert bad.status_code == 422 and "index" in bad.get_json()["error"]["fields"]
    resp = client.post(
        f"/api/v1/cases/{cid}/submissions/{index}/reply",
        json={
            "reply": "Transmitted to the Government under the urgent procedure.",
            "date": "2025-03",
        },
        headers=h,
    )
    assert resp.status_code == 200
    doc = client.get(f"/api/v1/cases/{cid}", headers=h).get_json()
    submission = doc["family_actions"][index]
    assert submission["type"] == "submission" and submission["body"] == "wgeid"
    assert submission["reference"] == "WGEID-10.000123"
    assert submission["reply"].startswith("Transmitted") and submission["reply_date"] == "2025-03"
    assert [a["mechanism"] for a in _actions(app, "packet.submitted")] == ["wgeid"]
    assert _actions(app, "packet.reply") == [{"mechanism": "wgeid", "index": index}]
    # the case still validates as a whole after the reply (PATCH re-reads family actions)
    resp = client.patch(
        f"/api/v1/cases/{cid}", json={"family_actions": doc["family_actions"]}, headers=h
    )
    assert resp.status_code == 200, resp.get_json()


def test_dossier_has_the_whole_case_with_its_timeline(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    h = bearer(app, lawyer)
    cid = _create(client, h, submittable())
    client.post(f"/api/v1/cases/{cid}/legal-notes", json={"text": "ملاحظة قانونية"}, headers=h)
    client.post(
        f"/api/v1/cases/{cid}/status",
        json={"status": "died_in_custody", "date": "2016-02", "source": "Caesar"},
        headers=h,
    )
    login(client, lawyer)
    html = client.get(f"/cases/{cid}/dossier").get_data(as_text=True)
    assert "ملاحظة قانونية" in html and "أم أحمد" in html and "اعتقل من الحاجز" in html
    order = [html.index(x) for x in ("2013-05", "2013-06", "2016-02")]
    assert order == sorted(order)  # arrest, the family's inquiry, then death in custody
    reads = _actions(app, "case.read")
    assert reads[-1] == {"source": True, "legal_notes": True}


def test_submission_and_reply_through_the_pages(
    app: Flask, client: FlaskClient, lawyer: UserFixture
) -> None:
    from tests.conftest import csrf_from

    cid = _create(client, bearer(app, lawyer), submittable())
    login(client, lawyer)
    page = client.get(f"/cases/{cid}/packet/wgeid?lang=en").get_data(as_text=True)
    resp = client.post(
        f"/cases/{cid}/packet/wgeid/submitted",
        data={"csrf_token": csrf_from(page), "date": "2025-02-01", "reference": "WG-77"},
        follow_redirects=True,
    )
    html = resp.get_data(as_text=True)
    assert "The submission was recorded." in html and "WG-77" in html
    resp = client.post(
        f"/cases/{cid}/submissions/1/reply",
        data={"csrf_token": csrf_from(html), "reply": "Transmitted", "date": "2099-01"},
        follow_redirects=True,
    )
    assert "Transmitted" not in resp.get_data(as_text=True)  # a future date is refused
    resp = client.post(
        f"/cases/{cid}/submissions/1/reply",
        data={"csrf_token": csrf_from(html), "reply": "Transmitted", "date": "2025-03"},
        follow_redirects=True,
    )
    assert "The reply was recorded." in resp.get_data(as_text=True)
    assert _actions(app, "packet.reply") == [{"mechanism": "wgeid", "index": 1}]
