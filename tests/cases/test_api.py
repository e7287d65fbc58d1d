"""Case records through the JSON API, as each role would use it."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casebook.audit.models import AuditEntry
from casebook.cases.models import Attachment, Case, CaseIndex  # not a test class
from casebook.cases.models import Testimony as CaseTestimony
from casebook.keys.models import CaseKey
from tests.conftest import UserFixture, bearer, fresh_code, make_user, minimal_case


@pytest.fixture
def h(app: Flask, users: dict[str, UserFixture]) -> dict[str, dict[str, str]]:
    return {role: bearer(app, user) for role, user in users.items()}


def _create(client: FlaskClient, headers: dict[str, str], data: dict | None = None) -> str:  # type: ignore[type-arg]
    resp = client.post("/api/v1/cases", json=data or minimal_case(), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["reference"].startswith("CB-")
    return str(body["id"])


def _count(app: Flask, model: type) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_documenter_creates_and_reads_back(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    doc = client.get(f"/api/v1/cases/{cid}", headers=h["documenter"]).get_json()
    assert doc["person"]["family_name"] == "الحلبي"
    assert doc["current_status"] == "forcibly_disappeared"
    assert doc["source"]["contact"] == "+90 555 000 0000"  # own case: source visible
    assert "legal_notes" not in doc
    assert doc["testimonies"][0]["text"] == "اعتقل من الحاجز"
    assert doc["can_edit"] is True


def test_references_count_up(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    refs = [
        client.post("/api/v1/cases", json=minimal_case(), headers=h["lawyer"]).get_json()[
            "reference"
        ]
        for _ in range(3)
    ]
    numbers = [int(r.rsplit("-", 1)[1]) for r in refs]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


def test_documenters_see_only_own_and_assigned(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    other = make_user(app, "documenter")
    other_h = bearer(app, other)
    cid = _create(client, h["documenter"])
    assert client.get(f"/api/v1/cases/{cid}", headers=other_h).status_code == 404
    assert client.get("/api/v1/cases", headers=other_h).get_json()["total"] == 0
    assert (
        client.patch(f"/api/v1/cases/{cid}", json={"arrests": []}, headers=other_h).status_code
        == 404
    )
    # a lawyer assigns it: now readable, but the source stays hidden and it is not editable
    resp = client.post(
        f"/api/v1/cases/{cid}/assign", json={"user_id": str(other.id)}, headers=h["lawyer"]
    )
    assert resp.status_code == 200
    doc = client.get(f"/api/v1/cases/{cid}", headers=other_h).get_json()
    assert doc["person"]["first_name"] == "أحمد"
    assert "source" not in doc and doc["can_edit"] is False
    assert (
        client.patch(f"/api/v1/cases/{cid}", json={"arrests": []}, headers=other_h).status_code
        == 409
    )


@pytest.mark.parametrize("role", ["advocate", "admin"])
def test_advocates_and_admins_never_read_cases(
    client: FlaskClient, h: dict[str, dict[str, str]], role: str
) -> None:
    cid = _create(client, h["lawyer"])
    assert client.get(f"/api/v1/cases/{cid}", headers=h[role]).status_code == 403
    assert client.get("/api/v1/cases", headers=h[role]).status_code == 403
    assert client.post("/api/v1/cases", json=minimal_case(), headers=h[role]).status_code == 403


def test_unknown_and_malformed_ids_are_404(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    for cid in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        assert client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"]).status_code == 404


def test_lawyer_reviews_writes_legal_notes_and_documenter_cannot_see_them(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    resp = client.post(
        f"/api/v1/cases/{cid}/review",
        json={"verification": "verified", "note": "ملاحظة قانونية سرية"},
        headers=h["lawyer"],
    )
    assert resp.status_code == 200 and resp.get_json()["verification"] == "verified"
    lawyer_doc = client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"]).get_json()
    assert lawyer_doc["legal_notes"][0]["text"] == "ملاحظة قانونية سرية"
    documenter_doc = client.get(f"/api/v1/cases/{cid}", headers=h["documenter"])
    assert "legal_notes" not in documenter_doc.get_json()
    assert "ملاحظة قانونية" not in documenter_doc.get_data(as_text=True)
    # verified: the documenter can no longer edit
    patch = client.patch(
        f"/api/v1/cases/{cid}", json={"person": {"occupation": "x"}}, headers=h["documenter"]
    )
    assert patch.status_code == 409
    assert (
        client.post(
            f"/api/v1/cases/{cid}/review",
            json={"verification": "verified"},
            headers=h["documenter"],
        ).status_code
        == 403
    )


def test_mark_duplicate_needs_an_existing_case(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    a = _create(client, h["lawyer"])
    b = client.post("/api/v1/cases", json=minimal_case(), headers=h["lawyer"]).get_json()
    bad = client.post(
        f"/api/v1/cases/{a}/review", json={"verification": "duplicate"}, headers=h["lawyer"]
    )
    assert bad.status_code == 422 and "duplicate_of" in bad.get_json()["error"]["fields"]
    ok = client.post(
        f"/api/v1/cases/{a}/review",
        json={"verification": "duplicate", "duplicate_of": b["reference"]},
        headers=h["lawyer"],
    )
    assert ok.get_json()["duplicate_of"] == b["id"]


def test_patch_updates_fields_and_keeps_the_rest(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    resp = client.patch(
        f"/api/v1/cases/{cid}",
        json={"person": {"occupation": "معلم"}, "source": {"contact": "new"}},
        headers=h["documenter"],
    )
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["person"]["occupation"] == "معلم" and doc["person"]["first_name"] == "أحمد"
    assert doc["source"]["contact"] == "new" and doc["source"]["name"] == "أم أحمد"
    assert doc["arrests"][0]["governorate"] == "aleppo"


def test_status_history_and_current_status(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    resp = client.post(
        f"/api/v1/cases/{cid}/status",
        json={"status": "released", "date": "2025-01", "source": "family", "note": "أفرج عنه"},
        headers=h["documenter"],
    )
    assert resp.status_code == 201 and resp.get_json()["current_status"] == "released"
    doc = client.get(f"/api/v1/cases/{cid}", headers=h["documenter"]).get_json()
    assert [s["status"] for s in doc["status"]] == ["forcibly_disappeared", "released"]
    assert (
        client.get("/api/v1/cases?status=released", headers=h["documenter"]).get_json()["total"]
        == 1
    )
    assert (
        client.get("/api/v1/cases?status=detained", headers=h["documenter"]).get_json()["total"]
        == 0
    )


def test_testimony_is_added_and_kept_encrypted(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    resp = client.post(
        f"/api/v1/cases/{cid}/testimonies",
        json={"text": "شهادة ثانية", "date": "2024-06-01", "language": "ar"},
        headers=h["documenter"],
    )
    assert resp.status_code == 201
    assert _count(app, CaseTestimony) == 2
    with app.extensions["casebook.db"].sessionmaker() as s:
        blobs = s.scalars(select(CaseTestimony.body_enc)).all()
    assert all("شهادة".encode() not in b for b in blobs)


def test_case_page_lists_testimonies_and_attachments_in_the_order_they_were_added(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture], h: dict[str, dict[str, str]]
) -> None:
    """The case page reads the children with the case itself on PostgreSQL: for the owner and
    for a lawyer it shows what the separate read shows, each child once, oldest first."""
    cid = _create(client, h["documenter"])
    added = []
    for i in range(3):
        t = client.post(
            f"/api/v1/cases/{cid}/testimonies",
            json={"text": f"شهادة {i}", "date": "2024-06-01", "language": "ar"},
            headers=h["documenter"],
        )
        a = client.post(
            f"/api/v1/cases/{cid}/attachments",
            headers=h["documenter"],
            data={"file": (io.BytesIO(b"%PDF-1.4\n" + bytes(i) * 50), f"{i}.pdf")},
        )
        assert t.status_code == a.status_code == 201
        added += [("t", t.get_json()["id"]), ("a", a.get_json()["id"])]
    other = _create(client, h["documenter"])  # its children must not leak into this page
    client.post(
        f"/api/v1/cases/{other}/testimonies",
        json={"text": "غيرها", "date": "2024-06-01", "language": "ar"},
        headers=h["documenter"],
    )
    from casebook.cases import selectors

    for role in ("documenter", "lawyer"):
        doc = client.get(f"/api/v1/cases/{cid}", headers=h[role]).get_json()
        texts = [t["text"] for t in doc["testimonies"]]
        assert texts == ["اعتقل من الحاجز", "شهادة 0", "شهادة 1", "شهادة 2"]
        assert [x["id"] for x in doc["attachments"]] == [i for k, i in added if k == "a"]
        with app.test_request_context(), app.extensions["casebook.db"].sessionmaker() as s:
            from casebook.auth.models import User

            user = s.get(User, users[role].id)
            case = selectors.case_or_404(s, user, cid)  # type: ignore[arg-type]
            separate = selectors.case_document(s, user, case)  # type: ignore[arg-type]
            _, together = selectors.case_page(s, user, cid)  # type: ignore[arg-type]
        for key in ("testimonies", "attachments"):
            assert together[key] == separate[key] == doc[key]
    empty = _create(client, h["lawyer"])
    doc = client.get(f"/api/v1/cases/{empty}", headers=h["lawyer"]).get_json()
    assert doc["attachments"] == [] and len(doc["testimonies"]) == 1


# -- validation ------------------------------------------------------------------------------------


def _errors(client: FlaskClient, headers: dict[str, str], data: object) -> dict[str, list[str]]:
    resp = client.post("/api/v1/cases", json=data, headers=headers)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()["error"]
    assert body["code"] == "validation_error"
    return dict(body["fields"])


def test_every_problem_is_reported_at_once(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    data = minimal_case(birth_date="1990-13", sex="x")
    data["person"]["first_name"] = ""  # type: ignore[index]
    data["arrests"] = [{"date": "2099", "governorate": "atlantis", "perpetrator": "martians"}]
    data["status"] = [{"status": "vanished"}]
    data["consent"] = {
        "documentation": {"granted": False, "date": "2024-05-01"},
        "newsletter": {"granted": True, "date": "2024-05-01"},
    }
    data["surprise"] = 1
    before = (_count(app, Case), _count(app, CaseKey), _count(app, AuditEntry))
    fields = _errors(client, h["documenter"], data)
    for path in (
        "person.first_name",
        "person.birth_date",
        "person.sex",
        "arrests.0.date",
        "arrests.0.governorate",
        "arrests.0.perpetrator",
        "status.0.status",
        "consent",
        "surprise",
    ):
        assert path in fields, (path, fields)
    assert "future" in fields["arrests.0.date"][0]
    # nothing half-written: no case, no key, no audit entry
    assert (_count(app, Case), _count(app, CaseKey), _count(app, AuditEntry)) == before


def test_documentation_consent_is_required(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    data = minimal_case()
    data["consent"] = {"statistics": {"granted": True, "date": "2024-05-01"}}
    fields = _errors(client, h["documenter"], data)
    assert "consent.documentation" in fields


def test_arrest_before_birth_is_refused(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    data = minimal_case(birth_date="1990-06")
    data["arrests"][0]["date"] = "1990-05"  # type: ignore[index]
    fields = _errors(client, h["documenter"], data)
    assert fields == {"arrests.0.date": ["This is before the birth date."]}


def test_a_custody_status_before_the_earliest_arrest_is_refused(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """ "Disappeared since 2011" in a case whose only arrest is in 2013: one of the dates is
    wrong, or an arrest is missing, and the file sent on would not hold together."""
    data = minimal_case()
    data["arrests"].append({"date": "2014-02", "governorate": "homs"})  # type: ignore[attr-defined]
    data["status"] = [
        {"status": "forcibly_disappeared", "date": "2011"},
        {"status": "deceased", "date": "2012"},  # a death needs no arrest
        {"status": "detained", "date": "2013"},  # 2013 may be May 2013: no contradiction
        {"status": "released", "date": "2013-04-30"},
    ]
    fields = _errors(client, h["documenter"], data)
    assert fields == {
        "status.0.date": ["This is before the earliest arrest."],
        "status.3.date": ["This is before the earliest arrest."],
    }
    # an undated arrest may be the earliest: nothing to compare with
    data["arrests"].append({"governorate": "homs"})  # type: ignore[attr-defined]
    _create(client, h["documenter"], data)

    cid = _create(client, h["documenter"])  # arrested 2013-05
    added = client.post(
        f"/api/v1/cases/{cid}/status",
        json={"status": "released", "date": "2012-01"},
        headers=h["documenter"],
    )
    assert added.status_code == 422
    assert added.get_json()["error"]["fields"] == {"date": ["This is before the earliest arrest."]}
    moved = client.patch(
        f"/api/v1/cases/{cid}",
        json={"arrests": [{"date": "2016", "governorate": "aleppo"}]},
        headers=h["documenter"],
    )
    assert moved.status_code == 422
    assert moved.get_json()["error"]["fields"] == {
        "status.0.date": ["This is before the earliest arrest."]
    }
    assert (
        client.get(f"/api/v1/cases/{cid}", headers=h["documenter"]).get_json()["arrests"][0]["date"]
        == "2013-05"
    )


@pytest.mark.parametrize("value", ["1985", "1985-03", "1985-03-14"])
def test_partial_dates_are_accepted(
    client: FlaskClient, h: dict[str, dict[str, str]], value: str
) -> None:
    _create(client, h["documenter"], minimal_case(birth_date=value))


@pytest.mark.parametrize("value", ["85", "1985-3", "1985-02-30", "1985/03/14", "1899", "yesterday"])
def test_bad_partial_dates_are_refused(
    client: FlaskClient, h: dict[str, dict[str, str]], value: str
) -> None:
    assert "person.birth_date" in _errors(client, h["documenter"], minimal_case(birth_date=value))


def test_non_object_body_is_400(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    resp = client.post(
        "/api/v1/cases", data="[1,2]", content_type="application/json", headers=h["documenter"]
    )
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_request"


def test_sizes_are_bounded(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    data = minimal_case()
    data["testimonies"] = [{"text": "x" * 200_001}]
    assert "testimonies.0.text" in _errors(client, h["documenter"], data)
    fields = _errors(client, h["documenter"], minimal_case(first_name="ا" * 101))
    assert "person.first_name" in fields


# -- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "احمد الحلبى",
        "أحمد الحلبي",
        "أَحْمَد حلبي",
        "احمـد الحلبيّ",
        "Ahmad Halabi",
        "Ahmed Al-Halabi",
        "الحلبي 1985",
    ],
)
def test_search_finds_spelling_variants(
    client: FlaskClient, h: dict[str, dict[str, str]], query: str
) -> None:
    cid = _create(client, h["lawyer"])
    _create(
        client,
        h["lawyer"],
        minimal_case(first_name="محمد", family_name="الخطيب", birth_date="1990"),
    )
    found = client.get("/api/v1/cases", query_string={"q": query}, headers=h["lawyer"]).get_json()
    assert [i["id"] for i in found["items"]] == [cid]


def test_latin_name_field_is_searchable(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    cid = _create(
        client,
        h["lawyer"],
        minimal_case(first_name="يوسف", family_name="الخطيب", latin_name="Youssef Khatib"),
    )
    for query in ("Yusuf Al-Khatib", "Youssef Khatib"):
        found = client.get(
            "/api/v1/cases", query_string={"q": query}, headers=h["lawyer"]
        ).get_json()
        assert [i["id"] for i in found["items"]] == [cid]


def test_search_by_mother_and_national_id(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["lawyer"], minimal_case(national_id="01020304050"))
    by_mother = client.get(
        "/api/v1/cases", query_string={"q": "احمد", "mother": "فاطمه"}, headers=h["lawyer"]
    ).get_json()
    assert [i["id"] for i in by_mother["items"]] == [cid]
    wrong_mother = client.get(
        "/api/v1/cases", query_string={"q": "احمد", "mother": "زينب"}, headers=h["lawyer"]
    ).get_json()
    assert wrong_mother["total"] == 0
    by_nid = client.get(
        "/api/v1/cases", query_string={"national_id": "01020304050"}, headers=h["lawyer"]
    ).get_json()
    assert [i["id"] for i in by_nid["items"]] == [cid]


def test_search_by_post_keeps_names_out_of_the_url(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """The same search as GET /api/v1/cases, with the names in a JSON body: what the GET
    finds, the POST finds; bad fields are listed by name; the roles are the list's."""
    cid = _create(client, h["lawyer"], minimal_case(national_id="01020304050"))
    _create(client, h["lawyer"], minimal_case(first_name="محمد", family_name="الخطيب"))
    query = {"q": "احمد الحلبي", "mother": "فاطمه", "per_page": 10}
    by_get = client.get("/api/v1/cases", query_string=query, headers=h["lawyer"]).get_json()
    resp = client.post("/api/v1/cases/search", json=query, headers=h["lawyer"])
    assert resp.status_code == 200
    assert [i["id"] for i in resp.get_json()["items"]] == [cid]
    assert resp.get_json()["items"] == by_get["items"]
    assert resp.get_json()["total"] == by_get["total"] == 1
    bad = client.post("/api/v1/cases/search", json={"q": "x" * 201, "page": 0}, headers=h["lawyer"])
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"q", "page"}
    not_json = client.post("/api/v1/cases/search", data="q=احمد", headers=h["lawyer"])
    assert not_json.status_code == 400
    denied = client.post("/api/v1/cases/search", json={"q": "احمد"}, headers=h["advocate"])
    assert denied.status_code == 403


def test_index_collisions_never_reach_the_user(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """Force every name into one index value: the exact check still filters."""
    cid = _create(client, h["lawyer"])
    other = _create(client, h["lawyer"], minimal_case(first_name="محمد", family_name="الخطيب"))
    with app.extensions["casebook.db"].engine.begin() as conn:
        conn.execute(CaseIndex.__table__.update().values(value=7))
    vault = app.extensions["casebook.vault"]
    original = vault.blind_index

    class Constant:
        def __init__(self, idx: object) -> None:
            self.idx = idx

        def value(self, *parts: str) -> int:
            return 7

    vault.blind_index = lambda name: Constant(original(name))  # type: ignore[method-assign]
    try:
        found = client.get(
            "/api/v1/cases", query_string={"q": "محمد الخطيب"}, headers=h["lawyer"]
        ).get_json()
    finally:
        vault.blind_index = original  # type: ignore[method-assign]
    assert [i["id"] for i in found["items"]] == [other]
    assert cid != other


def test_list_pages_and_filters_by_verification(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    ids = [_create(client, h["lawyer"]) for _ in range(5)]
    client.post(
        f"/api/v1/cases/{ids[0]}/review", json={"verification": "verified"}, headers=h["lawyer"]
    )
    page = client.get("/api/v1/cases?per_page=2&page=2", headers=h["lawyer"]).get_json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["page"] == 2
    verified = client.get("/api/v1/cases?verification=verified", headers=h["lawyer"]).get_json()
    assert [i["id"] for i in verified["items"]] == [ids[0]]
    bad = client.get("/api/v1/cases?per_page=0&status=nope", headers=h["lawyer"])
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {
        "per_page",
        "status",
    }
    # a filter the list does not have is refused, named, never ignored (it would list every
    # case as if filtered); beside a bad value, both are named
    for url in ("/api/v1/cases?organisation=org2", "/api/v1/cases?per_page=0&statuss=detained"):
        refused = client.get(url, headers=h["lawyer"])
        fields = refused.get_json()["error"]["fields"]
        assert refused.status_code == 422 and ("organisation" in fields or "statuss" in fields)
        named = [v for k, v in fields.items() if k != "per_page"]
        assert named and all(v == ["This list has no such filter."] for v in named)
    # a filter given twice is refused, not read as its first value (a part of what was asked
    # for, listed as if it were all of it)
    twice = client.get(
        "/api/v1/cases?status=detained&status=released&verification=verified",
        headers=h["lawyer"],
    )
    assert twice.status_code == 422
    assert twice.get_json()["error"]["fields"] == {"status": ["Give this filter once."]}
    posted = client.post("/api/v1/cases/search", json={"q": "x", "stat": "1"}, headers=h["lawyer"])
    assert posted.status_code == 422 and set(posted.get_json()["error"]["fields"]) == {"stat"}


def test_search_query_text_never_reaches_the_audit_log(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    _create(client, h["lawyer"])
    client.get("/api/v1/cases", query_string={"q": "قناريزكس Canaryname"}, headers=h["lawyer"])
    with app.extensions["casebook.db"].sessionmaker() as s:
        details = " ".join(s.scalars(select(AuditEntry.details)))
    assert "Canaryname" not in details and "قناريزكس" not in details


# -- consent and erasure -------------------------------------------------------------------------


def test_consent_revocation_is_recorded_with_history(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    resp = client.post(
        f"/api/v1/cases/{cid}/consent",
        json={"scope": "statistics", "granted": False, "date": "2025-02-01"},
        headers=h["documenter"],
    )
    assert resp.status_code == 200
    assert resp.get_json()["consent"]["statistics"] == {"granted": False, "date": "2025-02-01"}
    refused = client.post(
        f"/api/v1/cases/{cid}/consent",
        json={"scope": "documentation", "granted": False, "date": "2025-02-01"},
        headers=h["documenter"],
    )
    assert refused.status_code == 422


def test_erase_needs_the_reference_and_leaves_only_a_tombstone(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    created = client.post("/api/v1/cases", json=minimal_case(), headers=h["documenter"]).get_json()
    cid = created["id"]
    client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h["documenter"],
        data={"file": (io.BytesIO(b"%PDF-1.7 test"), "a.pdf")},
    )
    wrong = client.post(
        f"/api/v1/cases/{cid}/erase",
        json={"confirm": "CB-0000-000000"},
        headers=fresh_code(app, h["lawyer"]),
    )
    assert wrong.status_code == 422
    assert (
        client.post(
            f"/api/v1/cases/{cid}/erase",
            json={"confirm": created["reference"]},
            headers=h["documenter"],
        ).status_code
        == 403
    )
    ok = client.post(
        f"/api/v1/cases/{cid}/erase",
        json={"confirm": created["reference"].lower()},
        headers=fresh_code(app, h["lawyer"]),
    )
    assert ok.status_code == 200
    assert client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"]).status_code == 404
    with app.extensions["casebook.db"].sessionmaker() as s:
        case = s.get(Case, __import__("uuid").UUID(cid))
        assert case is not None and case.reference == created["reference"]
        assert case.erased_at is not None and case.record_enc is None and case.facets_enc is None
        assert s.get(CaseKey, case.id) is None
        assert s.scalar(select(func.count()).select_from(CaseTestimony)) == 0
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0
        assert s.scalar(select(func.count()).where(CaseIndex.case_id == case.id)) == 0
    settings = app.config["CASEBOOK"]
    assert list((settings.instance / "attachments").glob("*")) == []
    assert cid in (settings.instance / "erasures.jsonl").read_text()


def test_erase_by_session_needs_recent_reauth(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    from freezegun import freeze_time

    from tests.conftest import csrf_token, login

    h = bearer(app, users["lawyer"])
    created = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()
    with freeze_time() as clock:
        login(client, users["lawyer"])
        clock.tick(11 * 60)
        token = csrf_token(client, "/")
        resp = client.post(
            f"/api/v1/cases/{created['id']}/erase",
            json={"confirm": created["reference"]},
            headers={"X-CSRFToken": token},
        )
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "reauth_required"


# -- attachments --------------------------------------------------------------------------------


def test_attachment_round_trip_with_sha256_and_audit(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    import hashlib

    cid = _create(client, h["documenter"])
    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3000
    resp = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h["documenter"],
        data={"file": (io.BytesIO(payload), "صورة.png")},
    )
    assert resp.status_code == 201
    meta = resp.get_json()
    assert meta["sha256"] == hashlib.sha256(payload).hexdigest()
    assert meta["content_type"] == "image/png" and meta["size"] == len(payload)
    stored = (app.config["CASEBOOK"].instance / "attachments" / f"{meta['id']}.bin").read_bytes()
    assert payload[8:1000] not in stored
    got = client.get(f"/api/v1/cases/{cid}/attachments/{meta['id']}", headers=h["lawyer"])
    assert got.status_code == 200 and got.data == payload
    assert "UTF-8''" in got.headers["Content-Disposition"]
    with app.extensions["casebook.db"].sessionmaker() as s:
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "case.attachment_add" in actions and "case.attachment_download" in actions


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("inv\u202efdp.exe", "invfdp.exe.pdf"),  # shown as "invexe.pdf", saved as .exe
        ("..\\..\\x\u0000\u2066y\u0007.pdf", "xy.pdf"),
        ("تقرير.PDF", "تقرير.PDF"),
    ],
)
def test_attachment_names_lose_controls_bidi_overrides_and_folders(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]], sent: str, kept: str
) -> None:
    from urllib.parse import quote

    cid = _create(client, h["documenter"])
    resp = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h["documenter"],
        data={"file": (io.BytesIO(b"%PDF-1.4 a document"), sent, "application/pdf")},
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["filename"] == kept
    got = client.get(
        f"/api/v1/cases/{cid}/attachments/{resp.get_json()['id']}", headers=h["lawyer"]
    )
    assert got.status_code == 200
    assert got.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{quote(kept)}"
    assert "%E2%80%AE" not in got.headers["Content-Disposition"]


def test_disallowed_type_is_refused_and_leaves_nothing(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    resp = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h["documenter"],
        data={"file": (io.BytesIO(b"MZ\x90\x00 windows program"), "photo.jpg")},
    )
    assert resp.status_code == 422 and "file" in resp.get_json()["error"]["fields"]
    assert list((app.config["CASEBOOK"].instance / "attachments").glob("*")) == []
    assert _count(app, Attachment) == 0


def test_attachment_over_the_limit_is_413(
    app: Flask, settings: object, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["documenter"])
    app.config["MAX_CONTENT_LENGTH"] = 200_000
    resp = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h["documenter"],
        data={"file": (io.BytesIO(b"%PDF-" + b"0" * 300_000), "big.pdf")},
    )
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "too_large"
    assert _count(app, Attachment) == 0


def test_attachment_of_another_case_is_404(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    a = _create(client, h["lawyer"])
    b = _create(client, h["lawyer"])
    att = client.post(
        f"/api/v1/cases/{a}/attachments",
        headers=h["lawyer"],
        data={"file": (io.BytesIO(b"%PDF-1.4"), "a.pdf")},
    ).get_json()
    assert (
        client.get(f"/api/v1/cases/{b}/attachments/{att['id']}", headers=h["lawyer"]).status_code
        == 404
    )


def test_tampered_attachment_fails_loudly_and_is_audited(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    cid = _create(client, h["lawyer"])
    att = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h["lawyer"],
        data={"file": (io.BytesIO(b"%PDF-1.4" + b"x" * 1000), "a.pdf")},
    ).get_json()
    path = app.config["CASEBOOK"].instance / "attachments" / f"{att['id']}.bin"
    data = bytearray(path.read_bytes())
    data[40] ^= 1
    path.write_bytes(bytes(data))
    resp = client.get(f"/api/v1/cases/{cid}/attachments/{att['id']}", headers=h["lawyer"])
    assert resp.status_code == 500 and resp.get_json()["error"]["code"] == "decryption_failed"
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert (
            s.scalar(select(func.count()).where(AuditEntry.action == "crypto.decrypt_failure")) == 1
        )


def test_ciphertext_moved_to_another_case_fails_and_is_audited(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    a = _create(client, h["lawyer"])
    b = _create(client, h["lawyer"], minimal_case(first_name="محمد"))
    import uuid

    with app.extensions["casebook.db"].engine.begin() as conn:
        blob = conn.execute(select(Case.record_enc).where(Case.id == uuid.UUID(a))).scalar_one()
        conn.execute(Case.__table__.update().where(Case.id == uuid.UUID(b)).values(record_enc=blob))
    app.extensions["casebook.vault"].forget_all()
    resp = client.get(f"/api/v1/cases/{b}", headers=h["lawyer"])
    assert resp.status_code == 500 and resp.get_json()["error"]["code"] == "decryption_failed"
    assert "أحمد" not in resp.get_data(as_text=True)
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "crypto.decrypt_failure")
        ).one()
    assert entry.object_id == b and entry.outcome == "failure"


def test_openapi_document_lists_the_case_routes(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/status",
        "/api/v1/cases/{case_id}/testimonies",
        "/api/v1/cases/{case_id}/attachments",
        "/api/v1/cases/{case_id}/review",
        "/api/v1/audit",
    ):
        assert path in doc["paths"], path
    assert "CaseIn" in doc["components"]["schemas"]


def test_common_name_search_stops_after_the_page_and_says_the_total_is_a_lower_bound(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """The search stops once the page and one more match are found: the total says "at least
    2", never a guess above what was checked; a page large enough reads to the end."""
    ids = [_create(client, h["lawyer"]) for _ in range(4)]
    page = client.get(
        "/api/v1/cases", query_string={"q": "احمد الحلبي", "per_page": 1}, headers=h["lawyer"]
    ).get_json()
    assert [i["id"] for i in page["items"]] == [ids[-1]]  # newest first
    assert (page["total_is"], page["total_exact"], page["total"]) == ("at_least", False, 2)
    full = client.get(
        "/api/v1/cases", query_string={"q": "احمد الحلبي"}, headers=h["lawyer"]
    ).get_json()
    assert (full["total_is"], full["total_exact"], full["total"]) == ("exact", True, 4)
    second = client.get(
        "/api/v1/cases",
        query_string={"q": "احمد الحلبي", "per_page": 1, "page": 2},
        headers=h["lawyer"],
    ).get_json()
    assert [i["id"] for i in second["items"]] == [ids[-2]]


def test_arabic_query_is_exact_but_latin_query_uses_the_skeleton(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    mohammad = _create(client, h["lawyer"], minimal_case(first_name="محمد"))
    mahmoud = _create(client, h["lawyer"], minimal_case(first_name="محمود"))
    arabic = client.get(
        "/api/v1/cases", query_string={"q": "محمد الحلبي"}, headers=h["lawyer"]
    ).get_json()
    assert [i["id"] for i in arabic["items"]] == [mohammad]
    latin = client.get(
        "/api/v1/cases", query_string={"q": "Mohammad Halabi"}, headers=h["lawyer"]
    ).get_json()
    assert {i["id"] for i in latin["items"]} == {mohammad, mahmoud}  # Latin cannot tell them apart


def test_governorate_filter_reads_newest_first_and_stops_after_the_page(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """Filters on sealed facets scan newest first in growing batches: a page stops early with
    a lower bound for its total, a later page or a larger one reads on (across batches) and is
    exact, and documenters' filtered lists hold only what they may see."""

    def in_(governorate: str) -> dict[str, object]:
        data = minimal_case()
        data["arrests"] = [{**data["arrests"][0], "governorate": governorate}]  # type: ignore[index]
        return data

    ids = [
        _create(client, h["lawyer"], in_("hama" if i in (1, 6, 11) else "aleppo"))
        for i in range(14)
    ]
    own = _create(client, h["documenter"], in_("hama"))

    def listing(headers: dict[str, str], **params: object) -> dict:  # type: ignore[type-arg]
        resp = client.get(
            "/api/v1/cases", query_string={"governorate": "hama", **params}, headers=headers
        )
        assert resp.status_code == 200
        return resp.get_json()  # type: ignore[no-any-return]

    first = listing(h["lawyer"], per_page=1)
    assert [i["id"] for i in first["items"]] == [own]
    assert (first["total_is"], first["total"]) == ("at_least", 2)  # the matches found
    third = listing(h["lawyer"], per_page=1, page=3)
    assert [i["id"] for i in third["items"]] == [ids[6]]
    everything = listing(h["lawyer"])
    assert [i["id"] for i in everything["items"]] == [own, ids[11], ids[6], ids[1]]
    assert (everything["total_is"], everything["total"]) == ("exact", 4)
    mine = listing(h["documenter"])
    assert [i["id"] for i in mine["items"]] == [own] and mine["total"] == 1
    assert listing(h["lawyer"], status="released")["items"] == []


def test_facets_moved_to_another_case_fail_the_filtered_list(
    app: Flask, client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """The filtered list decrypts facets from the bare column: a sealed value copied onto
    another case still fails there (its associated data names its own row), never matches."""
    import uuid

    a = _create(client, h["lawyer"])
    b = _create(client, h["lawyer"])
    assert (
        client.post(
            f"/api/v1/cases/{a}/status",
            json={"status": "released", "date": "2025-01", "source": "family"},
            headers=h["lawyer"],
        ).status_code
        == 201
    )
    with app.extensions["casebook.db"].engine.begin() as conn:
        blob = conn.execute(select(Case.facets_enc).where(Case.id == uuid.UUID(a))).scalar_one()
        conn.execute(Case.__table__.update().where(Case.id == uuid.UUID(b)).values(facets_enc=blob))
    resp = client.get("/api/v1/cases?status=released", headers=h["lawyer"])
    assert resp.status_code == 500 and resp.get_json()["error"]["code"] == "decryption_failed"
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "crypto.decrypt_failure")
        ).one()
    assert entry.object_id == b


def test_a_case_without_a_family_name_is_stored_and_found_by_its_three_part_name(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    """A family that does not know the family name (or a list that lacks it) still documents
    the person: the case is stored, and found by first, father's and grandfather's name as
    people give them in its place; a case with a family name is not found by its father's."""
    data = minimal_case(grandfather_name="علي")
    del data["person"]["family_name"]  # type: ignore[attr-defined]
    cid = _create(client, h["lawyer"], data)
    other = _create(client, h["lawyer"], minimal_case(first_name="أحمد", family_name="الخطيب"))
    doc = client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"]).get_json()
    assert "family_name" not in doc["person"] and doc["person"]["father_name"] == "محمود"
    for query in ("احمد محمود", "أحمد محمود علي", "احمد علي"):
        found = client.get(
            "/api/v1/cases", query_string={"q": query}, headers=h["lawyer"]
        ).get_json()
        assert [i["id"] for i in found["items"]] == [cid], query
    listed = client.get("/api/v1/cases", headers=h["lawyer"]).get_json()["items"]
    names = {i["id"]: (i["name"], i["family_name_known"]) for i in listed}
    # the grandfather's name closes it, so the father's is not read as a family name
    assert names[cid] == ("أحمد محمود علي", False)
    assert names[other] == ("أحمد محمود الخطيب", True)
    for query in ("Ahmad Mahmoud", "Ahmed Ali"):  # no Latin name entered: the skeletons
        found = client.get(
            "/api/v1/cases", query_string={"q": query}, headers=h["lawyer"]
        ).get_json()
        assert [i["id"] for i in found["items"]] == [cid], query


def test_an_optional_field_sent_empty_or_null_is_absent_and_null_clears_it(
    client: FlaskClient, h: dict[str, dict[str, str]]
) -> None:
    data = minimal_case(father_name="   ", grandfather_name="")
    data["person"]["latin_name"] = None  # type: ignore[index]
    cid = _create(client, h["lawyer"], data)
    person = client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"]).get_json()["person"]
    assert not {"father_name", "grandfather_name", "latin_name"} & set(person)
    doc = client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"])
    cleared = client.patch(
        f"/api/v1/cases/{cid}",
        json={"person": {"family_name": None}},
        headers={**h["lawyer"], "If-Match": doc.headers["ETag"]},
    )
    assert cleared.status_code == 200, cleared.get_json()
    person = client.get(f"/api/v1/cases/{cid}", headers=h["lawyer"]).get_json()["person"]
    assert "family_name" not in person and person["first_name"] == "أحمد"
    for blank in (None, "", "   "):  # refused as not given ("" was "too long")
        refused = client.post(
            "/api/v1/cases",
            json=minimal_case(first_name=blank),  # type: ignore[arg-type]
            headers={**h["lawyer"], "Accept-Language": "en"},
        )
        assert refused.status_code == 422
        fields = refused.get_json()["error"]["fields"]
        assert fields["person.first_name"] == ["This field is required."], blank


def test_the_case_page_and_list_say_when_the_family_name_is_not_known(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    from tests.conftest import login

    data = minimal_case(grandfather_name="علي", family_name="غير معروف")
    cid = _create(client, bearer(app, users["lawyer"]), data)
    login(client, users["lawyer"])
    page = client.get(f"/cases/{cid}?lang=en").get_data(as_text=True)
    assert "أحمد محمود علي" in page and "family name not known" in page
    listed = client.get("/cases/").get_data(as_text=True)
    assert "أحمد محمود علي" in listed and "family name not known" in listed
