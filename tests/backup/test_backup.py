"""Backup and restore as an organisation that may be raided uses them: the archive carries
everything but the KEK, a restore gives back the same cases and an intact audit chain, and a
damaged or foreign archive is refused."""

from __future__ import annotations

import dataclasses
import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from casebook import create_app
from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor
from casebook.audit.verify import verify_chain
from casebook.backup import BackupError, backup_create, backup_restore
from casebook.config import Settings
from tests.conftest import (
    CANARY_ARABIC,
    CANARY_LATIN,
    PG_URL,
    _pg_admin_engine,
    bearer,
    cli_env,
    make_user,
    minimal_case,
)


@pytest.fixture
def empty_target(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second, empty instance holding the same keyring (as on the machine restored to)."""
    instance = tmp_path / "restored"
    instance.mkdir(mode=0o700)
    shutil.copyfile(settings.instance / "keyring.json", instance / "keyring.json")
    (instance / "keyring.json").chmod(0o600)
    if settings.is_sqlite:
        url = f"sqlite:///{instance / 'casebook.sqlite3'}"
        name = None
    else:
        name = f"cbr_{uuid.uuid4().hex[:12]}"
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield dataclasses.replace(
        settings,
        instance=instance,
        database_url=url,
        kek_source=f"file:{instance / 'keyring.json'}",
    )
    if name:
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _populate(app: Flask, client: FlaskClient) -> tuple[dict[str, str], list[str]]:
    h = bearer(app, make_user(app, "lawyer"))
    ids = []
    for first in ("أحمد", CANARY_ARABIC, "مريم"):
        case = minimal_case(first_name=first, latin_name=f"{CANARY_LATIN} x")
        ids.append(client.post("/api/v1/cases", json=case, headers=h).get_json()["id"])
    client.post(f"/api/v1/cases/{ids[0]}/legal-notes", json={"text": "ملاحظة"}, headers=h)
    pdf = b"%PDF-1.4\n" + b"x" * 200_000
    resp = client.post(
        f"/api/v1/cases/{ids[0]}/attachments",
        headers=h,
        data={"file": (io.BytesIO(pdf), "scan.pdf")},
    )
    assert resp.status_code == 201
    return h, ids


def _documents(app: Flask, h: dict[str, str], ids: list[str]) -> list[Any]:
    client = app.test_client()
    docs = []
    for cid in ids:
        doc = client.get(f"/api/v1/cases/{cid}", headers=h).get_json()
        docs.append(doc)
        for attachment in doc.get("attachments", []):
            got = client.get(f"/api/v1/cases/{cid}/attachments/{attachment['id']}", headers=h)
            docs.append(got.data)
    return docs


def test_backup_restores_into_an_empty_instance_identically(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings
) -> None:
    h, ids = _populate(app, client)
    before = _documents(app, h, ids)
    archive = backup_create(
        settings, app.extensions["casebook.vault"], app.extensions["casebook.db"], Actor.cli()
    )
    # the archive is sealed: neither names nor the KEK are in it
    keyring = (settings.instance / "keyring.json").read_text()
    import json

    secrets = [json.loads(keyring)["root"]] + [k["key"] for k in json.loads(keyring)["keks"]]
    assert not any(s.encode() in archive for s in secrets)
    assert CANARY_ARABIC.encode() not in archive and CANARY_LATIN.encode() not in archive
    assert b"SQLite format" not in archive and b"PGDMP" not in archive

    restored = create_app(empty_target)
    restored.extensions["casebook.vault"].load()
    report = backup_restore(
        empty_target,
        restored.extensions["casebook.vault"],
        restored.extensions["casebook.db"],
        archive,
        Actor.cli(),
        without_current_ledger=True,  # nothing was ever erased: there is no ledger to copy
    )
    assert (report.cases, report.attachments) == (3, 1)
    # same tokens work: the users table came back too
    after = _documents(restored, h, ids)
    assert after == before
    with restored.extensions["casebook.db"].sessionmaker() as s:
        assert verify_chain(s).ok
    restored.extensions["casebook.db"].dispose()


def test_a_flipped_byte_anywhere_is_refused(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings
) -> None:
    _populate(app, client)
    archive = backup_create(
        settings, app.extensions["casebook.vault"], app.extensions["casebook.db"], Actor.cli()
    )
    restored = create_app(empty_target)
    restored.extensions["casebook.vault"].load()
    for position in (30, len(archive) // 2, len(archive) - 10):
        damaged = bytearray(archive)
        damaged[position] ^= 0x01
        with pytest.raises(BackupError, match="refused"):
            backup_restore(
                empty_target,
                restored.extensions["casebook.vault"],
                restored.extensions["casebook.db"],
                bytes(damaged),
                Actor.cli(),
            )
    with pytest.raises(BackupError, match="refused"):
        backup_restore(
            empty_target,
            restored.extensions["casebook.vault"],
            restored.extensions["casebook.db"],
            archive[:-100],
            Actor.cli(),
        )
    restored.extensions["casebook.db"].dispose()


def test_restore_needs_the_keyring_and_an_empty_instance(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings
) -> None:
    from crypto import FileKeySource, KeyRing

    _populate(app, client)
    vault = app.extensions["casebook.vault"]
    archive = backup_create(settings, vault, app.extensions["casebook.db"], Actor.cli())
    with pytest.raises(BackupError, match="empty instance"):
        backup_restore(settings, vault, app.extensions["casebook.db"], archive, Actor.cli())
    FileKeySource(empty_target.instance / "keyring.json").save(KeyRing.generate())
    stranger = create_app(empty_target)
    stranger.extensions["casebook.vault"].load()
    with pytest.raises(BackupError, match="not made with this instance's keys"):
        backup_restore(
            empty_target,
            stranger.extensions["casebook.vault"],
            stranger.extensions["casebook.db"],
            archive,
            Actor.cli(),
        )
    stranger.extensions["casebook.db"].dispose()


def test_an_erasure_after_the_backup_is_applied_again_on_restore(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings
) -> None:
    h, ids = _populate(app, client)
    archive = backup_create(
        settings, app.extensions["casebook.vault"], app.extensions["casebook.db"], Actor.cli()
    )
    from casebook.cases.models import Case
    from casebook.keys.services import data_key_destroy

    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        case = s.get(Case, uuid.UUID(ids[1]))
        assert case is not None
        data_key_destroy(
            s,
            Actor.cli(),
            app.extensions["casebook.vault"],
            case.id,
            settings.instance / "erasures.jsonl",
        )
    # the ledger travels off site with the operator, to the machine restored to
    shutil.copyfile(settings.instance / "erasures.jsonl", empty_target.instance / "erasures.jsonl")
    restored = create_app(empty_target)
    restored.extensions["casebook.vault"].load()
    report = backup_restore(
        empty_target,
        restored.extensions["casebook.vault"],
        restored.extensions["casebook.db"],
        archive,
        Actor.cli(),
    )
    assert report.erasures_reapplied == 1
    resp = restored.test_client().get(f"/api/v1/cases/{ids[1]}", headers=h)
    assert resp.status_code == 404  # as on the original server after the erasure
    with restored.extensions["casebook.db"].sessionmaker() as s:
        tomb = s.get(Case, uuid.UUID(ids[1]))
        assert tomb is not None and tomb.erased_at is not None and tomb.record_enc is None
    assert _documents(restored, h, [ids[0]]) == _documents(app, h, [ids[0]])  # others intact
    restored.extensions["casebook.db"].dispose()


def test_cli_backup_and_restore(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    _populate(app, client)
    app.extensions["casebook.db"].dispose()

    def run(target: Settings, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **cli_env(target)}
        return subprocess.run(
            [sys.executable, "-c", "from casebook.cli import main; main()", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    out = tmp_path / "site.cbk"
    done = run(settings, "backup", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    done = run(empty_target, "restore", str(out))
    assert done.returncode != 0 and "copy the current erasure ledger" in done.stderr
    assert "--no-current-ledger" in done.stderr and "Traceback" not in done.stderr
    done = run(empty_target, "restore", "--no-current-ledger", str(out))
    assert done.returncode == 0, done.stderr
    assert "3 cases" in done.stdout and "audit chain intact" in done.stdout
    assert run(empty_target, "audit", "verify").returncode == 0
    bad = tmp_path / "bad.cbk"
    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x80
    bad.write_bytes(bytes(data))
    done = run(empty_target, "restore", str(bad))
    assert done.returncode != 0 and "refused" in done.stderr and "Traceback" not in done.stderr


def test_restore_never_writes_an_erased_cases_keys_ciphertext_or_files(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings
) -> None:
    """The erased case is left out before anything is written: no file of the restored
    instance holds its wrapped key, ciphertext or attachment (SQLite), and PostgreSQL never
    inserted its key or attachment rows (to delete them afterwards would leave dead tuples)."""
    from sqlalchemy import select

    from casebook.cases.models import Attachment, Case
    from casebook.keys.models import CaseKey
    from casebook.keys.services import data_key_destroy

    h, ids = _populate(app, client)
    victim = uuid.UUID(ids[0])  # the one with a legal note and an attachment
    archive = backup_create(
        settings, app.extensions["casebook.vault"], app.extensions["casebook.db"], Actor.cli()
    )
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        wrapped = s.scalar(select(CaseKey.wrapped).where(CaseKey.owner_id == victim))
        record = s.scalar(select(Case.record_enc).where(Case.id == victim))
        attachment = s.scalar(select(Attachment.id).where(Attachment.case_id == victim))
        data_key_destroy(
            s,
            Actor.cli(),
            app.extensions["casebook.vault"],
            victim,
            settings.instance / "erasures.jsonl",
        )
    assert wrapped and record and attachment
    shutil.copyfile(settings.instance / "erasures.jsonl", empty_target.instance / "erasures.jsonl")
    restored = create_app(empty_target)
    restored.extensions["casebook.vault"].load()
    report = backup_restore(
        empty_target,
        restored.extensions["casebook.vault"],
        restored.extensions["casebook.db"],
        archive,
        Actor.cli(),
    )
    assert report.erasures_reapplied == 1 and report.attachments == 0
    assert not (empty_target.instance / "attachments" / f"{attachment}.bin").exists()
    assert _documents(restored, h, ids[1:]) == _documents(app, h, ids[1:])
    restored.extensions["casebook.db"].dispose()
    if empty_target.is_sqlite:
        files = [p for p in empty_target.instance.rglob("*") if p.is_file()]
        raw = b"".join(p.read_bytes() for p in files)
        assert wrapped[20:50] not in raw and record[20:60] not in raw
        return
    engine = restored.extensions["casebook.db"].engine
    with engine.connect() as conn:
        inserted = dict(
            conn.execute(
                text(
                    "SELECT relname, n_tup_ins FROM pg_stat_user_tables "
                    "WHERE relname IN ('case_keys', 'attachments')"
                )
            ).all()
        )
    assert inserted == {"case_keys": 2, "attachments": 0}
    engine.dispose()


def test_restore_without_the_current_ledger_is_refused_unless_asked(
    app: Flask, client: FlaskClient, settings: Settings, empty_target: Settings
) -> None:
    """A case erased after the backup is only in the current ledger: restoring into a folder
    without it would bring the case back, so it is refused, and going on anyway is audited."""
    _populate(app, client)
    archive = backup_create(
        settings, app.extensions["casebook.vault"], app.extensions["casebook.db"], Actor.cli()
    )
    restored = create_app(empty_target)
    restored.extensions["casebook.vault"].load()
    args = (
        empty_target,
        restored.extensions["casebook.vault"],
        restored.extensions["casebook.db"],
        archive,
        Actor.cli(),
    )
    with pytest.raises(BackupError, match="copy the current erasure ledger"):
        backup_restore(*args)
    # refused before anything is written
    assert not (empty_target.instance / "erasures.jsonl").exists()
    assert not (empty_target.instance / "attachments").exists()
    report = backup_restore(*args, without_current_ledger=True)
    assert report.cases == 3
    with restored.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "backup.restore")).one()
    assert '"current_ledger":false' in entry.details
    restored.extensions["casebook.db"].dispose()
