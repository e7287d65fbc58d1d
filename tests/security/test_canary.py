"""Canary scans: seeded strings must appear in no file the app writes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casebook.config import Settings
from tests.conftest import CANARY_ARABIC, CANARY_LATIN, csrf_from, login, make_user

NEEDLES = [
    CANARY_LATIN.encode(),
    CANARY_ARABIC.encode(),
    CANARY_LATIN.encode("utf-16-le"),
    CANARY_ARABIC.encode("utf-16-le"),
]


def scan(paths: list[Path]) -> list[str]:
    hits = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits += [f"{path}: {n!r}" for n in NEEDLES if n in data]
    return hits


def test_canary_staff_name_reaches_no_file(
    app: Flask, client: FlaskClient, settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    admin = make_user(app, "admin")
    login(client, admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "canary.person@example.org",
            "display_name": f"{CANARY_LATIN} {CANARY_ARABIC}",
            "role": "documenter",
            "language": "ar",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 200
    listing = client.get("/admin/users").get_data(as_text=True)
    assert CANARY_ARABIC in listing  # it is really stored and decrypts for the admin…
    audit_csv = client.get("/admin/audit/export.csv").get_data(as_text=True)
    assert CANARY_LATIN not in audit_csv and CANARY_ARABIC not in audit_csv  # …never in the log
    app.extensions["casebook.db"].dispose()
    out, err = capfd.readouterr()
    assert CANARY_LATIN not in out + err and CANARY_ARABIC not in out + err
    targets = [settings.instance, Path(tempfile.gettempdir())]
    if settings.is_sqlite:
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        targets += list(db_file.parent.glob(db_file.name + "*"))
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            dump = "\n".join(
                str(tuple(r))
                for t in ("users", "audit_log", "web_sessions")
                for r in conn.execute(text(f"SELECT * FROM {t}"))
            )
        engine.dispose()
        assert CANARY_LATIN not in dump and CANARY_ARABIC not in dump
    assert scan(targets) == []
    for cookie in client._cookies.values():  # session cookies carry only a random id
        assert CANARY_LATIN not in cookie.value


def _db_dump(settings: Settings) -> str:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        parts = []
        for table in inspect(engine).get_table_names():
            parts += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    engine.dispose()
    return "\n".join(parts)


def test_canary_case_through_api_form_and_upload_reaches_no_file(
    app: Flask,
    client: FlaskClient,
    settings: Settings,
    private_tempdir: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    import casebook.cases.api as cases_api
    from tests.cases.test_forms import FULL_FORM
    from tests.conftest import bearer, minimal_case

    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    canary = f"{CANARY_LATIN} {CANARY_ARABIC}"
    data = minimal_case(
        first_name=CANARY_ARABIC, latin_name=f"{CANARY_LATIN} Halabi", description=canary
    )
    data["source"]["contact"] = canary  # type: ignore[index]
    data["testimonies"] = [{"text": f"شهادة {canary}", "language": "ar"}]
    created = client.post("/api/v1/cases", json=data, headers=h).get_json()
    cid = created["id"]
    client.post(f"/api/v1/cases/{cid}/legal-notes", json={"text": canary}, headers=h)
    client.post(
        f"/api/v1/cases/{cid}/status", json={"status": "released", "note": canary}, headers=h
    )
    client.get("/api/v1/cases", query_string={"q": f"{CANARY_ARABIC} الحلبي"}, headers=h)

    seen_during: list[list[str]] = []
    original = cases_api.attachment_store

    def scanning_store(*args: object, **kwargs: object) -> object:
        # the upload is parsed and spooled, not yet kept: scan the disk right now
        seen_during.append(scan([settings.instance, private_tempdir]))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cases_api, "attachment_store", scanning_store)
    payload = b"%PDF-1.4\n" + (canary.encode() + b"\n") * (2 * 1024 * 1024 // 40)
    resp = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h,
        data={"file": (io.BytesIO(payload), f"{CANARY_LATIN}.pdf")},
    )
    assert resp.status_code == 201
    assert seen_during == [[]]
    got = client.get(f"/api/v1/cases/{cid}/attachments/{resp.get_json()['id']}", headers=h)
    assert got.data == payload  # it is really there, and decrypts for the lawyer

    documenter = make_user(app, "documenter")
    form_client = app.test_client()
    login(form_client, documenter)
    page = form_client.get("/cases/new").get_data(as_text=True)
    form = {
        **FULL_FORM,
        "person.first_name": CANARY_ARABIC,
        "source.contact": canary,
        "testimony.text": canary,
        "csrf_token": csrf_from(page),
    }
    assert form_client.post("/cases/new", data=form).status_code == 302
    shown = client.get(f"/api/v1/cases/{cid}", headers=h).get_data(as_text=True)
    assert CANARY_ARABIC in shown

    app.extensions["casebook.db"].dispose()
    out, err = capfd.readouterr()
    assert CANARY_LATIN not in out + err and CANARY_ARABIC not in out + err
    import json as _json

    keyring = _json.loads((settings.instance / "keyring.json").read_text())
    secrets = [keyring["root"]] + [k["key"] for k in keyring["keks"]]
    assert not any(secret in out + err for secret in secrets)  # no key material in the logs
    dump = _db_dump(settings)
    assert not any(secret in dump for secret in secrets)
    assert CANARY_LATIN not in dump and CANARY_ARABIC not in dump
    targets = [settings.instance, private_tempdir]
    if settings.is_sqlite:
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        targets += list(db_file.parent.glob(db_file.name + "*"))
    assert scan(targets) == []
    assert list((settings.instance / "tmp").glob("*")) == []  # spools are gone


def test_erased_case_leaves_no_trace_in_the_sqlite_file(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    """Erase a record, checkpoint the WAL, scan the file: with secure_delete even its
    ciphertext and its wrapped key are overwritten, not just unlinked."""
    if not settings.is_sqlite:
        pytest.skip("SQLite's file")
    import sqlite3
    import uuid

    from sqlalchemy import select

    from casebook.cases.models import Case
    from casebook.keys.models import CaseKey
    from tests.conftest import bearer, fresh_code, minimal_case

    h = bearer(app, make_user(app, "lawyer"))
    created = client.post(
        "/api/v1/cases", json=minimal_case(first_name=CANARY_ARABIC), headers=h
    ).get_json()
    with app.extensions["casebook.db"].sessionmaker() as s:
        record = s.scalar(select(Case.record_enc).where(Case.id == uuid.UUID(created["id"])))
        wrapped = s.scalar(
            select(CaseKey.wrapped).where(CaseKey.owner_id == uuid.UUID(created["id"]))
        )
    assert record and wrapped
    resp = client.post(
        f"/api/v1/cases/{created['id']}/erase",
        json={"confirm": created["reference"]},
        headers=fresh_code(app, h),
    )
    assert resp.status_code == 200
    app.extensions["casebook.db"].dispose()
    db_file = Path(settings.database_url.removeprefix("sqlite:///"))
    con = sqlite3.connect(db_file)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert record[20:60] not in raw
    assert wrapped[20:50] not in raw
