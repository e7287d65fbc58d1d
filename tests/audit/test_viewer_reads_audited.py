"""Opening the audit viewer, a user's page or the key page is itself recorded (`audit.read`),
with the filters used and no personal data."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from tests.conftest import login, make_user


def _reads(app: Flask) -> list[AuditEntry]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(AuditEntry.action == "audit.read").order_by(AuditEntry.seq)
            )
        )


def test_each_viewer_page_is_recorded_with_its_filters(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    lawyer = make_user(app, "lawyer")
    login(client, admin)
    assert client.get("/admin/audit/").status_code == 200
    assert (
        client.get(
            f"/admin/audit/?action=login.success&actor={lawyer.id}&from=2026-01-01&page=2"
        ).status_code
        == 200
    )
    assert client.get(f"/admin/users/{lawyer.id}").status_code == 200
    assert client.get("/admin/keys/").status_code == 200
    reads = _reads(app)
    assert len(reads) == 4 and all(r.actor_id == str(admin.id) for r in reads)
    first, filtered, user_page, keys = reads
    assert '"view":"audit"' in first.details and '"page":1' in first.details
    assert '"action":"login.success"' in filtered.details and '"page":2' in filtered.details
    assert f'"actor":"{lawyer.id}"' in filtered.details and '"date_from":"2026-01-01"' in (
        filtered.details
    )
    assert user_page.object_id == str(lawyer.id) and '"view":"user"' in user_page.details
    assert '"view":"keys"' in keys.details
    for entry in reads:
        assert lawyer.email not in entry.details and "Test lawyer" not in entry.details
