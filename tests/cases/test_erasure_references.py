"""Erasure leaves no row that names the case, in any table; import fingerprints answer only about
the caller's own imports and go with an erased case."""

from __future__ import annotations

import io
import json
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import casebook.models  # noqa: F401  (every table in the metadata)
from casebook.cases.models import Case
from casebook.db import Base
from casebook.imports.models import ImportFingerprint
from casebook.linkage.models import MatchCandidate, MatchList
from tests.conftest import bearer, csrf_token, login, make_user, minimal_case, vault_of

# what may still name an erased case: its tombstone (id and reference), the erasure record, and
# the audit log (ids, actions and the reference; append-only by design)
ALLOWED = {("cases", "id"), ("cases", "reference"), ("key_erasures", "owner_id")}


def _jsonl(*cases: dict[str, object]) -> bytes:
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases).encode()


def _import(client: FlaskClient, headers: dict[str, str], data: bytes, dry_run: bool) -> dict:  # type: ignore[type-arg]
    resp = client.post(
        "/api/v1/imports",
        headers=headers,
        data={"file": (io.BytesIO(data), "cases.jsonl"), "dry_run": "1" if dry_run else "0"},
    )
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    return resp.get_json()  # type: ignore[no-any-return]


def _mentions(app: Flask, case_id: uuid.UUID, reference: str) -> set[tuple[str, str]]:
    """(table, column) of every stored value that carries the case's id or reference."""
    needles = (str(case_id), case_id.hex, reference)
    found = set()
    with app.extensions["casebook.db"].engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    text = value.hex() if isinstance(value, bytes) else str(value)
                    if any(n in text for n in needles):
                        found.add((table.name, column))
    return found


def test_erasure_removes_every_row_that_refers_to_the_case(app: Flask, client: FlaskClient) -> None:
    documenter = bearer(app, make_user(app, "documenter"))
    body = _import(client, documenter, _jsonl(minimal_case()), dry_run=False)
    assert body["imported"] == 1
    with app.extensions["casebook.db"].sessionmaker() as s:
        erased = s.scalars(select(Case)).one()
    # a second case with the same names: the check at entry queues the pair for review
    twin = client.post("/api/v1/cases", json=minimal_case(), headers=documenter).get_json()
    twin_id = uuid.UUID(twin["id"])
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        assert s.scalars(select(MatchCandidate).where(MatchCandidate.kind == "entry")).all()
        outside = MatchList(rows=1, matched=1)
        s.add(outside)
        s.flush()
        listed = MatchCandidate(kind="list", case_a=erased.id, list_id=outside.id, score=0.93)
        listed.id = uuid.uuid4()
        s.add(listed)
        listed.row = {"row": 2, "name": "a name from an outside list"}
        s.get(Case, twin_id).duplicate_of = erased.id  # type: ignore[union-attr]
    before = _mentions(app, erased.id, erased.reference)
    assert {
        ("import_fingerprints", "case_id"),
        ("cases", "duplicate_of"),
        ("match_candidates", "case_a"),
    } <= before

    _erase(app, erased)

    after = _mentions(app, erased.id, erased.reference)
    assert {(t, c) for t, c in after if t != "audit_log"} <= ALLOWED
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(MatchCandidate)).all() == []
        assert s.scalars(select(ImportFingerprint)).all() == []
        tomb = s.get(Case, erased.id)
        assert tomb is not None and tomb.duplicate_of is None and tomb.erased_at is not None
    vault_of(app).forget_all()
    lawyer = bearer(app, make_user(app, "lawyer"))
    assert client.get(f"/api/v1/cases/{twin_id}", headers=lawyer).status_code == 200


def _erase(app: Flask, case: Case) -> None:
    """Through the real route, as a lawyer signed in with both factors just now."""
    lawyer = app.test_client()
    login(lawyer, make_user(app, "lawyer"))
    resp = lawyer.post(
        f"/api/v1/cases/{case.id}/erase",
        json={"confirm": case.reference},
        headers={"X-CSRFToken": csrf_token(lawyer, "/")},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_already_imported_speaks_only_of_the_callers_own_imports(
    app: Flask, client: FlaskClient
) -> None:
    """A documenter's dry run must not tell them that a colleague documented the same case, nor
    (after erasure) that it once existed; their own re-import still creates nothing twice."""
    alice, bob = make_user(app, "documenter"), make_user(app, "documenter")
    first, second = bearer(app, alice), bearer(app, bob)
    data = _jsonl(minimal_case(), minimal_case(family_name="الشامي"))
    assert _import(client, first, data, dry_run=False)["imported"] == 2

    own = _import(client, first, data, dry_run=True)
    assert (own["already_imported"], own["imported"]) == (2, 0)
    other = _import(client, second, data, dry_run=True)
    assert (other["already_imported"], other["imported"]) == (0, 2)
    assert _import(client, second, data, dry_run=False)["imported"] == 2  # their own copies
    assert _import(client, second, data, dry_run=True)["already_imported"] == 2

    with app.extensions["casebook.db"].sessionmaker() as s:
        target = s.scalars(
            select(Case)
            .join(ImportFingerprint, ImportFingerprint.case_id == Case.id)
            .where(ImportFingerprint.created_by == alice.id)
        ).first()
    assert target is not None
    _erase(app, target)
    with app.extensions["casebook.db"].sessionmaker() as s:
        left = s.scalars(select(ImportFingerprint).where(ImportFingerprint.case_id == target.id))
        assert left.all() == []
    # alice, whose case was erased, is not told it "was already imported"; bob's are his own
    again = _import(client, first, data, dry_run=True)
    assert (again["already_imported"], again["imported"]) == (1, 1)
    assert _import(client, second, data, dry_run=True)["already_imported"] == 2
