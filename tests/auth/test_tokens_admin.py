"""API tokens (hashed, expiring, revocable, role-bound) and the admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor
from casebook.auth.models import ApiToken, User
from casebook.auth.services import token_issue
from tests.conftest import UserFixture, csrf_from, csrf_token, login, make_user


def _issue(app: Flask, user: UserFixture, days: int = 30) -> str:
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        _, raw = token_issue(s, Actor.cli(), s.get(User, user.id), days)  # type: ignore[arg-type]
    return raw


def test_token_carries_exactly_the_role(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    admin_token = _issue(app, users["admin"])
    lawyer_token = _issue(app, users["lawyer"])
    ok = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {admin_token}"})
    assert ok.status_code == 200 and "items" in ok.get_json()
    denied = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {lawyer_token}"})
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"


def test_token_is_stored_hashed(app: Flask, users: dict[str, UserFixture]) -> None:
    raw = _issue(app, users["admin"])
    with app.extensions["casebook.db"].sessionmaker() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert raw not in stored and all(raw[4:] not in h for h in stored)


def test_expired_revoked_and_disabled_tokens_fail(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    raw = _issue(app, users["admin"], days=1)
    with freeze_time() as clock:
        clock.tick(timedelta(days=1, seconds=1))
        assert (
            client.get("/api/v1/audit", headers={"Authorization": f"Bearer {raw}"}).status_code
            == 401
        )
    raw = _issue(app, users["admin"])
    from casebook.auth.services import token_revoke, user_disable

    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        token = s.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())).first()
        token_revoke(s, Actor.cli(), token)  # type: ignore[arg-type]
    assert (
        client.get("/api/v1/audit", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )
    raw = _issue(app, users["admin"])
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        user_disable(s, Actor.cli(), s.get(User, users["admin"].id))  # type: ignore[arg-type]
    assert (
        client.get("/api/v1/audit", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )


def test_bearer_write_needs_no_csrf_but_session_write_does(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    raw = _issue(app, users["admin"])
    garbage = client.get(
        "/api/v1/audit?after=x&limit=0", headers={"Authorization": f"Bearer {raw}"}
    )
    assert garbage.status_code == 422
    fields = garbage.get_json()["error"]["fields"]
    assert set(fields) == {"after", "limit"}


def test_audit_api_pages_in_order(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    raw = _issue(app, users["admin"])
    h = {"Authorization": f"Bearer {raw}"}
    first = client.get("/api/v1/audit?limit=3", headers=h).get_json()
    assert [i["seq"] for i in first["items"]] == [1, 2, 3]
    nxt = client.get(f"/api/v1/audit?after={first['next_after']}&limit=2", headers=h).get_json()
    assert [i["seq"] for i in nxt["items"]] == [4, 5]


def _reauth(client: FlaskClient, user: UserFixture, offset: int = 1) -> None:
    page = client.get("/reauth").get_data(as_text=True)
    resp = client.post(
        "/reauth",
        data={
            "password": user.password,
            "code": user.code(offset),
            "csrf_token": csrf_from(page),
            "next": "/",
        },
    )
    assert resp.status_code == 302


def test_admin_creates_a_user_after_reauth_and_sees_enrolment_once(
    app: Flask, client: FlaskClient
) -> None:
    admin = make_user(app, "admin")
    with freeze_time() as clock:
        login(client, admin)
        clock.tick(11 * 60)
        resp = client.get("/admin/users/new")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/reauth")
        _reauth(client, admin)
        page = client.get("/admin/users/new").get_data(as_text=True)
        resp = client.post(
            "/admin/users/new",
            data={
                "email": "new.documenter@example.org",
                "display_name": "سارة",
                "role": "documenter",
                "language": "ar",
                "csrf_token": csrf_from(page),
            },
        )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<svg" in html
    password = re.search(
        r"Temporary password</dt><dd dir=\"ltr\"><code>([^<]+)</code>", html
    ).group(1)  # type: ignore[union-attr]
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', html).group(1)  # type: ignore[union-attr]
    listing = client.get("/admin/users").get_data(as_text=True)
    assert (
        "new.documenter@example.org" in listing
        and password not in listing
        and secret not in listing
    )
    # the new user must choose a password at first sign-in
    newcomer = app.test_client()
    with app.extensions["casebook.db"].sessionmaker() as s:
        uid = s.scalars(select(User.id).where(User.role == "documenter")).one()
    person = UserFixture(uid, "new.documenter@example.org", password, "documenter", secret, [])
    newcomer.post(
        "/login",
        data={
            "email": person.email,
            "password": password,
            "csrf_token": csrf_token(newcomer, "/login"),
        },
    )
    page = newcomer.get("/login/enrol").get_data(as_text=True)
    resp = newcomer.post(
        "/login/enrol", data={"code": person.code(), "csrf_token": csrf_from(page)}
    )
    assert resp.headers["Location"] == "/account/password"
    assert newcomer.get("/").headers["Location"] == "/account/password"


def test_admin_create_lists_every_problem(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    login(client, admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "email": admin.email,
            "display_name": "",
            "role": "documenter",
            "language": "ar",
            "csrf_token": csrf_from(page),
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "already exists" in html and "1 to 120 characters" in html


def test_role_change_ends_sessions_and_is_audited(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    target = make_user(app, "documenter")  # to or from lawyer/admin needs a second admin
    victim = app.test_client()
    login(victim, target)
    login(client, admin)
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    resp = client.post(
        f"/admin/users/{target.id}/role", data={"role": "advocate", "csrf_token": csrf_from(page)}
    )
    assert resp.status_code == 302
    assert victim.get("/").status_code == 302
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.role_change")).one()
    assert entry.object_id == str(target.id) and '"to":"advocate"' in entry.details


def test_admin_lists_and_revokes_a_token_but_cannot_mint_one(
    app: Flask, client: FlaskClient
) -> None:
    admin = make_user(app, "admin")
    lawyer = make_user(app, "lawyer")
    raw = _issue(app, lawyer)
    login(client, admin)
    page = client.get(f"/admin/users/{lawyer.id}").get_data(as_text=True)
    assert "Issue token" not in page and raw not in page
    minted = client.post(
        f"/admin/users/{lawyer.id}/tokens", data={"days": "5", "csrf_token": csrf_from(page)}
    )
    assert minted.status_code in (404, 405) and "cbt_" not in minted.get_data(as_text=True)
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert len(s.scalars(select(ApiToken)).all()) == 1
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    )
    action = re.search(r'action="(/admin/users/[^"]+/revoke)"', page).group(1)  # type: ignore[union-attr]
    client.post(action, data={"csrf_token": csrf_from(page)})
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    )


def test_unknown_user_id_is_404(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "admin"))
    assert client.get("/admin/users/not-a-uuid").status_code == 404
    assert client.get("/admin/users/00000000-0000-4000-8000-000000000000").status_code == 404


def test_audit_viewer_filters_and_exports(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    login(client, admin)
    html = client.get("/admin/audit/?action=login.").get_data(as_text=True)
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]  # the filter lists every action
    assert "login.success" in rows and "user.create" not in rows
    csv = client.get("/admin/audit/export.csv?action=user.").get_data(as_text=True)
    assert csv.splitlines()[0].startswith("seq,at,actor")
    assert "user.create" in csv and "login.success" not in csv
    with app.extensions["casebook.db"].sessionmaker() as s:
        export = s.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
    assert '"action":"user."' in export.details
    verify = client.post(
        "/admin/audit/verify", data={"csrf_token": csrf_token(client, "/admin/audit/")}
    )
    assert "The audit log is intact" in verify.get_data(as_text=True)


def test_a_token_records_when_it_was_last_used_at_most_every_five_minutes(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    """The admin page shows each token's last use: a read request stores it (and commits it,
    on PostgreSQL's autocommit reads too), and within five minutes a request writes nothing."""
    raw = _issue(app, users["admin"])
    headers = {"Authorization": f"Bearer {raw}"}

    def last_used() -> object:
        with app.extensions["casebook.db"].sessionmaker() as s:
            return s.scalars(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    with freeze_time("2026-06-01 10:00:00"):
        assert client.get("/api/v1/audit", headers=headers).status_code == 200
    first = last_used()
    assert first is not None and first.isoformat().startswith("2026-06-01T10:00:00")  # type: ignore[attr-defined]
    with freeze_time("2026-06-01 10:04:00"):
        assert client.get("/api/v1/audit", headers=headers).status_code == 200
    assert last_used() == first
    with freeze_time("2026-06-01 10:06:00"):
        assert client.get("/api/v1/audit", headers=headers).status_code == 200
    assert last_used().isoformat().startswith("2026-06-01T10:06:00")  # type: ignore[attr-defined]
