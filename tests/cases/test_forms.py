"""The case pages as a documenter and a lawyer use them: Arabic-first forms, drafts that are
never lost, repeatable sections without JavaScript, the case page, erasure."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from casebook.cases import forms
from tests.conftest import UserFixture, bearer, csrf_from, login, make_user, minimal_case

FULL_FORM = {
    "consent.documentation.granted": "yes",
    "consent.documentation.date": "2024-05-01",
    "consent.statistics.granted": "yes",
    "consent.statistics.date": "2024-05-01",
    "person.first_name": "سارة",
    "person.father_name": "خالد",
    "person.family_name": "الحموي",
    "person.mother_name": "ريم",
    "person.sex": "female",
    "person.birth_date": "1992-04",
    "person.other_names": "أم خالد\nSara Hamwi",
    "arrests.0.date": "2014-02",
    "arrests.0.governorate": "hama",
    "arrests.0.place": "حي الحاضر",
    "arrests.0.perpetrator": "regime.political_security",
    "detention.places.0.facility": "adra",
    "detention.places.0.from": "2014-03",
    "status.0.status": "detained",
    "status.0.date": "2014-02",
    "family_actions.0.type": "submission",
    "family_actions.0.body": "wgeid",
    "family_actions.0.reference": "WG-123",
    "source.name": "ريم",
    "source.relationship": "أم",
    "source.contact": "+90 555",
    "source.confidential": "yes",
    "source.reliability": "high",
    "testimony.text": "اعتقلت سارة عند الحاجز",
    "testimony.language": "ar",
}


def _new_page(client: FlaskClient) -> str:
    return client.get("/cases/new").get_data(as_text=True)


def _refused(client: FlaskClient, changes: dict[str, str]) -> str:
    """The new-case page after sending the full form with `changes`, which it must refuse."""
    data = {**FULL_FORM, **changes, "csrf_token": csrf_from(_new_page(client))}
    resp = client.post("/cases/new", data=data)
    assert resp.status_code == 422
    return resp.get_data(as_text=True)


def test_new_case_form_is_arabic_first(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter", language="ar"))
    html = client.get("/cases/new", headers={"Accept-Language": ""}).get_data(as_text=True)
    assert 'dir="rtl"' in html and "موافقة العائلة" in html
    assert 'name="consent.documentation.granted"' in html
    for code in ("aleppo", "regime.air_force_intelligence", "sednaya"):
        assert f'value="{code}"' in html
    assert "حلب" in html and "سجن صيدنايا العسكري" in html


def test_documenter_saves_a_full_case_through_the_form(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    token = csrf_from(_new_page(client))
    resp = client.post("/cases/new", data={**FULL_FORM, "csrf_token": token})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    for text in (
        "سارة",
        "الحموي",
        "حي الحاضر",
        "اعتقلت سارة عند الحاجز",
        "WG-123",
        "+90 555",
        "Sara Hamwi",
    ):
        assert text in page, text


def test_a_case_is_saved_through_the_form_with_the_family_name_left_empty(
    app: Flask, client: FlaskClient
) -> None:
    """The family name is not a required field (the family may not know it); the first name
    is, and the page says so beside it."""
    login(client, make_user(app, "documenter"))
    html = _new_page(client)
    assert re.search(r'id="person.first_name"[^>]*required', html)
    assert not re.search(r'id="person.family_name"[^>]*required', html)
    token = csrf_from(html)
    resp = client.post(
        "/cases/new", data={**FULL_FORM, "person.family_name": "", "csrf_token": token}
    )
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "سارة خالد" in page and "الحموي" not in page
    refused = client.post(
        "/cases/new", data={**FULL_FORM, "person.first_name": "", "csrf_token": token}
    )
    assert refused.status_code == 422
    assert 'id="person.first_name-errors"' in refused.get_data(as_text=True)


@pytest.mark.parametrize("role", ["lawyer", "documenter"])
def test_a_case_entered_twice_through_the_form_says_who_may_learn_which(
    app: Flask, client: FlaskClient, role: str
) -> None:
    """The same person entered a second time: a lawyer is told which case it may be (as the
    API tells them) and where the pair waits; a documenter only that a lawyer will review."""
    login(client, make_user(app, role))
    token = csrf_from(_new_page(client))
    first = client.post("/cases/new", data={**FULL_FORM, "csrf_token": token})
    first_page = client.get(first.headers["Location"]).get_data(as_text=True)
    reference = re.search(r"CB-\d{4}-\d{6}", first_page)
    assert reference is not None
    again = client.post("/cases/new", data={**FULL_FORM, "csrf_token": token})
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    if role == "lawyer":
        assert f"may already be in casebook as {reference.group(0)}" in page
        assert "Duplicates review queue" in page
    else:
        assert "may already be in casebook: a lawyer will review." in page
        assert page.count(reference.group(0)) == 0


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_case_no_name_search_can_find_says_so_when_saved(
    app: Flask, client: FlaskClient, lang: str
) -> None:
    """A first name alone (وليد) is in no search index, so the case is found only by its
    reference: the documenter is told when it is saved (page and API), and asked for another
    name when the family knows one; a case with a father's name is searchable and says
    nothing. The submission bodies are named in the page's language: the case page wrote the
    code "OTHER" on Arabic pages."""
    user = make_user(app, "documenter", language=lang)
    login(client, user)
    token = csrf_from(_new_page(client))
    alone = {
        **FULL_FORM,
        "person.first_name": "وليد",
        "person.father_name": "",
        "person.family_name": "",
        "person.mother_name": "",
        "person.other_names": "",
        "family_actions.0.body": "other",
        "csrf_token": token,
    }
    saved = client.post("/cases/new", data=alone, headers={"Accept-Language": lang})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"], headers={"Accept-Language": lang})
    html = page.get_data(as_text=True)
    reference = re.search(r"CB-\d{4}-\d{6}", html)
    assert reference is not None
    said = {
        "en": f"No name search can find {reference.group(0)}",
        "ar": f"لا يستطيع أي بحث بالاسم أن يجد {reference.group(0)}",
    }
    assert said[lang] in html
    assert "OTHER" not in html and ("Other" in html if lang == "en" else "أخرى" in html)
    form = _new_page(client)
    assert ("اللجنة الدولية للصليب الأحمر (ICRC)" in form) == (lang == "ar")
    named = client.post("/cases/new", data={**alone, "person.father_name": "خالد"})
    assert "No name search can find" not in client.get(named.headers["Location"]).get_data(
        as_text=True
    )
    headers = bearer(app, user)
    body = client.post(
        "/api/v1/cases",
        json=minimal_case(father_name="", family_name="", mother_name=""),
        headers=headers,
    ).get_json()
    assert body["searchable_by_name"] is False and body["reference"] in body["notice"]
    body = client.post("/api/v1/cases", json=minimal_case(), headers=headers).get_json()
    assert body["searchable_by_name"] is True and "notice" not in body


def test_a_detention_place_with_two_problems_shows_both_at_once(
    app: Flask, client: FlaskClient
) -> None:
    """No place chosen or described, and an end before the start: both messages on the first
    try (the form showed the second only after the first was mended)."""
    login(client, make_user(app, "documenter"))
    html = _refused(
        client,
        {
            "detention.places.0.facility": "",
            "detention.places.0.from": "2015",
            "detention.places.0.to": "2014",
        },
    )
    assert "Choose a facility or describe the place." in html
    assert "The end is before the start." in html


def test_invalid_form_keeps_everything_typed_with_messages_beside_fields(
    app: Flask, client: FlaskClient
) -> None:
    login(client, make_user(app, "documenter"))
    html = _refused(
        client,
        {
            "person.birth_date": "1992-14",
            "arrests.0.date": "2090",
            "consent.documentation.granted": "no",
        },
    )
    assert "Everything you typed is still here" in html
    for value in ("سارة", "الحموي", "حي الحاضر", "اعتقلت سارة عند الحاجز", "+90 555", "1992-14"):
        assert value in html, value
    assert re.search(r'id="person.birth_date"[^>]*aria-invalid="true"', html)
    assert 'id="arrests.0.date-errors"' in html and "in the future" in html
    assert "consent to documentation is needed" in html


def test_add_another_arrest_saves_nothing_and_adds_a_row(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    token = csrf_from(_new_page(client))
    resp = client.post("/cases/new", data={**FULL_FORM, "add": "arrests", "csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'name="arrests.1.date"' in html and 'name="arrests.2.date"' not in html
    assert "حي الحاضر" in html
    assert "<p>0 cases</p>" in client.get("/cases/").get_data(as_text=True)  # none was saved


def _version(page: str) -> str:
    """The version of the case the edit form was opened at (its hidden `_version`)."""
    found = re.search(r'name="_version" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_edit_form_round_trips_and_clears_fields(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    resp = client.post("/cases/new", data={**FULL_FORM, "csrf_token": csrf_from(_new_page(client))})
    case_url = resp.headers["Location"]
    edit = client.get(case_url + "/edit").get_data(as_text=True)
    assert 'value="الحموي"' in edit and 'value="2014-02"' in edit
    values = {**FULL_FORM, "person.occupation": "ممرضة", "person.mother_name": ""}
    values.pop("testimony.text")
    values["_version"] = _version(edit)
    resp = client.post(case_url + "/edit", data={**values, "csrf_token": csrf_from(edit)})
    assert resp.status_code == 302
    page = client.get(case_url).get_data(as_text=True)
    assert "ممرضة" in page and "ريم" in page  # the source is still ريم
    assert page.count("اعتقلت سارة عند الحاجز") == 1  # testimonies are not duplicated by edits


def test_case_page_actions(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    resp = client.post("/cases/new", data={**FULL_FORM, "csrf_token": csrf_from(_new_page(client))})
    case_url = resp.headers["Location"]
    page = client.get(case_url).get_data(as_text=True)
    token = csrf_from(page)
    client.post(
        case_url + "/status", data={"status": "released", "date": "2025-01", "csrf_token": token}
    )
    client.post(
        case_url + "/testimonies",
        data={"text": "شهادة الأخ", "language": "ar", "csrf_token": token},
    )
    client.post(
        case_url + "/attachments",
        data={"file": (io.BytesIO(b"%PDF-1.5 x"), "وثيقة.pdf"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    page = client.get(case_url).get_data(as_text=True)
    assert "شهادة الأخ" in page and "وثيقة.pdf" in page and "Released" in page
    bad = client.post(
        case_url + "/status", data={"status": "released", "date": "1900-01", "csrf_token": token}
    )
    assert bad.status_code == 422
    assert "before the birth date" in bad.get_data(as_text=True)
    # arrested 2014-02: the form comes back as typed, the message beside the date
    typed = {"status": "released", "date": "2013", "source": "الأخ", "note": "خبر من سجين"}
    early = client.post(case_url + "/status", data={**typed, "csrf_token": token})
    assert early.status_code == 422
    form = early.get_data(as_text=True).split('id="add-status"')[1].split("</form>")[0]
    assert '<option value="released" selected>' in form
    assert 'value="2013"' in form and 'value="الأخ"' in form and 'value="خبر من سجين"' in form
    date_field = form.split('name="date"')[1].split("</label>")[0]
    assert 'aria-invalid="true"' in date_field and "before the earliest arrest" in date_field
    assert "خبر من سجين" not in client.get(case_url).get_data(as_text=True)  # nothing added
    client.post("/language", data={"lang": "ar", "next": "/", "csrf_token": token})
    again = client.post(case_url + "/status", data={**typed, "csrf_token": token})
    assert "هذا التاريخ قبل تاريخ أول اعتقال." in again.get_data(as_text=True)


def test_lawyer_reviews_and_erases_through_the_pages(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    documenter = app.test_client()
    login(documenter, users["documenter"])
    resp = documenter.post(
        "/cases/new", data={**FULL_FORM, "csrf_token": csrf_from(_new_page(documenter))}
    )
    case_url = resp.headers["Location"]
    with freeze_time() as clock:
        login(client, users["lawyer"])
        page = client.get(case_url).get_data(as_text=True)
        assert "Legal notes" in page and "Erase this case" in page
        client.post(
            case_url + "/review",
            data={"verification": "verified", "note": "موثقة", "csrf_token": csrf_from(page)},
        )
        page = client.get(case_url).get_data(as_text=True)
        assert "موثقة" in page
        assert "موثقة" not in documenter.get(case_url).get_data(as_text=True)
        assert documenter.get(case_url + "/edit").status_code == 302  # verified: no more edits
        clock.tick(11 * 60)
        assert client.get(case_url + "/erase").headers["Location"].startswith("/reauth")
        reauth = client.get("/reauth").get_data(as_text=True)
        client.post(
            "/reauth",
            data={
                "password": users["lawyer"].password,
                "code": users["lawyer"].code(1),
                "csrf_token": csrf_from(reauth),
            },
        )
        erase = client.get(case_url + "/erase").get_data(as_text=True)
        wrong = client.post(
            case_url + "/erase", data={"confirm": "nope", "csrf_token": csrf_from(erase)}
        )
        assert wrong.status_code == 422
        reference = re.search(r"CB-\d{4}-\d{6}", erase).group(0)  # type: ignore[union-attr]
        done = client.post(
            case_url + "/erase", data={"confirm": reference, "csrf_token": csrf_from(erase)}
        )
        assert done.status_code == 302
    assert client.get(case_url).status_code == 404
    assert documenter.get(case_url).status_code == 404


def test_case_list_searches_and_filters(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    client.post("/cases/new", data={**FULL_FORM, "csrf_token": csrf_from(_new_page(client))})
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    html = client.post("/cases/", data={"q": "ساره حموي", "csrf_token": token}).get_data(
        as_text=True
    )
    assert "الحموي" in html and "1 case<" in html
    # a name put in the URL is ignored: names never travel in URLs
    assert "1 case<" in client.get("/cases/?q=nobody at all").get_data(as_text=True)
    assert "0 cases" in client.get("/cases/?governorate=aleppo").get_data(as_text=True)
    assert "1 case<" in client.get("/cases/?governorate=hama").get_data(as_text=True)
    client.post("/cases/new", data={**FULL_FORM, "csrf_token": csrf_from(_new_page(client))})
    client.post("/cases/new", data={**FULL_FORM, "csrf_token": csrf_from(_new_page(client))})
    # a filtered list that stopped at its page says its count is a lower bound, and why
    html = client.get("/cases/?governorate=hama&per_page=1").get_data(as_text=True)
    assert "At least 2 cases (the count stops once this page is full)." in html
    assert "<span>Page 1</span>" in html  # no last page is claimed


def test_form_messages_are_in_the_users_language(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter", language="ar"))
    client.post(
        "/language",
        data={
            "lang": "ar",
            "next": "/",
            "csrf_token": csrf_from(client.get("/").get_data(as_text=True)),
        },
    )
    page = client.get("/cases/new").get_data(as_text=True)
    assert '<option value="unknown" selected>' in page  # sex is not assumed
    resp = client.post(
        "/cases/new",
        data={
            "csrf_token": csrf_from(page),
            "person.family_name": "الحموي",
            "person.birth_date": "1990-13",
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "هذا الحقل مطلوب." in html
    assert "هذا التاريخ غير موجود" in html  # a month no calendar has (1990-13)
    assert "Missing data for required field" not in html


def test_search_form_sent_whole_with_empty_fields_filters_by_name(
    app: Flask, client: FlaskClient
) -> None:
    """A browser posts every field of the search form; empty ones must not be errors."""
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    client.post("/api/v1/cases", json=minimal_case(), headers=h)
    client.post(
        "/api/v1/cases", json=minimal_case(first_name="زياد", family_name="النجار"), headers=h
    )
    login(client, lawyer)
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    form = {
        "csrf_token": token,
        "q": "احمد الحلبى",
        "mother": "",
        "birth_year": "",
        "national_id": "",
        "status": "",
        "governorate": "",
        "verification": "",
    }
    html = client.post("/cases/", data=form).get_data(as_text=True)
    assert 'class="errors"' not in html
    assert "الحلبي" in html and "النجار" not in html


def test_a_stale_edit_form_is_merged_with_what_others_changed_meanwhile() -> None:
    """Three-way: a field only this form changed takes what was typed; a field only someone
    else changed keeps theirs; both changed alike is no conflict; both changed differently is
    a conflict (theirs stays); rows this form added go after the rows the case has now (here a
    status the lawyer added took the row this form had added its own in); fields that are not
    the form's (the language switch) are ignored."""
    opened = {
        "person.occupation": "نجار",
        "person.father_name": "",
        "person.address": "حلب",
        "person.birth_place": "حمص",
        "status.0.status": "detained",
        "source.confidential": "yes",
    }
    now = {
        "person.occupation": "محامٍ",  # changed by the lawyer too
        "person.father_name": "محمود",  # changed by the lawyer only
        "person.address": "حلب",
        "person.birth_place": "دمشق",  # both changed it alike
        "status.0.status": "detained",
        "status.1.status": "released",  # a status the lawyer added
        "status.1.source": "the lawyer",
        "source.confidential": "yes",
    }
    typed = {
        "person.occupation": "معلّم",
        "person.father_name": "",
        "person.address": "",  # cleared here only
        "person.birth_place": "دمشق",
        "status.0.status": "detained",
        "status.1.status": "forcibly_disappeared",  # this form's new row
        "status.1.date": "2014-01",
        "arrests.0.place": "حي الميدان",  # the blank row shown when there are none
        "source.confidential": "yes",
        "lang": "ar",
    }
    merged, conflicts = forms.merge_stale(
        typed, forms.read_fingerprint(forms.fingerprint(opened)), now
    )
    assert conflicts == ["person.occupation", "status"]  # statuses added on both sides
    assert merged == {
        **now,
        "person.address": "",
        "status.2.status": "forcibly_disappeared",
        "status.2.date": "2014-01",
        "arrests.0.place": "حي الميدان",
    }


def test_a_stale_edit_form_does_not_apply_a_change_to_a_row_someone_else_moved() -> None:
    """Rows are matched by place: after another client removed the first status, a note typed
    on it would land on the status now in its place. Any change to a row someone else changed
    is a conflict instead."""
    opened = {"status.0.status": "detained", "status.1.status": "forcibly_disappeared"}
    now = {"status.0.status": "forcibly_disappeared"}
    typed = {**opened, "status.0.note": "about the arrest"}
    merged, conflicts = forms.merge_stale(
        typed, forms.read_fingerprint(forms.fingerprint(opened)), now
    )
    assert conflicts == ["status.0.note"] and merged == now


_NAMES = [
    "person.occupation",
    "person.address",
    *(
        f"{section}.{i}.{field}"
        for section, field in (
            ("status", "status"),
            ("status", "date"),
            ("arrests", "place"),
            ("family_actions", "type"),
            ("detention.places", "facility"),
        )
        for i in range(3)
    ),
    "lang",
]


_VALUES = st.dictionaries(st.sampled_from(_NAMES[:-1]), st.sampled_from(["a", "b", "c"]))


@given(
    st.dictionaries(st.sampled_from(_NAMES), st.sampled_from(["", "a", "b", " a "])),
    _VALUES,
    _VALUES,
)
def test_a_stale_edit_form_never_loses_anyones_change(
    typed: dict[str, str], opened: dict[str, str], now: dict[str, str]
) -> None:
    """Whatever was opened, typed and is there now: a field nobody changed here keeps the
    case's value; one changed only here takes what was typed; one changed by both to different
    values keeps the case's and is a conflict; every row the case has now is kept."""
    merged, conflicts = forms.merge_stale(
        typed, forms.read_fingerprint(forms.fingerprint(opened)), now
    )
    rows = {n.rsplit(".", 1)[0] for n in opened if n.count(".") >= 2}
    for name, value in now.items():
        if name not in typed or typed[name].strip() == opened.get(name, "").strip():
            assert merged[name] == value
    for name in (c for c in conflicts if forms.is_field(c)):
        assert merged.get(name, "") == now.get(name, "")
        assert typed[name].strip() not in (opened.get(name, "").strip(), now.get(name, "").strip())
    for name, value in typed.items():
        if name == "lang" or name in conflicts:
            continue
        in_opened_row = name.count(".") < 2 or name.rsplit(".", 1)[0] in rows
        changed_here = value.strip() != opened.get(name, "").strip()
        if (
            in_opened_row
            and changed_here
            and now.get(name, "").strip() == opened.get(name, "").strip()
        ):
            assert merged.get(name, "").strip() == value.strip()


def test_a_review_marks_a_brother_a_duplicate_only_on_the_lawyers_word(
    app: Flask, client: FlaskClient
) -> None:
    """حسن and حسين, brothers on every other field: a review marking one a duplicate of the
    other took him out of every count with no question, where a merge of the same pair asks
    for the lawyer's word. Now the review asks too (page and API); once marked, both case pages
    say so with a link, and the review form shows the case it names. The same first name
    needs no word."""
    lawyer = make_user(app, "lawyer")
    headers = bearer(app, lawyer)
    made = {}
    for first, born in (("حسن", "1990"), ("حسين", "1992"), ("حسين", "1991")):
        resp = client.post(
            "/api/v1/cases",
            json=minimal_case(first_name=first, family_name="الخطيب", birth_date=born),
            headers=headers,
        )
        made[(first, born)] = resp.get_json()
    hasan, husain, husain_again = made.values()
    refused = client.post(
        f"/api/v1/cases/{husain['id']}/review",
        json={"verification": "duplicate", "duplicate_of": hasan["reference"]},
        headers=headers,
    )
    assert refused.status_code == 422
    assert list(refused.get_json()["error"]["fields"]) == ["different_first_names"]
    same_name = client.post(
        f"/api/v1/cases/{husain_again['id']}/review",
        json={"verification": "duplicate", "duplicate_of": husain["reference"]},
        headers=headers,
    )
    assert same_name.status_code == 200, same_name.get_json()

    login(client, lawyer)
    url = f"/cases/{husain['id']}"
    page = client.get(url).get_data(as_text=True)
    form = {"verification": "duplicate", "duplicate_of": hasan["reference"]}
    client.post(url + "/review", data={**form, "csrf_token": csrf_from(page)})
    page = client.get(url).get_data(as_text=True)
    assert (
        'id="different_first_names" name="different_first_names" value="yes" aria-invalid' in page
    )
    assert "Mark it a duplicate only if you are sure" in page
    assert "A review marked this case a duplicate" not in page
    client.post(
        url + "/review",
        data={**form, "different_first_names": "yes", "csrf_token": csrf_from(page)},
    )
    page = client.get(url).get_data(as_text=True)
    assert f'a duplicate of <a href="/cases/{hasan["id"]}" dir="ltr">{hasan["reference"]}' in page
    assert f'name="duplicate_of" value="{hasan["reference"]}"' in page
    kept = client.get(f"/cases/{hasan['id']}").get_data(as_text=True)
    assert "Cases a review marked duplicates of this one:" in kept and husain["reference"] in kept
