"""Deny by default: the endpoint by role matrix, generated from app.url_map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from casebook.auth.permissions import ROLE_PERMISSIONS, Permission, Role, role_allows
from casebook.config import Settings
from tests.conftest import UserFixture, login

FAKE_ID = "00000000-0000-4000-8000-000000000000"


def _requests(app: Flask) -> list[tuple[str, str, str, Permission | None]]:
    out = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "casebook_permission", None)
        path = re.sub(r"<int:[^>]+>", "0", rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", FAKE_ID, path)
        if rule.endpoint == "static":
            path = "/static/casebook.css"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # type: ignore[operator]
            out.append((rule.endpoint, method, path, permission))
    return out


def test_policy_table_matches_design() -> None:
    """design.md §1 as a table: admins never read cases; advocates only statistics."""
    assert not any(
        p.value.startswith("case") or p is Permission.SOURCE_READ
        for p in ROLE_PERMISSIONS[Role.ADMIN]
    )
    assert ROLE_PERMISSIONS[Role.ADVOCATE] == {Permission.ACCOUNT, Permission.STATS_READ}
    assert Permission.LEGAL_NOTES in ROLE_PERMISSIONS[Role.LAWYER]
    assert Permission.LEGAL_NOTES not in ROLE_PERMISSIONS[Role.DOCUMENTER]
    assert Permission.CASE_REVIEW not in ROLE_PERMISSIONS[Role.DOCUMENTER]
    assert Permission.USERS_MANAGE in ROLE_PERMISSIONS[Role.ADMIN]
    assert not role_allows("nonsense", Permission.ACCOUNT)


def test_every_endpoint_declares_a_permission_or_public(app: Flask) -> None:
    for endpoint, view in app.view_functions.items():
        assert (
            getattr(view, "casebook_permission", None)
            or getattr(view, "casebook_public", False)
            or getattr(view, "casebook_device", False)
        ), endpoint


def test_app_refuses_to_start_with_an_undeclared_view(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import casebook

    original = casebook._register_blueprints

    def with_leak(app: Flask) -> None:
        original(app)
        leak = Blueprint("leak", __name__)
        leak.add_url_rule("/leak", "leak", lambda: "case data")
        app.register_blueprint(leak)

    monkeypatch.setattr(casebook, "_register_blueprints", with_leak)
    with pytest.raises(RuntimeError, match=r"leak\.leak"):
        casebook.create_app(settings)


def test_anonymous_reaches_only_public_endpoints(app: Flask, client: FlaskClient) -> None:
    for endpoint, method, path, permission in _requests(app):
        if method != "GET":
            continue  # writes are covered by the CSRF test (refused before any permission)
        resp = client.open(path, method=method)
        if getattr(app.view_functions[endpoint], "casebook_device", False):
            # a field device's endpoint: the path's token is the credential, and a token that
            # names no live device is refused in OpenRosa's form
            assert resp.status_code == 401, endpoint
            assert "OpenRosaResponse" in resp.get_data(as_text=True), endpoint
            assert resp.headers["X-OpenRosa-Version"] == "1.0", endpoint
        elif permission is None:
            assert resp.status_code in (200, 302, 404), endpoint
        elif path.startswith("/api/"):
            assert resp.status_code == 401, endpoint
        else:
            assert resp.status_code == 302, endpoint
            assert resp.headers["Location"].startswith("/login"), endpoint


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_role_matrix(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture], role: str
) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # this test is about permissions, not CSRF
    login(client, users[role])
    checked = 0
    requests = _requests(app)
    # Sealing ends every session and answers everything after it sealed: it goes last.
    last = [r for r in requests if r[0] == "seal.seal"]
    assert last and {r[3] for r in last} == {Permission.SEAL}
    for endpoint, method, path, permission in [r for r in requests if r not in last] + last:
        if getattr(app.view_functions[endpoint], "casebook_device", False):
            # no role opens a device's endpoint: a signed-in session is not its credential
            resp = client.open(path, method=method, data={})
            assert resp.status_code == 401, (role, endpoint, resp.status_code)
            continue
        if permission is None or endpoint == "auth.logout":
            continue
        resp = client.open(path, method=method, data={})
        if role_allows(role, permission):
            assert resp.status_code != 403, (role, endpoint)
            assert not (
                resp.status_code == 302 and resp.headers["Location"].startswith("/login")
            ), (role, endpoint)
        else:
            assert resp.status_code == 403, (role, endpoint, resp.status_code)
        checked += 1
    assert checked >= 12
    sealed = app.extensions["casebook.vault"].sealed
    assert sealed == role_allows(role, Permission.SEAL) == (role in ("admin", "lawyer"))


def test_every_permission_guards_an_endpoint_or_a_check(app: Flask) -> None:
    """A permission nothing checks is a grant that means nothing: it is removed, not kept.
    Most guard endpoints; a few (every case, the source) are checked inside the selectors."""
    named = {getattr(v, "casebook_permission", None) for v in app.view_functions.values()}
    root = Path(__file__).resolve().parents[2] / "casebook"
    code = "".join(
        p.read_text(encoding="utf-8") for p in root.rglob("*.py") if p.name != "permissions.py"
    )
    checked = {p for p in Permission if f".can(Permission.{p.name})" in code}
    assert set(Permission) - named - checked == set()
