"""Crypto-shredding made complete: what an erasure leaves on disk, and how retiring the KEK that
wrapped the erased key finishes it wherever old copies persist (WAL, old tuples, backups)."""

from __future__ import annotations

import base64
import io
import os
import re
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from casebook.audit.services import Actor
from casebook.backup import backup_create
from casebook.cases import models as case_models
from casebook.cli import cli
from casebook.config import Settings
from casebook.keys.models import CaseKey, KeyErasure
from crypto import DecryptionError, Envelope, FileKeySource
from crypto.archive import archive_header
from tests.conftest import (
    UserFixture,
    bearer,
    csrf_token,
    login,
    make_user,
    minimal_case,
    vault_of,
)


def _case_with_attachment(app: Flask, client: FlaskClient) -> dict[str, str]:
    h = bearer(app, make_user(app, "documenter"))
    created = client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()
    resp = client.post(
        f"/api/v1/cases/{created['id']}/attachments",
        headers=h,
        data={"file": (io.BytesIO(b"%PDF-1.7 " + os.urandom(200_000)), "a.pdf")},
    )
    assert resp.status_code == 201
    created["attachment"] = resp.get_json()["id"]
    return created  # type: ignore[no-any-return]


def _stored(app: Flask, case_id: str) -> dict[str, bytes]:
    """The erased case's secrets as stored: its wrapped data key and some ciphertexts."""
    cid = uuid.UUID(case_id)
    with app.extensions["casebook.db"].sessionmaker() as s:
        found = {
            "wrapped": s.scalar(select(CaseKey.wrapped).where(CaseKey.owner_id == cid)),
            "record": s.scalar(
                select(case_models.Case.record_enc).where(case_models.Case.id == cid)
            ),
            "source": s.scalar(
                select(case_models.Case.source_enc).where(case_models.Case.id == cid)
            ),
            "testimony": s.scalar(
                select(case_models.Testimony.body_enc).where(case_models.Testimony.case_id == cid)
            ),
            "attachment_meta": s.scalar(
                select(case_models.Attachment.meta_enc).where(case_models.Attachment.case_id == cid)
            ),
        }
    assert all(found.values())
    return {k: bytes(v) for k, v in found.items()}  # type: ignore[arg-type]


def _erase_by_session(client: FlaskClient, lawyer: UserFixture, created: dict[str, str]) -> None:
    """Through the real route, as a lawyer signed in with both factors just now."""
    login(client, lawyer)
    resp = client.post(
        f"/api/v1/cases/{created['id']}/erase",
        json={"confirm": created["reference"]},
        headers={"X-CSRFToken": csrf_token(client, "/")},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_no_file_of_the_instance_holds_an_erased_case_when_the_request_returns(
    app: Flask, client: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    """SQLite: secure_delete, then a TRUNCATE checkpoint after the erasure commits; the
    attachment file is overwritten in place before it is unlinked (a second link to it, as a
    file system that keeps freed blocks would, finds zeros)."""
    if not settings.is_sqlite:
        pytest.skip("the SQLite files; PostgreSQL is covered by KEK retirement below")
    created = _case_with_attachment(app, client)
    secrets = _stored(app, created["id"])
    stored_file = settings.instance / "attachments" / f"{created['attachment']}.bin"
    held = tmp_path / "held-elsewhere.bin"
    os.link(stored_file, held)
    secrets["attachment_file"] = stored_file.read_bytes()[100:160]
    _erase_by_session(client, make_user(app, "lawyer"), created)

    # no checkpoint, no dispose: the state the erase request left behind
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    db_file = Path(settings.database_url.removeprefix("sqlite:///"))
    assert db_file in files and settings.instance / "erasures.jsonl" in files
    hits = [
        (name, path.name)
        for path in files
        for name, secret in secrets.items()
        if secret[20:60] in path.read_bytes()
    ]
    assert hits == []
    assert held.read_bytes() == bytes(held.stat().st_size)  # overwritten, not just unlinked
    assert not stored_file.exists()
    wal = Path(f"{db_file}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_rotate_rewrap_retire_completes_the_erasure_everywhere(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    """Both engines: the wrapped key taken before the erasure (as an old tuple, a WAL segment
    or a backup would keep it) unwraps with the keyring until the KEK that wrapped it is
    retired, and with nothing after; `keys status` says which KEK the erasure waits for."""
    created = _case_with_attachment(app, client)
    kept = client.post(
        "/api/v1/cases", json=minimal_case(), headers=bearer(app, make_user(app, "documenter"))
    ).get_json()
    old = _stored(app, created["id"])["wrapped"]
    archive = backup_create(settings, vault_of(app), app.extensions["casebook.db"], Actor.cli())
    _erase_by_session(client, make_user(app, "lawyer"), created)
    if not settings.is_sqlite:  # PostgreSQL keeps the dead tuple, wrapped key and all
        assert old in _heap(app, "case_keys")
    with app.extensions["casebook.db"].sessionmaker() as s:
        erasure = s.get(KeyErasure, uuid.UUID(created["id"]))
        assert erasure is not None and erasure.kek_id == 1

    source = FileKeySource(Path(settings.kek_source.removeprefix("file:")))
    # the old copy still opens with today's keyring: the erasure is not complete yet
    assert len(Envelope(source.load()).unwrap(created["id"], old).key) == 32
    assert "1 erasures pending shredding until KEK 1 is retired" in _cli(app, "keys", "status")

    _cli(app, "keys", "rotate")
    assert "1 erasures pending shredding until KEK 1 is retired" in _cli(app, "keys", "status")
    _cli(app, "keys", "rewrap")
    _cli(app, "keys", "retire", "1")
    status = _cli(app, "keys", "status")
    assert "pending shredding" not in status
    assert "1 erasures, all shredded" in status

    with pytest.raises(DecryptionError):
        Envelope(source.load()).unwrap(created["id"], old)
    assert not source.load().has(1)
    # a backup taken before the erasure: its key was wrapped under KEK 1, so it opens no more
    header = archive_header(archive)
    with pytest.raises(DecryptionError):
        Envelope(source.load()).unwrap(
            f"backup:{header['archive_id']}", base64.b64decode(header["wrapped_key"])
        )
    # the case that was not erased still reads, under KEK 2
    vault_of(app).forget_all()
    h = bearer(app, make_user(app, "lawyer"))
    assert client.get(f"/api/v1/cases/{kept['id']}", headers=h).status_code == 200


def _heap(app: Flask, table: str) -> bytes:
    """Every page of a PostgreSQL table's heap as stored, dead tuples included."""
    engine = app.extensions["casebook.db"].engine
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        pages = conn.execute(
            text(f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int")
        ).scalar_one()
        return b"".join(
            bytes(conn.execute(text(f"SELECT get_raw_page('{table}', {n})")).scalar_one())
            for n in range(pages)
        )


def test_erasures_recorded_without_their_kek_wait_for_every_older_kek(app: Flask) -> None:
    """Erasures recorded before the KEK was noted wait for every KEK created before them."""
    from datetime import UTC, datetime, timedelta

    from casebook.audit.services import Actor
    from casebook.keys.services import PendingShredding, erasures_pending, keys_retire, keys_rotate

    db = app.extensions["casebook.db"]
    vault = vault_of(app)
    with db.sessionmaker() as s, s.begin():
        keys_rotate(s, Actor.cli(), vault)
        s.add(
            KeyErasure(
                owner_id=uuid.uuid4(),
                erased_by="cli:test",
                erased_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    with db.sessionmaker() as s:
        pending = erasures_pending(s, vault.keyring)
    assert pending == [PendingShredding((1, 2), 1)]
    assert pending[0].sentence() == "1 erasures pending shredding until KEKs 1, 2 are retired"
    with db.sessionmaker() as s, s.begin():
        keys_retire(s, Actor.cli(), vault, 1)
        assert erasures_pending(s, vault.keyring) == [PendingShredding((2,), 1)]


def test_admin_key_page_shows_the_status_in_both_languages(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    """The same facts as `keys status`: KEKs, cases per KEK, rewrap progress, erasures pending
    shredding; for admins only, in English and Arabic; on PostgreSQL the owner warning."""
    created = _case_with_attachment(app, client)
    _erase_by_session(app.test_client(), make_user(app, "lawyer"), created)
    client.post(
        "/api/v1/cases", json=minimal_case(), headers=bearer(app, make_user(app, "documenter"))
    )
    _cli(app, "keys", "rotate")

    admin = app.test_client()
    login(admin, make_user(app, "admin"))
    page = admin.get("/admin/keys/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 erasures pending shredding until KEK 1 is retired." in html
    assert "0 of 1 case keys are wrapped under the primary KEK 2." in html
    assert 'Run "casebook keys rewrap" to move the other 1.' in html.replace("&#34;", '"')
    owner_warning = "owns the audit log"
    assert (owner_warning in html) is (not settings.is_sqlite)  # the tests connect as owner
    arabic = app.test_client()
    login(arabic, make_user(app, "admin", language="ar"))
    text = arabic.get("/admin/keys/").get_data(as_text=True)
    assert 'dir="rtl"' in text and "بانتظار الإتلاف حتى يُحال مفتاح تشفير المفاتيح 1" in text

    for role in ("documenter", "lawyer", "advocate"):
        other = app.test_client()
        login(other, make_user(app, role))
        assert other.get("/admin/keys/").status_code == 403


def test_an_erasure_that_rolls_back_leaves_the_files_intact(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    """Files are overwritten, and the ledger written, only once the erasure is committed: a
    failed request keeps the files, and a later restore does not erase the live case."""
    from casebook.cases.services import case_erase

    created = _case_with_attachment(app, client)
    stored = settings.instance / "attachments" / f"{created['attachment']}.bin"
    before = stored.read_bytes()
    db = app.extensions["casebook.db"]
    args = (settings.instance / "attachments", settings.instance / "erasures.jsonl")
    with db.sessionmaker() as s:
        case = s.get(case_models.Case, uuid.UUID(created["id"]))
        case_erase(s, Actor.cli(), case, created["reference"], *args)  # type: ignore[arg-type]
        s.rollback()
    assert stored.read_bytes() == before
    ledger = settings.instance / "erasures.jsonl"
    assert not ledger.exists() or created["id"] not in ledger.read_text()  # restores keep it
    with db.sessionmaker() as s, s.begin():
        case = s.get(case_models.Case, uuid.UUID(created["id"]))
        case_erase(s, Actor.cli(), case, created["reference"], *args)  # type: ignore[arg-type]
    assert not stored.exists() and created["id"] in ledger.read_text()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_key_page_labels_the_keyring_and_groups_digits(
    app: Flask, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    """The keyring's source under a label in the page's language, and large numbers with the
    locale's digit grouping (200,000; not 200000)."""
    monkeypatch.setattr(app.extensions["casebook.vault"], "expected_records", 200000)
    admin = app.test_client()
    login(admin, make_user(app, "admin", language=language))
    html = admin.get("/admin/keys/").get_data(as_text=True)
    assert "200000" not in html and "200,000" in html
    source = html.split('class="summary keyring-source"')[1].split("</dl>")[0]
    label, value = {
        "en": ("Read from", "a key file"),
        "ar": ("تُقرأ من", "ملف مفاتيح"),
    }[language]
    assert f"<dt>{label}</dt>" in source and f"<dd>{value}: " in source
    assert "keyring.json" in source or "file:" not in html
    assert not re.search(r'<p dir="ltr">file:', html)
