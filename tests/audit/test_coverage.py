"""Each action writes exactly its expected audit entries, with no personal data in them."""

from __future__ import annotations

import dataclasses
import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.audit.verify import verify_chain
from tests.conftest import (
    CANARY_ARABIC,
    CANARY_LATIN,
    UserFixture,
    bearer,
    csrf_from,
    csrf_token,
    fresh_code,
    login,
    make_user,
    minimal_case,
)


def _new_entries(app: Flask, after: int) -> list[tuple[str, str]]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [
            (e.action, e.outcome)
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq)
            )
        ]


def _head(app: Flask) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) or 0)


def test_each_action_writes_its_entry(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    h = bearer(app, users["lawyer"])
    steps = []

    def step(expected: list[tuple[str, str]], action) -> None:  # type: ignore[no-untyped-def]
        before = _head(app)
        action()
        steps.append((expected, _new_entries(app, before)))

    data = minimal_case(first_name=CANARY_ARABIC, latin_name=f"{CANARY_LATIN} X")
    created: dict = {}  # type: ignore[type-arg]
    step(
        [("case.create", "success")],
        lambda: created.update(client.post("/api/v1/cases", json=data, headers=h).get_json()),
    )
    cid = created["id"]
    step([("case.read", "success")], lambda: client.get(f"/api/v1/cases/{cid}", headers=h))
    step(
        [("case.update", "success")],
        lambda: client.patch(
            f"/api/v1/cases/{cid}", json={"person": {"occupation": "x"}}, headers=h
        ),
    )
    step(
        [("case.status_add", "success")],
        lambda: client.post(f"/api/v1/cases/{cid}/status", json={"status": "released"}, headers=h),
    )
    step(
        [("case.testimony_add", "success")],
        lambda: client.post(
            f"/api/v1/cases/{cid}/testimonies", json={"text": CANARY_LATIN}, headers=h
        ),
    )
    att: dict = {}  # type: ignore[type-arg]
    step(
        [("case.attachment_add", "success")],
        lambda: att.update(
            client.post(
                f"/api/v1/cases/{cid}/attachments",
                headers=h,
                data={"file": (io.BytesIO(b"%PDF-1.4 x"), f"{CANARY_LATIN}.pdf")},
            ).get_json()
        ),
    )
    step(
        [("case.attachment_download", "success")],
        lambda: client.get(f"/api/v1/cases/{cid}/attachments/{att['id']}", headers=h),
    )
    step(
        [("case.review", "success")],
        lambda: client.post(
            f"/api/v1/cases/{cid}/review", json={"verification": "verified"}, headers=h
        ),
    )
    step(
        [("case.consent_revoke", "success")],
        lambda: client.post(
            f"/api/v1/cases/{cid}/consent",
            json={"scope": "public", "granted": False, "date": "2025-01-01"},
            headers=h,
        ),
    )
    # a release of the one case (the smallest release size is lowered for this test only)
    app.config["CASEBOOK"] = dataclasses.replace(app.config["CASEBOOK"], release_min_changes=1)
    from casebook.cli import cli

    step(
        [("stats.release", "success"), ("stats.release_estimate", "success")],
        lambda: app.test_cli_runner().invoke(cli, ["release", "create"]),
    )
    step([("stats.export", "success")], lambda: client.get("/api/v1/stats?by=sex", headers=h))
    step(
        [("keys.destroy", "success"), ("case.erase", "success")],
        lambda: client.post(
            f"/api/v1/cases/{cid}/erase",
            json={"confirm": created["reference"]},
            headers=fresh_code(app, h),
        ),
    )
    web = app.test_client()
    newcomer = make_user(app, "documenter")
    step(
        [("login.failure", "failure")],
        lambda: web.post(
            "/login",
            data={
                "email": newcomer.email,
                "password": "wrong wrong wrong",
                "csrf_token": csrf_token(web, "/login"),
            },
        ),
    )
    step(
        [("login.password", "success"), ("login.success", "success")], lambda: login(web, newcomer)
    )
    step(
        [("logout", "success")],
        lambda: web.post("/logout", data={"csrf_token": csrf_token(web, "/")}),
    )
    for expected, got in steps:
        assert got == expected
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert verify_chain(s).ok
        dump = " ".join(
            f"{e.actor} {e.object_id} {e.details}" for e in s.scalars(select(AuditEntry))
        )
    assert CANARY_LATIN not in dump and CANARY_ARABIC not in dump


def test_admin_actions_are_audited(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    target = make_user(app, "lawyer")
    login(client, admin)
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    before = _head(app)
    client.post(f"/admin/users/{target.id}/reset-2fa", data={"csrf_token": csrf_from(page)})
    client.post(f"/admin/users/{target.id}/disable", data={"csrf_token": csrf_from(page)})
    client.post(
        f"/admin/users/{target.id}/tokens", data={"days": "3", "csrf_token": csrf_from(page)}
    )
    assert [a for a, _ in _new_entries(app, before)] == ["user.2fa_reset", "user.disable"]
    # a disabled user gets no token: refused, and nothing is written
