"""The case search as a new user meets it: a filter that cannot be read runs no search (its
message beside the field, in the page's language; the API's 422 names the field), a year typed
in Arabic-Indic digits is a year, and a case reference finds that case only for who may see it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, csrf_from, login, make_user, minimal_case

_COUNT = re.compile(r"<p>(At least )?(\d+) cases?\b")


@pytest.fixture
def cases(app: Flask) -> dict[str, Any]:
    """A lawyer's three cases of أحمد الحلبي (born 1985, 1992, 1992) and a documenter."""
    lawyer, documenter = make_user(app, "lawyer"), make_user(app, "documenter")
    client = app.test_client()
    refs = []
    for born in ("1985", "1992", "1992"):
        resp = client.post(
            "/api/v1/cases", json=minimal_case(birth_date=born), headers=bearer(app, lawyer)
        )
        assert resp.status_code == 201, resp.get_json()
        refs.append(resp.get_json()["reference"])
    return {"lawyer": lawyer, "documenter": documenter, "refs": refs}


def _post(client: FlaskClient, fields: dict[str, str], lang: str = "en") -> tuple[int, str]:
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    resp = client.post(
        "/cases/", data={"csrf_token": token, **fields}, headers={"Accept-Language": lang}
    )
    return resp.status_code, resp.get_data(as_text=True)


def _count(html: str) -> str | None:
    found = _COUNT.search(html.split("</details>", 1)[1])
    return f"{found.group(2)}{'+' if found.group(1) else ''}" if found else None


@pytest.mark.parametrize(
    ("lang", "message", "no_search"),
    [
        ("en", "Enter a year of four digits, from 1900 to 2100.", "No search was run"),
        ("ar", "أدخل سنة من أربعة أرقام، من 1900 إلى 2100.", "لم يُجرَ أي بحث"),
    ],
)
@pytest.mark.parametrize("year", ["٩٢", "92", "19x2", "3000"])
def test_a_bad_year_runs_no_search_and_says_why_beside_the_field(
    app: Flask, cases: dict[str, Any], lang: str, message: str, no_search: str, year: str
) -> None:
    client = app.test_client()
    login(client, make_user(app, "lawyer", language=lang))  # the page speaks the user's language
    status, html = _post(client, {"q": "الحلبي", "birth_year": year}, lang)
    assert status == 422
    field = re.search(
        r'<input id="search-year"[^>]*>\s*<small[^>]*>[^<]*</small>\s*(<small[^>]*>)([^<]*)', html
    )
    assert field and 'id="search-year-error"' in field.group(1)
    assert field.group(2) == message
    assert 'aria-invalid="true"' in html.split('id="search-year"', 1)[1].split(">", 1)[0]
    assert no_search in html
    assert _count(html) is None  # no count line, and no case in a list
    assert not any(ref in html for ref in cases["refs"])
    assert "greater than or equal" not in html


def test_the_api_answers_a_bad_year_with_422_and_the_field(
    app: Flask, cases: dict[str, Any]
) -> None:
    client = app.test_client()
    headers = {**bearer(app, cases["lawyer"]), "Accept-Language": "ar"}
    resp = client.get(
        "/api/v1/cases", query_string={"q": "الحلبي", "birth_year": "٩٢"}, headers=headers
    )
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert body["fields"] == {"birth_year": ["أدخل سنة من أربعة أرقام، من 1900 إلى 2100."]}
    assert "items" not in body


@pytest.mark.parametrize("year", ["١٩٩٢", "۱۹۹۲", " 1992 "])
def test_a_year_in_any_digits_narrows_the_search(
    app: Flask, cases: dict[str, Any], year: str
) -> None:
    client = app.test_client()
    login(client, cases["lawyer"])
    status, html = _post(client, {"q": "الحلبي", "birth_year": year})
    assert status == 200
    assert _count(html) == "2"
    resp = client.get(
        "/api/v1/cases",
        query_string={"q": "الحلبي", "birth_year": year},
        headers=bearer(app, cases["lawyer"]),
    )
    assert resp.status_code == 200 and resp.get_json()["total"] == 2


def _api_total(client: FlaskClient, headers: dict[str, str], fields: dict[str, str]) -> Any:
    resp = client.get("/api/v1/cases", query_string=fields, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    return body["total"], body["total_is"], [item["reference"] for item in body["items"]]


def _variants(reference: str) -> list[str]:
    _, year, number = reference.split("-")
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    return [
        reference,
        reference.lower(),
        f" CB {year} {int(number)} ",
        reference.translate(arabic),
    ]


def test_a_reference_finds_its_case_on_both_paths(app: Flask, cases: dict[str, Any]) -> None:
    client = app.test_client()
    login(client, cases["lawyer"])
    headers = bearer(app, cases["lawyer"])
    wanted, others = cases["refs"][1], [cases["refs"][0], cases["refs"][2]]
    for typed in _variants(wanted):
        assert _api_total(client, headers, {"q": typed}) == (1, "exact", [wanted])
        status, html = _post(client, {"q": typed})
        assert status == 200 and _count(html) == "1"
        assert wanted in html and not any(ref in html for ref in others)
    # the other filters still apply: the case was born in 1992 and is held (not released)
    assert _api_total(client, headers, {"q": wanted, "birth_year": "1985"})[0] == 0
    assert _api_total(client, headers, {"q": wanted, "birth_year": "1992"})[0] == 1
    assert _api_total(client, headers, {"q": wanted, "verification": "verified"})[0] == 0


def test_a_reference_the_user_may_not_see_is_as_one_that_does_not_exist(
    app: Flask, cases: dict[str, Any]
) -> None:
    client = app.test_client()
    login(client, cases["documenter"])
    headers = bearer(app, cases["documenter"])
    hidden = cases["refs"][0]
    year = hidden.split("-")[1]
    missing = f"CB-{year}-999999"
    pages = []
    for typed in (hidden, missing):
        assert _api_total(client, headers, {"q": typed}) == (0, "exact", [])
        status, html = _post(client, {"q": typed})
        assert status == 200 and _count(html) == "0"
        assert hidden not in html.split("</details>", 1)[1]
        pages.append(html.split("</details>", 1)[1].replace(typed, ""))
    assert "No case you can see has this reference" in pages[0]
    assert pages[0] == pages[1]  # nothing tells the hidden case from one that does not exist


@pytest.mark.parametrize(
    ("typed", "total"),
    [("al-Halabi", 0), ("Al Halabi", 0), ("El-Halabi", 0), ("Ali Halabi", 1), ("ال حلبي", 1)],
)
def test_an_article_and_a_family_name_are_not_a_first_name(
    app: Flask, typed: str, total: int
) -> None:
    """al-Halabi is one family name written in Latin letters, not the first name "al" (which
    sounds as علي) and Halabi: علي الحلبي is found only by his first name and family name, or
    by the family name in Arabic."""
    lawyer = make_user(app, "lawyer")
    client = app.test_client()
    headers = bearer(app, lawyer)
    resp = client.post("/api/v1/cases", json=minimal_case(first_name="علي"), headers=headers)
    assert resp.status_code == 201
    login(client, lawyer)
    assert _api_total(client, headers, {"q": typed})[0] == total
    assert _count(_post(client, {"q": typed})[1]) == str(total)


_LATIN_ALONE = {
    "en": "A family name in Latin letters alone is compared letter for letter",
    "ar": "اسم العائلة المكتوب بحروف لاتينية وحده",
}
_ONE_WORD_FOUND = {
    "en": "One word is searched as a family name: these are the cases with that family name.",
    "ar": "الكلمة الواحدة يُبحث عنها كاسم عائلة: هذه هي الحالات التي تحمل اسم العائلة هذا.",
}


@pytest.fixture
def families(app: Flask) -> Any:
    """الحموي twice and محمد المحمد once, as a lawyer entered them."""
    lawyer = make_user(app, "lawyer")
    client = app.test_client()
    for person in (
        {"family_name": "الحموي"},
        {"first_name": "خالد", "family_name": "الحموي"},
        {"first_name": "علي", "family_name": "المحمد"},
    ):
        resp = client.post(
            "/api/v1/cases", json=minimal_case(**person), headers=bearer(app, lawyer)
        )
        assert resp.status_code == 201
    return lawyer


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("typed", ["Hamwi", "al-Hamwi", "Halabi"])
def test_a_latin_family_name_alone_that_finds_nothing_says_what_to_write(
    app: Flask, families: Any, lang: str, typed: str
) -> None:
    client = app.test_client()
    login(client, make_user(app, "lawyer", language=lang))
    status, html = _post(client, {"q": typed}, lang)
    assert status == 200
    assert _count(html) == "0" if lang == "en" else "لا حالات" in html
    assert _LATIN_ALONE[lang] in html and "Mohammad Halabi" in html
    headers = {**bearer(app, families), "Accept-Language": lang}
    body = client.get("/api/v1/cases", query_string={"q": typed}, headers=headers).get_json()
    assert (body["total"], body["read_as"]) == (0, "family_name")
    assert body["hint"].startswith(_LATIN_ALONE[lang])


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_one_arabic_word_says_it_was_searched_as_a_family_name(
    app: Flask, families: Any, lang: str
) -> None:
    """محمّد alone finds علي المحمد (family name المحمد = محمد): the list says that one word is
    a family name, where the reader might think it found people called محمد."""
    client = app.test_client()
    login(client, make_user(app, "lawyer", language=lang))
    status, html = _post(client, {"q": "محمّد"}, lang)
    assert status == 200 and _ONE_WORD_FOUND[lang] in html
    headers = {**bearer(app, families), "Accept-Language": lang}
    body = client.get("/api/v1/cases", query_string={"q": "محمّد"}, headers=headers).get_json()
    assert (body["total"], body["read_as"], body["hint"][: len(_ONE_WORD_FOUND[lang])]) == (
        1,
        "family_name",
        _ONE_WORD_FOUND[lang],
    )
    both = client.get(
        "/api/v1/cases", query_string={"q": "خالد الحموي"}, headers=headers
    ).get_json()
    assert (both["total"], both["read_as"], both["hint"]) == (1, "first_and_family_name", None)


_OTHER_FIELDS = {
    "en": "Cases you can see have this name, but none with the other fields of the search",
    "ar": "توجد حالات تستطيع رؤيتها بهذا الاسم، لكن لا توجد حالة منها توافق حقول البحث الأخرى",
}
_NOT_RECORDED = {
    "en": "No case you can see has this first and family name.",
    "ar": "لا توجد حالة تستطيع رؤيتها بهذا الاسم الأول واسم العائلة.",
}


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize(
    "narrowing",
    [
        {"birth_year": "1990"},
        {"governorate": "homs"},
        {"status": "released"},
        {"mother": "زينب"},
        {"mother": "زينب", "birth_year": "1985"},
    ],
    ids=["birth_year", "governorate", "status", "mother", "mother_and_year"],
)
def test_a_name_kept_out_by_another_field_is_not_said_to_be_missing(
    app: Flask, families: Any, lang: str, narrowing: dict[str, str]
) -> None:
    """خالد الحموي is recorded (born 1985, arrested in Aleppo, disappeared, mother فاطمة): a
    search that adds another year, governorate, status or mother's name finds nothing, and must
    say that cases have the name and another field kept them out, not that no case has the name
    (the reader would stop looking, or enter the person again). A name no case has, with the
    same fields, is said to be missing."""
    client = app.test_client()
    login(client, make_user(app, "lawyer", language=lang))
    status, html = _post(client, {"q": "خالد الحموي", **narrowing}, lang)
    assert status == 200 and _OTHER_FIELDS[lang] in html
    headers = {**bearer(app, families), "Accept-Language": lang}
    query = {"q": "خالد الحموي", **narrowing}
    body = client.get("/api/v1/cases", query_string=query, headers=headers).get_json()
    assert (body["total"], body["hint"][: len(_OTHER_FIELDS[lang])]) == (0, _OTHER_FIELDS[lang])
    # the hint names the fields this search was given, and no other
    named = {
        "birth_year": ("birth year", "سنة الميلاد"),
        "governorate": ("governorate", "المحافظة"),
        "status": ("status", "الوضع"),
        "mother": ("mother's name", "اسم الأم"),
    }
    for field, words in named.items():
        word = words[lang == "ar"]
        assert (word in body["hint"]) == (field in narrowing), (field, body["hint"])
    assert ("partner" in body["hint"] or "الشريكة" in body["hint"]) is False
    alone = client.get(
        "/api/v1/cases", query_string={"q": "خالد الحموي"}, headers=headers
    ).get_json()
    assert (alone["total"], alone["hint"]) == (1, None)
    other = client.get(
        "/api/v1/cases", query_string={"q": "خالد الحلبي", **narrowing}, headers=headers
    ).get_json()
    assert (other["total"], other["hint"][: len(_NOT_RECORDED[lang])]) == (
        0,
        _NOT_RECORDED[lang],
    )


def test_a_reference_kept_out_by_another_field_and_a_birth_year_alone_say_so(
    app: Flask, families: Any
) -> None:
    """A case reference with a birth year the case does not record: the case is there, and the
    hint says the other field kept it out; a reference no one may see gets the usual words (a
    documenter learns nothing of a lawyer's case). A birth year alone lists nothing (it
    narrows a search by name), where it listed every case as if born that year."""
    client = app.test_client()
    lawyer = bearer(app, families)
    found = client.get("/api/v1/cases", query_string={"q": "خالد الحموي"}, headers=lawyer)
    reference = found.get_json()["items"][0]["reference"]
    kept_out = {"q": reference, "birth_year": "1990"}
    body = client.get("/api/v1/cases", query_string=kept_out, headers=lawyer).get_json()
    assert body["total"] == 0
    assert body["hint"].startswith("The case with this reference does not match the other")
    for headers in (bearer(app, make_user(app, "documenter")), lawyer):
        query = kept_out if headers is not lawyer else {**kept_out, "q": "CB-2026-999999"}
        other = client.get("/api/v1/cases", query_string=query, headers=headers).get_json()
        assert (other["total"], other["hint"]) == (
            0,
            "No case you can see has this reference, with these filters.",
        )
    # a birth year alone is no search: refused with the field named, not "0 cases" (two are
    # born that year), nor a list of every case as if born then
    year_alone = client.get("/api/v1/cases", query_string={"birth_year": "1985"}, headers=lawyer)
    assert year_alone.status_code == 422
    assert year_alone.get_json()["error"]["fields"] == {
        "birth_year": ["The birth year narrows a search by name: add a name."]
    }
    page_client = app.test_client()
    login(page_client, families)
    form = page_client.get("/cases/").get_data(as_text=True)
    page = page_client.post("/cases/", data={"csrf_token": csrf_from(form), "birth_year": "1985"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "The birth year narrows a search by name" in html
    assert 'id="search-year-error"' in html


_NO_YEAR_LEFT_OUT = {
    "en": "Cases whose birth year is not recorded are not listed when a birth year is given",
    "ar": "لا تظهر الحالات التي لم تُسجَّل فيها سنة الميلاد حين تُدخَل سنة الميلاد",
}


_NO_MOTHER_LEFT_OUT = {
    "en": "Cases whose mother's name is not recorded are not listed when a mother's name is given",
    "ar": "لا تظهر الحالات التي لم يُسجَّل فيها اسم الأم حين يُدخَل اسم الأم",
}
_NEITHER_LEFT_OUT = {
    "en": "Cases whose birth year or mother's name is not recorded are not listed when these",
    "ar": "لا تظهر الحالات التي لم تُسجَّل فيها سنة الميلاد أو اسم الأم حين يُدخَلان",
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_search_by_birth_year_says_it_leaves_out_cases_without_one(
    app: Flask, families: Any, lang: str
) -> None:
    """A second خالد الحموي is recorded without a birth year: a search with the year 1985
    lists the one born then, and says that cases without a recorded year are not listed (the
    family's report of a year would otherwise seem to rule the other out); the name alone lists
    both, with no such note."""
    client = app.test_client()
    headers = {**bearer(app, families), "Accept-Language": lang}
    person = minimal_case(first_name="خالد", family_name="الحموي")["person"]
    del person["birth_date"]  # type: ignore[attr-defined]
    resp = client.post(
        "/api/v1/cases",
        json={**minimal_case(), "person": person},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    query = {"q": "خالد الحموي", "birth_year": "1985"}
    body = client.get("/api/v1/cases", query_string=query, headers=headers).get_json()
    assert body["total"] == 1 and body["hint"].startswith(_NO_YEAR_LEFT_OUT[lang])
    alone = client.get("/api/v1/cases", query_string={"q": "خالد الحموي"}, headers=headers)
    assert (alone.get_json()["total"], alone.get_json()["hint"]) == (2, None)
    login(client, make_user(app, "lawyer", language=lang))
    status, html = _post(client, query, lang)
    assert status == 200 and _NO_YEAR_LEFT_OUT[lang] in html
    # the mother's name beside a first and family name: the same, for a case recording none
    unmothered = {**person, "birth_date": "1985", "mother_name": "-"}
    resp = client.post(
        "/api/v1/cases",
        json={**minimal_case(), "person": unmothered},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    both = {"q": "خالد الحموي", "mother": "فاطمة"}
    body = client.get("/api/v1/cases", query_string=both, headers=headers).get_json()
    assert body["total"] == 2 and body["hint"].startswith(_NO_MOTHER_LEFT_OUT[lang])
    body = client.get(
        "/api/v1/cases", query_string={**both, "birth_year": "1985"}, headers=headers
    ).get_json()
    assert body["total"] == 1 and body["hint"].startswith(_NEITHER_LEFT_OUT[lang])


@pytest.fixture
def demo_cases(app: Flask) -> dict[str, Any]:
    """Forty demo cases (casebook.cases.demo, the data the demo site holds) entered by a
    documenter, with their persons by reference."""
    from casebook.cases.demo import synthetic_cases

    documenter = make_user(app, "documenter", language="ar")
    client = app.test_client()
    persons = {}
    for data in synthetic_cases(40, seed=7):
        resp = client.post("/api/v1/cases", json=data, headers=bearer(app, documenter))
        assert resp.status_code == 201, resp.get_json()
        persons[resp.get_json()["reference"]] = data["person"]
    return {"documenter": documenter, "persons": persons}


def test_a_family_name_with_the_mother_finds_that_family_s_cases(
    app: Flask, demo_cases: dict[str, Any]
) -> None:
    """A documenter types the family name and the mother's name (الحلبي + ريم): the cases of
    that family whose mother is so named are found, in the list and through the API, where the
    mother's name was once read only with a first name and the list said "no cases"."""
    persons: dict[str, dict[str, Any]] = demo_cases["persons"]
    families: dict[tuple[str, str], set[str]] = {}
    for ref, p in persons.items():
        families.setdefault((p["family_name"], p["mother_name"]), set()).add(ref)
    client = app.test_client()
    login(client, demo_cases["documenter"])
    headers = {**bearer(app, demo_cases["documenter"]), "Accept-Language": "ar"}
    tried = sorted(families.items(), key=lambda item: -len(item[1]))[:4]
    assert tried and len(tried[0][1]) >= 2  # a family and mother shared by several cases
    for (family, mother), refs in tried:
        status, html = _post(client, {"q": family, "mother": mother}, "ar")
        listed = set(re.findall(r"CB-\d{4}-\d{6}", html.split("</details>", 1)[1]))
        assert status == 200 and listed == refs, (family, mother)
        assert "لا حالات" not in html
        body = client.get(
            "/api/v1/cases", query_string={"q": family, "mother": mother}, headers=headers
        ).get_json()
        assert {item["reference"] for item in body["items"]} == refs
        assert body["total"] == len(refs) and body["hint"] is None
    # a first name with the mother's name still finds its case
    ref, p = next(iter(persons.items()))
    body = client.get(
        "/api/v1/cases",
        query_string={"q": p["first_name"].split()[0], "mother": p["mother_name"]},
        headers=headers,
    ).get_json()
    assert ref in {item["reference"] for item in body["items"]}
    # a family and a mother's name no case has together: the list says what to try
    family = tried[0][0][0]
    absent = next(m for m in ("وداد", "جميلة", "نسرين") if (family, m) not in families)
    status, html = _post(client, {"q": family, "mother": absent}, "ar")
    assert (
        "لا حالات" in html
        and "لا توجد حالة تستطيع رؤيتها بهذا الاسم الأول أو اسم العائلة مع اسم الأم" in html
    )


def test_every_bad_filter_is_marked_beside_its_field_and_blank_ones_are_no_filter(
    app: Flask, families: Any
) -> None:
    """A forged list request with several bad filters: the page says no search ran before
    the form, and marks each filter beside its own field (the three lists each said "Choose
    one of the listed values" in one list below the form, without saying which); a
    documenter's partner filter, which has no field on their page, is listed by itself. The
    API refuses a page of 1.5 (it was cut to 1) and takes null or empty filters as none."""
    documenter = make_user(app, "documenter")
    client = app.test_client()
    login(client, documenter)
    status, html = _post(
        client,
        {
            "q": "خالد الحموي",
            "birth_year": "1987.5",
            "status": "missing",
            "governorate": "Homs",
            "verification": "ok",
            "partner": "yes",
        },
    )
    assert status == 422
    assert html.index("No search was run") < html.index('role="search"')
    for name in ("status", "governorate", "verification"):
        assert f'<select name="{name}" aria-invalid="true"' in html
        assert f'id="search-{name}-error">Choose one of the listed values.</small>' in html
    assert 'id="search-year-error"' in html
    assert "<li>Only lawyers can list the cases partner organisations also document.</li>" in html
    assert "خالد" not in html.split('role="search"')[0]
    # a filter given twice in a link is refused beside its field, as the API refuses it
    twice = client.get("/cases/?status=detained&status=released")
    assert twice.status_code == 422
    assert 'id="search-status-error">Give this filter once.</small>' in twice.get_data(as_text=True)
    headers = bearer(app, families)
    for sent, total in (
        ({"q": "خالد الحموي", "status": None, "governorate": "", "birth_year": None}, 1),
        ({"q": None, "mother": None}, 3),
    ):
        resp = client.post("/api/v1/cases/search", json=sent, headers=headers)
        assert (resp.status_code, resp.get_json().get("total")) == (200, total), resp.get_json()
    for page in (1.5, "2.0", True):
        resp = client.post("/api/v1/cases/search", json={"page": page}, headers=headers)
        assert resp.status_code == 422 and list(resp.get_json()["error"]["fields"]) == ["page"]


def test_a_name_in_a_web_address_is_said_to_be_unread_and_at_least_counts_agree_in_arabic(
    app: Flask, families: Any
) -> None:
    """An old link or bookmark with a name in its address: the name is not read (it would sit
    in history and logs), and the page says so rather than showing every case as if they
    matched. "At least 3" cases in Arabic is حالات (the count was always حالة)."""
    client = app.test_client()
    login(client, families)
    html = client.get("/cases/?q=%D8%AE%D8%A7%D9%84%D8%AF").get_data(as_text=True)
    assert "Names are not read from a web address" in html
    assert "Names are not read" not in client.get("/cases/?status=detained").get_data(as_text=True)
    headers = bearer(app, families)
    for _ in range(3):
        made = client.post(
            "/api/v1/cases",
            json=minimal_case(first_name="سمير", family_name="الحموي"),
            headers=headers,
        )
        assert made.status_code == 201
    arabic = app.test_client()
    login(arabic, make_user(app, "lawyer", language="ar"))
    status, html = _post(arabic, {"q": "الحموي", "per_page": "2"}, "ar")
    assert status == 200 and "3 حالات على الأقل" in html, html


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_name_of_three_words_says_the_words_between_are_not_compared(
    app: Flask, families: Any, lang: str
) -> None:
    """خالد أحمد الحموي finds خالد محمود الحموي (first and family name): the hint says the
    middle word was not compared, where a reader would take the list for the cases of that
    father and enter the person again; with a birth year, both notes are given."""
    headers = {**bearer(app, families), "Accept-Language": lang}
    client = app.test_client()
    body = client.get(
        "/api/v1/cases", query_string={"q": "خالد أحمد الحموي"}, headers=headers
    ).get_json()
    assert body["total"] == 1 and body["hint"].startswith(_WORDS_BETWEEN[lang])
    body = client.get(
        "/api/v1/cases",
        query_string={"q": "خالد أحمد الحموي", "birth_year": "1985"},
        headers=headers,
    ).get_json()
    assert body["hint"].startswith(_WORDS_BETWEEN[lang]) and _NO_YEAR_LEFT_OUT[lang] in body["hint"]
    two = client.get("/api/v1/cases", query_string={"q": "خالد الحموي"}, headers=headers)
    assert two.get_json()["hint"] is None
    login(client, make_user(app, "lawyer", language=lang))
    status, html = _post(client, {"q": "خالد أحمد الحموي"}, lang)
    assert status == 200 and _WORDS_BETWEEN[lang] in html


_WORDS_BETWEEN = {
    "en": "Only the first and the last word are compared, as the first and the family name",
    "ar": "لا تُقارَن إلا الكلمة الأولى والأخيرة، بوصفهما الاسم الأول واسم العائلة",
}
