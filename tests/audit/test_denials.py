"""Refused access to another user's case is audited (one entry, ids only), so a colleague
probing case ids shows up in the audit log; ids that exist nowhere look the same."""

from __future__ import annotations

import io
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.audit.verify import verify_chain
from tests.conftest import (
    CANARY_ARABIC,
    CANARY_LATIN,
    bearer,
    csrf_from,
    login,
    make_user,
    minimal_case,
    vault_of,
)


def _entries_after(app: Flask, after: int) -> list[AuditEntry]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq))
        )


def _head(app: Flask) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) or 0)


def _one_denial(app: Flask, before: int, action: str, object_id: str, user_id: object) -> None:
    entries = _entries_after(app, before)
    assert [(e.action, e.outcome) for e in entries] == [(action, "denied")]
    entry = entries[0]
    assert entry.object_id == object_id
    assert str(user_id) in entry.actor
    assert CANARY_LATIN not in entry.details and CANARY_ARABIC not in entry.details


def test_probing_another_documenters_case_is_audited_on_api_and_pages(
    app: Flask, client: FlaskClient
) -> None:
    author, prober = make_user(app, "documenter"), make_user(app, "documenter")
    ah, ph = bearer(app, author), bearer(app, prober)
    data = minimal_case(first_name=CANARY_ARABIC, latin_name=f"{CANARY_LATIN} X")
    cid = client.post("/api/v1/cases", json=data, headers=ah).get_json()["id"]
    aid = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=ah,
        data={"file": (io.BytesIO(b"%PDF-1.7 " + CANARY_LATIN.encode()), "a.pdf")},
    ).get_json()["id"]
    missing = str(uuid.uuid4())

    api_probes = [
        lambda: client.get(f"/api/v1/cases/{cid}", headers=ph),
        lambda: client.patch(f"/api/v1/cases/{cid}", json={"arrests": []}, headers=ph),
        lambda: client.post(f"/api/v1/cases/{cid}/testimonies", json={"text": "x"}, headers=ph),
        lambda: client.get(f"/api/v1/cases/{cid}/attachments/{aid}", headers=ph),
    ]
    for probe in api_probes:
        before = _head(app)
        resp = probe()
        assert resp.status_code == 404
        assert CANARY_LATIN not in resp.get_data(as_text=True)
        _one_denial(app, before, "case.access_denied", cid, prober.id)

    # an id that exists nowhere is recorded the same way (the log must not tell them apart)
    before = _head(app)
    assert client.get(f"/api/v1/cases/{missing}", headers=ph).status_code == 404
    _one_denial(app, before, "case.access_denied", missing, prober.id)

    # someone else's attachment through one's own case
    own = client.post("/api/v1/cases", json=minimal_case(), headers=ph).get_json()["id"]
    before = _head(app)
    assert client.get(f"/api/v1/cases/{own}/attachments/{aid}", headers=ph).status_code == 404
    _one_denial(app, before, "attachment.access_denied", aid, prober.id)

    # the pages, signed in
    web = app.test_client()
    login(web, prober)
    token = csrf_from(web.get("/cases/new").get_data(as_text=True))
    page_probes = [
        lambda: web.get(f"/cases/{cid}"),
        lambda: web.get(f"/cases/{cid}/attachments/{aid}"),
        lambda: web.post(f"/cases/{cid}/testimonies", data={"text": "x", "csrf_token": token}),
        lambda: web.post(
            f"/cases/{cid}/status",
            data={"status": "released", "date": "2020", "csrf_token": token},
        ),
    ]
    for probe in page_probes:
        before = _head(app)
        assert probe().status_code == 404
        _one_denial(app, before, "case.access_denied", cid, prober.id)

    with app.extensions["casebook.db"].sessionmaker() as s:
        verdict = verify_chain(s, None, vault_of(app).checkpoint_signer().public_key)
    assert verdict.ok


def test_roles_without_case_access_are_audited_when_naming_a_case(
    app: Flask, client: FlaskClient
) -> None:
    lawyer, advocate = make_user(app, "lawyer"), make_user(app, "advocate")
    cid = client.post("/api/v1/cases", json=minimal_case(), headers=bearer(app, lawyer)).get_json()[
        "id"
    ]
    advocate_h = bearer(app, advocate)
    before = _head(app)
    assert client.get(f"/api/v1/cases/{cid}", headers=advocate_h).status_code == 403
    _one_denial(app, before, "case.access_denied", cid, advocate.id)


def test_allowed_reads_and_plain_missing_pages_record_no_denial(
    app: Flask, client: FlaskClient
) -> None:
    author = make_user(app, "documenter")
    ah = bearer(app, author)
    cid = client.post("/api/v1/cases", json=minimal_case(), headers=ah).get_json()["id"]
    before = _head(app)
    client.get(f"/api/v1/cases/{cid}", headers=ah)
    client.get("/api/v1/cases/not-an-id", headers=ah)
    client.get("/no/such/page", headers=ah)
    assert "case.access_denied" not in {e.action for e in _entries_after(app, before)}


def test_someone_elses_import_report_is_audited(app: Flask) -> None:
    prober = make_user(app, "documenter")
    web = app.test_client()
    login(web, prober)
    run_id = str(uuid.uuid4())
    before = _head(app)
    assert web.get(f"/imports/{run_id}/report.csv").status_code == 404
    _one_denial(app, before, "import.access_denied", run_id, prober.id)
