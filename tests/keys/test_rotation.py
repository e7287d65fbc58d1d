"""Data keys in the database: rotate → rewrap → retire, crash during rewrap, crypto-shredding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from casebook.audit.services import Actor
from casebook.audit.verify import verify_chain
from casebook.config import Settings
from casebook.encrypted import EncryptedValueError
from casebook.keys.models import CaseKey, KeyErasure
from casebook.keys.services import (
    KeyInUseError,
    data_key_destroy,
    keys_retire,
    keys_rewrap,
    keys_rotate,
    keys_status,
)
from crypto import associated_data
from tests.conftest import cli_env, vault_of
from tests.pausing import pause_env, wait_reached


def _owners_with_secrets(app: Flask, n: int) -> dict[uuid.UUID, bytes]:
    """n owners, each with a data key and one value encrypted under it."""
    vault = vault_of(app)
    out = {}
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        for _ in range(n):
            owner = uuid.uuid4()
            cipher = vault.create_data_key(s, owner)
            out[owner] = cipher.encrypt(
                b"secret of " + str(owner).encode(),
                associated_data("cases", "record", str(owner), 1),
            )
    return out


def _all_readable(app: Flask, blobs: dict[uuid.UUID, bytes]) -> bool:
    vault = vault_of(app)
    vault.forget_all()
    with app.extensions["casebook.db"].sessionmaker() as s:
        for owner, blob in blobs.items():
            cipher = vault.data_cipher(s, owner)
            aad = associated_data("cases", "record", str(owner), 1)
            if cipher.decrypt(blob, aad) != b"secret of " + str(owner).encode():
                return False
    return True


def _kek_ids(app: Flask) -> set[int]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return set(s.scalars(select(CaseKey.kek_id).distinct()))


def test_rotate_rewrap_retire_leaves_everything_readable(app: Flask) -> None:
    blobs = _owners_with_secrets(app, 30)
    vault = vault_of(app)
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        assert keys_rotate(s, Actor.cli(), vault) == 2
    new = _owners_with_secrets(app, 5)  # new writes carry KEK 2 at once
    assert _kek_ids(app) == {1, 2}
    assert _all_readable(app, {**blobs, **new})
    with db.sessionmaker() as s, s.begin(), pytest.raises(KeyInUseError):
        keys_retire(s, Actor.cli(), vault, 1)
    assert keys_rewrap(db.sessionmaker, Actor.cli(), vault, batch=7) == 30
    assert _kek_ids(app) == {2}
    with db.sessionmaker() as s, s.begin():
        keys_retire(s, Actor.cli(), vault, 1)
    assert not vault.keyring.has(1)
    assert _all_readable(app, {**blobs, **new})
    with db.sessionmaker() as s:
        status = keys_status(s, vault)
        assert [(k[0], k[1], k[3]) for k in status.keks] == [(1, "retired", 0), (2, "primary", 35)]
        actions = [e.action for e in verify_chain_entries(s)]
    assert (
        actions.count("keys.rewrap") == 5 and "keys.rotate" in actions and "keys.retire" in actions
    )


def verify_chain_entries(s):  # type: ignore[no-untyped-def]
    from casebook.audit.models import AuditEntry

    assert verify_chain(s).ok
    return s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()


def test_another_process_rotating_is_picked_up(app: Flask, settings: Settings) -> None:
    """A worker that loaded KEK 1 still reads keys rewrapped under KEK 2 by the CLI."""
    from casebook.encrypted import Vault
    from crypto import FileKeySource

    blobs = _owners_with_secrets(app, 3)
    other = Vault(FileKeySource(Path(settings.kek_source.removeprefix("file:"))), 1000)
    other.load()
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        keys_rotate(s, Actor.cli(), other)
    keys_rewrap(db.sessionmaker, Actor.cli(), other)
    assert _kek_ids(app) == {2}
    assert vault_of(app).keyring.primary_id == 1  # this worker has not reloaded yet
    assert _all_readable(app, blobs)  # …and reloads when it meets KEK 2


def test_destroyed_data_key_makes_the_owner_unreadable(app: Flask, settings: Settings) -> None:
    blobs = _owners_with_secrets(app, 3)
    victim = next(iter(blobs))
    ledger = settings.instance / "erasures.jsonl"
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        data_key_destroy(s, Actor.cli(), vault_of(app), victim, ledger)
    vault_of(app).forget_all()
    with db.sessionmaker() as s:
        with pytest.raises(EncryptedValueError):
            vault_of(app).data_cipher(s, victim)
        assert s.get(KeyErasure, victim) is not None
    assert str(victim) in ledger.read_text()
    rest = {o: b for o, b in blobs.items() if o != victim}
    assert _all_readable(app, rest)


def test_wrapped_key_moved_to_another_owner_fails(app: Flask) -> None:
    blobs = _owners_with_secrets(app, 2)
    a, b = list(blobs)
    engine = app.extensions["casebook.db"].engine
    with engine.begin() as conn:
        wrapped = conn.execute(select(CaseKey.wrapped).where(CaseKey.owner_id == a)).scalar_one()
        conn.execute(
            CaseKey.__table__.update().where(CaseKey.owner_id == b).values(wrapped=wrapped)
        )
    vault_of(app).forget_all()
    with app.extensions["casebook.db"].sessionmaker() as s, pytest.raises(EncryptedValueError):
        vault_of(app).data_cipher(s, b)


def test_database_holds_no_key_bytes(app: Flask, settings: Settings) -> None:
    _owners_with_secrets(app, 5)
    ring = vault_of(app).keyring
    secrets = [
        ring.kek(1),
        ring.root,
        ring.derive("system"),
        ring.derive("totp"),
        ring.derive("bidx:name"),
    ]
    engine = app.extensions["casebook.db"].engine
    if engine.dialect.name == "sqlite":
        engine.dispose()
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    else:
        with engine.connect() as conn:
            raw = b"".join(bytes(r[0]) for r in conn.execute(select(CaseKey.wrapped)))
    for key in secrets:
        assert key not in raw


@pytest.mark.slow
def test_kill_during_rewrap_then_rerun_completes(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    """Killed while its third batch is written but not committed, the rewrap keeps exactly the
    two committed batches (the process holds at a pause point: the kill lands there)."""
    _owners_with_secrets(app, 100)
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        keys_rotate(s, Actor.cli(), vault_of(app))
    env = {**os.environ, **cli_env(settings)}
    pauses = tmp_path / "pauses"
    cmd = [
        sys.executable,
        "-c",
        "from casebook.cli import main; main()",
        "keys",
        "rewrap",
        "--batch",
        "20",
    ]
    proc = subprocess.Popen(
        cmd,
        env={**env, **pause_env(pauses, "keys.rewrap.batch", 3)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_reached(pauses, "keys.rewrap.batch", alive=lambda: proc.poll() is None)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with db.sessionmaker() as s:
        moved = s.scalar(select(func.count()).where(CaseKey.kek_id == 2)) or 0
        assert verify_chain(s).ok
    assert moved == 40  # two whole batches: nothing of the third, killed before its commit
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-500:]
    assert f"rewrapped {100 - moved} data keys" in result.stdout
    assert _kek_ids(app) == {2}
    with db.sessionmaker() as s:
        assert verify_chain(s).ok


def test_restoring_an_older_copy_erases_the_case_again(app: Flask, settings: Settings) -> None:
    """Erasures are kept in a ledger outside the database, so a restore re-applies them."""
    import shutil

    from casebook.keys.services import erasures_reapply

    if not settings.is_sqlite:
        pytest.skip("copies the SQLite file as a stand-in for a backup")
    blobs = _owners_with_secrets(app, 3)
    victim = next(iter(blobs))
    db = app.extensions["casebook.db"]
    db_file = Path(settings.database_url.removeprefix("sqlite:///"))
    db.dispose()
    import sqlite3

    con = sqlite3.connect(db_file)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    backup = db_file.with_suffix(".backup")
    shutil.copyfile(db_file, backup)
    ledger = settings.instance / "erasures.jsonl"
    with db.sessionmaker() as s, s.begin():
        data_key_destroy(s, Actor.cli(), vault_of(app), victim, ledger)
    db.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(db_file) + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db_file)  # the old copy still holds the victim's key…
    vault_of(app).forget_all()
    with db.sessionmaker() as s:
        assert s.get(CaseKey, victim) is not None
    with db.sessionmaker() as s, s.begin():
        assert erasures_reapply(s, Actor.cli(), vault_of(app), ledger) == 1
    with db.sessionmaker() as s:  # …until the ledger is re-applied
        assert s.get(CaseKey, victim) is None
        with pytest.raises(EncryptedValueError):
            vault_of(app).data_cipher(s, victim)
    assert _all_readable(app, {o: b for o, b in blobs.items() if o != victim})
