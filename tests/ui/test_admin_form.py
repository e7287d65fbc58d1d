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
    assert re.search(r"\d{1,2} [\u0600-\u06FF]+ \d{4}، \d{2}:\d{2}", rows)
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
