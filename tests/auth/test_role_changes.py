"""Two-person rule on roles: no one changes their own role; a change to or from lawyer or admin
waits for a second admin, who approves or rejects it (audited both ways)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.auth.models import RoleChangeRequest, User
from tests.conftest import UserFixture, cli_env, csrf_from, login, make_user


def _role_of(app: Flask, user: UserFixture) -> str:
    with app.extensions["casebook.db"].sessionmaker() as s:
        found = s.get(User, user.id)
        assert found is not None
        return found.role


def _ask(client: FlaskClient, target: UserFixture, role: str) -> str:
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    resp = client.post(
        f"/admin/users/{target.id}/role", data={"role": role, "csrf_token": csrf_from(page)}
    )
    assert resp.status_code == 302
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def _actions(app: Flask) -> list[str]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_an_admin_cannot_change_their_own_role(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    make_user(app, "admin")
    login(client, admin)
    page = _ask(client, admin, "lawyer")
    assert "No one can change their own role." in page
    assert _role_of(app, admin) == "admin"
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(RoleChangeRequest)).all() == []


def test_a_second_admin_approves_a_change_to_lawyer(app: Flask, client: FlaskClient) -> None:
    first, second = make_user(app, "admin"), make_user(app, "admin")
    target = make_user(app, "documenter")
    login(client, first)
    page = _ask(client, target, "lawyer")
    assert "takes effect when another administrator approves it" in page
    assert _role_of(app, target) == "documenter"
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "Role changes waiting for a second administrator" in listing
    assert "Another administrator must decide." in listing
    with app.extensions["casebook.db"].sessionmaker() as s:
        request_id = s.scalars(select(RoleChangeRequest.id)).one()
    # the asking admin cannot approve it, even by posting directly
    client.post(
        f"/admin/role-changes/{request_id}/approve", data={"csrf_token": csrf_from(listing)}
    )
    assert _role_of(app, target) == "documenter"
    other = app.test_client()
    login(other, second)
    listing = other.get("/admin/users").get_data(as_text=True)
    action = re.search(r'action="(/admin/role-changes/[^"]+/approve)"', listing).group(1)  # type: ignore[union-attr]
    other.post(action, data={"csrf_token": csrf_from(listing)})
    assert _role_of(app, target) == "lawyer"
    actions = _actions(app)
    assert actions.index("user.role_change_request") < actions.index("user.role_change_approve")
    assert actions.index("user.role_change_approve") < actions.index("user.role_change")
    assert "Latest role change decisions" in other.get("/admin/users").get_data(as_text=True)


def test_a_second_admin_rejects_a_demotion(app: Flask, client: FlaskClient) -> None:
    first, second = make_user(app, "admin"), make_user(app, "admin")
    lawyer = make_user(app, "lawyer")
    login(client, first)
    _ask(client, lawyer, "advocate")
    other = app.test_client()
    login(other, second)
    listing = other.get("/admin/users").get_data(as_text=True)
    action = re.search(r'action="(/admin/role-changes/[^"]+/reject)"', listing).group(1)  # type: ignore[union-attr]
    other.post(action, data={"csrf_token": csrf_from(listing)})
    assert _role_of(app, lawyer) == "lawyer"
    assert "user.role_change_reject" in _actions(app) and "user.role_change" not in _actions(app)


def test_the_account_concerned_cannot_approve_its_own_change(
    app: Flask, client: FlaskClient
) -> None:
    first, second = make_user(app, "admin"), make_user(app, "admin")
    login(client, first)
    _ask(client, second, "lawyer")
    other = app.test_client()
    login(other, second)
    listing = other.get("/admin/users").get_data(as_text=True)
    assert "/approve" not in listing
    with app.extensions["casebook.db"].sessionmaker() as s:
        request_id = s.scalars(select(RoleChangeRequest.id)).one()
    other.post(f"/admin/role-changes/{request_id}/approve", data={"csrf_token": csrf_from(listing)})
    assert _role_of(app, second) == "admin"


def test_changes_between_unprivileged_roles_need_no_second_admin(
    app: Flask, client: FlaskClient
) -> None:
    admin = make_user(app, "admin")
    target = make_user(app, "documenter")
    login(client, admin)
    _ask(client, target, "advocate")
    assert _role_of(app, target) == "advocate"


def test_the_only_admin_is_told_the_way(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    target = make_user(app, "documenter")
    login(client, admin)
    page = _ask(client, target, "lawyer")
    assert "You are the only administrator." in page
    assert "casebook user role EMAIL ROLE" in page
    assert _role_of(app, target) == "documenter"


def test_the_command_line_changes_a_role_at_once(app: Flask) -> None:
    from click.testing import CliRunner

    from casebook.cli import cli

    settings = app.config["CASEBOOK"]
    target = make_user(app, "documenter")
    env = cli_env(settings)
    result = CliRunner().invoke(cli, ["user", "role", target.email, "admin"], env=env)
    assert result.exit_code == 0, result.output
    assert _role_of(app, target) == "admin"
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.role_change")).one()
    assert entry.actor.startswith("cli:") and '"to":"admin"' in entry.details
    again = CliRunner().invoke(cli, ["user", "role", target.email, "admin"], env=env)
    assert again.exit_code != 0


def test_a_new_lawyer_account_waits_for_a_second_admin(app: Flask, client: FlaskClient) -> None:
    """Creating a lawyer is a role grant: the creating admin (who sees the first credentials)
    gets an advocate account until another admin approves the lawyer role."""
    admin = make_user(app, "admin")
    make_user(app, "admin")
    login(client, admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "new.lawyer@example.org",
            "display_name": "Lina",
            "role": "lawyer",
            "language": "en",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 200
    assert "takes effect when another administrator approves it" in resp.get_data(as_text=True)
    with app.extensions["casebook.db"].sessionmaker() as s:
        created = s.scalars(select(User).where(User.role != "admin")).one()
        pending = s.scalars(select(RoleChangeRequest)).one()
    assert created.role == "advocate"
    assert (pending.from_role, pending.to_role, pending.decision) == ("advocate", "lawyer", None)


def test_role_changes_stand_out_in_the_audit_viewer(app: Flask, client: FlaskClient) -> None:
    first = make_user(app, "admin")
    make_user(app, "admin")
    target = make_user(app, "documenter")
    login(client, first)
    _ask(client, target, "lawyer")
    html = client.get("/admin/audit/?action=user.role").get_data(as_text=True)
    assert re.search(r'<tr class="notice"><td class="num"><bdi dir="ltr">\d+</bdi></td>', html)


def test_the_asker_withdraws_a_request_and_a_role_changed_another_way_lapses_it(
    app: Flask, client: FlaskClient
) -> None:
    from casebook.cli import cli

    first, second = make_user(app, "admin"), make_user(app, "admin")
    target = make_user(app, "documenter")
    login(client, first)
    page = _ask(client, target, "lawyer")
    # the pending table speaks in role labels, not codes, and offers the asker a way back
    pending = page.split('id="pending-roles"', 1)[1].split("</section>", 1)[0]
    assert "Documenter" in pending and "Lawyer" in pending and ">documenter<" not in pending
    withdraw = re.search(r'action="(/admin/role-changes/[^"]+/withdraw)"', page).group(1)  # type: ignore[union-attr]
    other = app.test_client()
    login(other, second)
    listing = other.get("/admin/users").get_data(as_text=True)
    assert "/withdraw" not in listing  # only the one who asked withdraws
    refused = other.post(withdraw, data={"csrf_token": csrf_from(listing)})
    assert refused.status_code == 302
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(RoleChangeRequest.decision)).one() is None
    client.post(withdraw, data={"csrf_token": csrf_from(page)})
    after = client.get("/admin/users").get_data(as_text=True)
    assert 'id="pending-roles"' not in after and "withdrawn by who asked" in after
    assert "user.role_change_withdraw" in _actions(app)
    # asked again, then changed at the command line: the waiting request lapses by itself
    _ask(client, target, "lawyer")
    result = app.test_cli_runner().invoke(cli, ["user", "role", target.email, "advocate"])
    assert result.exit_code == 0, result.output
    assert _role_of(app, target) == "advocate"
    with app.extensions["casebook.db"].sessionmaker() as s:
        decisions = sorted(str(d) for d in s.scalars(select(RoleChangeRequest.decision)))
    assert decisions == ["lapsed", "withdrawn"]
    assert 'id="pending-roles"' not in client.get("/admin/users").get_data(as_text=True)


def test_the_only_admin_is_told_a_new_lawyer_cannot_be_approved_yet(
    app: Flask, client: FlaskClient
) -> None:
    """With one admin, a lawyer account made on the web waits for an approval no one can give:
    the form says so before it is sent, and the confirmation says it again with the command
    that gives the role; roles are named in the page's language, never by their codes."""
    admin = make_user(app, "admin", language="ar")
    login(client, admin)
    page = client.get("/admin/users/new", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert 'id="only-admin"' in page and "أنت مدير النظام الوحيد" in page
    assert "casebook user create EMAIL --role lawyer" in page
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "new.lawyer@example.org",
            "display_name": "Lina",
            "role": "lawyer",
            "language": "ar",
            "csrf_token": csrf_from(page),
        },
        headers={"Accept-Language": "ar"},
    )
    created = resp.get_data(as_text=True)
    note = created.split('role="note"', 1)[1].split("</p>", 1)[0]
    assert "يبدأ الحساب بدور مناصر. يسري دور محامٍ" in note
    assert 'id="no-second-admin"' in note
    assert "casebook user role new.lawyer@example.org lawyer" in note
    assert "advocate" not in note.split("<code", 1)[0]
    # with a second admin there is nothing to warn about
    make_user(app, "admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'id="only-admin"' not in page


def test_a_users_page_lists_only_that_users_requests(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    make_user(app, "admin")
    one, other = make_user(app, "documenter"), make_user(app, "documenter")
    login(client, admin)
    _ask(client, one, "lawyer")
    _ask(client, other, "lawyer")
    page = client.get(f"/admin/users/{one.id}").get_data(as_text=True)
    waiting = page.split('id="pending-roles"')[1].split("</section>")[0]
    assert one.email in waiting and other.email not in waiting
    listing = client.get("/admin/users").get_data(as_text=True)
    waiting = listing.split('id="pending-roles"')[1].split("</section>")[0]
    assert one.email in waiting and other.email in waiting  # the list of users shows them all


def test_disabling_an_account_withdraws_its_waiting_role_request(
    app: Flask, client: FlaskClient
) -> None:
    first, second = make_user(app, "admin"), make_user(app, "admin")
    target = make_user(app, "documenter")
    login(client, first)
    page = _ask(client, target, "lawyer")
    with app.extensions["casebook.db"].sessionmaker() as s:
        request_id = s.scalars(select(RoleChangeRequest.id)).one()
    resp = client.post(f"/admin/users/{target.id}/disable", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    with app.extensions["casebook.db"].sessionmaker() as s:
        request = s.get(RoleChangeRequest, request_id)
        assert request is not None and request.decision == "disabled"
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.disable")).one()
        assert str(request_id) in (entry.details or "")
    other = app.test_client()
    login(other, second)
    listing = other.get("/admin/users").get_data(as_text=True)
    assert f"/admin/role-changes/{request_id}/approve" not in listing
    assert "withdrawn: the account was disabled" in listing
    other.post(f"/admin/role-changes/{request_id}/approve", data={"csrf_token": csrf_from(listing)})
    assert _role_of(app, target) == "documenter"
