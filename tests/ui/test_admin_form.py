"""The admin's new-user form lists its problems at the top, in the page's language, each linked
to its field."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_from, login, make_user


def test_new_user_errors_in_arabic_with_a_summary(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "admin", language="ar"))
    page = client.get("/admin/users/new", headers={"Accept-Language": "ar"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf_from(html),
            "email": "not an address",
            "display_name": "x",
            "role": "documenter",
            "language": "ar",
        },
    )
    body = resp.get_data(as_text=True)
    assert 'id="error-summary"' in body and 'href="#email"' in body
    assert "اكتب عنوان بريد إلكتروني صحيحاً." in body
    assert "Enter a valid email address." not in body


def test_audit_viewer_names_people_and_actions(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin", language="ar")
    login(client, admin)
    html = client.get("/admin/audit/", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert "Test admin" in html and "مدير النظام" in html  # name and role, not a UUID
    row = html.split("<tbody>", 1)[1]
    assert str(admin.id) not in row.split("</tbody>")[0].replace(f'value="{admin.id}"', "")
    assert "تسجيل دخول" in html  # the sign-in in words
    filtered = client.get(f"/admin/audit/?actor={admin.id}&action=login.success")
    assert filtered.status_code == 200 and f'value="{admin.id}" selected' in filtered.get_data(
        as_text=True
    )


def test_an_email_the_browser_would_refuse_is_refused_by_the_server(
    app: Flask, client: FlaskClient
) -> None:
    login(client, make_user(app, "admin"))
    html = client.get("/admin/users/new").get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf_from(html),
            "email": "sara khatib@example",  # sent without the browser's own check
            "display_name": "Sara",
            "role": "documenter",
            "language": "ar",
        },
    )
    assert resp.status_code == 422
    assert "Enter a valid email address." in resp.get_data(as_text=True)


def test_audit_details_are_labelled_words_and_user_pages_are_named(
    app: Flask, client: FlaskClient
) -> None:
    admin = make_user(app, "admin", language="ar")
    target = make_user(app, "documenter")
    login(client, admin)
    ar = {"Accept-Language": "ar"}
    client.get(f"/admin/users/{target.id}", headers=ar)
    html = client.get("/admin/audit/?action=audit.read", headers=ar).get_data(as_text=True)
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "فُتحت صفحة مستخدم" in rows  # opening a user's page, not "audit log read"
    assert "<dt>view</dt>" not in rows and ">audit.read<" not in rows  # no raw key nor code
    assert "<dt>الصفحة</dt>" in rows and "صفحة مستخدم" in rows
    # dates in the locale's one style: the month by name, a 24-hour time
    assert re.search(r"\d{1,2} [\u0600-\u06FF ]+ \d{4}، \d{2}:\d{2} [\u0600-\u06FF ]+", rows)
    # the seal actions have words too
    from casebook.ui import ACTION_LABELS

    assert {"service.seal", "service.unseal"} <= set(ACTION_LABELS)


def test_the_audit_viewer_finds_a_case_by_its_reference_and_shows_it(
    app: Flask, client: FlaskClient
) -> None:
    """An admin asked about a case types its reference as the object: the entries
    about that case are found (they carry its id) and each case row shows the reference beside
    the id; a reference no case has finds nothing, and an entry about another case stays out."""
    from tests.conftest import bearer, minimal_case

    lawyer = make_user(app, "lawyer")
    made = [
        client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, lawyer)).get_json()
        for _ in range(2)
    ]
    client.get(f"/api/v1/cases/{made[0]['id']}", headers=bearer(app, lawyer))  # a read
    login(client, make_user(app, "admin", language="ar"))
    reference = made[0]["reference"]
    _, year, number = reference.split("-")
    for typed in (reference, reference.lower().replace("-", " "), f"CB-{year}-{int(number)}"):
        html = client.get("/admin/audit/", query_string={"object": typed}).get_data(as_text=True)
        rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        assert rows.count("<tr") >= 2, typed  # its creation and its read
        assert f'<bdi dir="ltr">{reference}</bdi>' in rows and made[0]["id"] in rows
        assert made[1]["id"] not in rows and made[1]["reference"] not in rows
    html = client.get("/admin/audit/", query_string={"object": "CB-2026-999999"}).get_data(
        as_text=True
    )
    assert "<tr" not in html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    everything = client.get("/admin/audit/").get_data(as_text=True)
    assert made[1]["reference"] in everything  # every case row names its case
    csv = client.get("/admin/audit/export.csv", query_string={"object": reference})
    assert made[0]["id"] in csv.get_data(as_text=True)


def _audit_calls() -> tuple[set[str], set[str], set[str]]:
    """Every action, object type and detail key written by an `audit_record` call in the
    package's source, where they are written as literals."""
    import ast
    from pathlib import Path

    import casebook

    actions: set[str] = set()
    objects: set[str] = set()
    keys: set[str] = set()
    for path in Path(casebook.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name != "audit_record":
                continue
            if len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                actions.add(node.args[2].value)
            for kw in node.keywords:
                if kw.arg == "object_type" and isinstance(kw.value, ast.Constant):
                    objects.add(kw.value.value)
                if kw.arg == "details" and isinstance(kw.value, ast.Dict):
                    keys |= {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
    return actions, objects, keys


def test_every_audited_action_object_and_detail_has_words_in_both_languages(app: Flask) -> None:
    """An admin reading the log in Arabic sees no raw code (a release published read as
    "stats.release"), and no two actions share one name in the filter."""
    from casebook.ui import ACTION_LABELS, DETAIL_LABELS, OBJECT_LABELS, VALUE_LABELS

    actions, objects, keys = _audit_calls()
    assert len(actions) > 50 and len(keys) > 80  # the scan found the calls
    assert actions - set(ACTION_LABELS) == set()
    assert objects - set(OBJECT_LABELS) == set()
    assert keys - set(DETAIL_LABELS) == set()
    with app.test_request_context(headers={"Accept-Language": "ar"}):
        words = {code: str(label) for code, label in ACTION_LABELS.items()}
        untranslated = [
            c for c, w in words.items() if not any("\u0600" <= ch <= "\u06ff" for ch in w)
        ]
        assert untranslated == []
        assert len(set(words.values())) == len(words), "two actions read the same in the filter"
        values = {c: w for c, w in VALUE_LABELS.items() if c not in ("csv", "json")}
        for labels in (OBJECT_LABELS, DETAIL_LABELS, values):
            assert all(any("\u0600" <= ch <= "\u06ff" for ch in str(w)) for w in labels.values())
        # a review item's kind, a decision, a run's model and a sign-in's step read as words
        # (the Arabic log showed "القرار not_duplicate", "النوع entry", "المرحلة second_factor")
        from casebook.linkage.models import DECISIONS_LIST, HELD
        from casebook.ui import KEYED_VALUE_LABELS, _detail_value

        shown = {
            (key, code): _detail_value(key, code)
            for key, code in [
                *[("kind", k) for k in ("dedupe", "entry", "list", HELD)],
                *[("decision", d) for d in ("not_duplicate", *DECISIONS_LIST)],
                ("model", "shipped"),
                ("model", "refined"),
                ("stage", "second_factor"),
            ]
        }
        assert all(any("\u0600" <= ch <= "\u06ff" for ch in w) for w in shown.values()), shown
        assert len(shown) == sum(len(v) for v in KEYED_VALUE_LABELS.values())


def test_one_action_chosen_shows_that_action_and_its_details_in_words(
    app: Flask, client: FlaskClient
) -> None:
    """Filtering by "release published" listed the cut's start and end and the estimate too
    (the filter took the code as a prefix); details showed codes ("refused", "None", a user's
    id) where the page can say words and names."""
    from casebook.audit.services import Actor, audit_record

    admin = make_user(app, "admin", language="ar")
    lawyer = make_user(app, "lawyer")
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        audit_record(s, Actor.cli(), "stats.release", details={"number": 1, "k": 11})
        audit_record(
            s,
            Actor.cli(),
            "stats.release_cut_end",
            outcome="failure",
            details={"state": "refused", "estimate_by": None, "user": str(lawyer.id)},
        )
    login(client, admin)
    ar = {"Accept-Language": "ar"}
    html = client.get("/admin/audit/?action=stats.release", headers=ar).get_data(as_text=True)
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert 'data-action="stats.release"' in rows and "stats.release_cut_end" not in rows
    html = client.get("/admin/audit/?action=stats.rel", headers=ar).get_data(as_text=True)
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "stats.release_cut_end" in rows  # a family, typed as the start of its codes
    assert ">رُفض</bdi></dd>" in rows and "None" not in rows and str(lawyer.id) not in rows
    assert ">—</bdi></dd>" in rows and ">Test lawyer</bdi></dd>" in rows
