"""Backups an organisation can carry off site, and restores that refuse anything damaged.

An archive holds a consistent snapshot of the database (SQLite's online backup API, or
`pg_dump` in one transaction on PostgreSQL), the encrypted attachment files and the erasure
ledger, as a tar sealed with crypto.archive. Data keys travel wrapped, as they are in the
database; the KEK never does. The archive key is wrapped under the primary KEK and the archive
is signed with the instance's Ed25519 key, so a restore needs the same keyring (file or
passphrase) — without it the archive is noise. Everything is built in memory: no plaintext
staging file, at the cost of RAM about the size of the database.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404
import tarfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from casebook.audit.services import Actor, audit_record
from casebook.config import Settings
from casebook.db import Database
from casebook.encrypted import DecryptionError, Vault

FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot be done, in one sentence for the operator."""


@dataclass
class RestoreReport:
    created_at: str
    cases: int
    attachments: int
    erasures_reapplied: int
    audit_entries: int


def _tool(name: str) -> str:
    """The PostgreSQL client tool's absolute path (it must match the server's major version).

    subprocess runs pg_dump and pg_restore only, with fixed argument lists and no shell
    (bandit B404/B603 are silenced for that reason)."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt install postgresql-client)")
    return path


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("in-memory SQLite databases cannot be backed up")
    return Path(database)


def _snapshot(settings: Settings) -> tuple[str, bytes]:
    if settings.is_sqlite:
        source = sqlite3.connect(_sqlite_path(settings.database_url))
        target = sqlite3.connect(":memory:")
        try:
            source.backup(target)  # a consistent copy even while the app keeps writing
            return "sqlite", target.serialize()
        finally:
            source.close()
            target.close()
    # a fixed argument list, no shell: the only outside value is the configured database URL
    done = subprocess.run(  # noqa: S603  # nosec B603
        [
            _tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            _libpq(settings.database_url),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError("pg_dump failed: " + done.stderr.decode(errors="replace")[-300:])
    return "postgresql", done.stdout


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def backup_create(settings: Settings, vault: Vault, database: Database, actor: Actor) -> bytes:
    """The sealed archive, as bytes. The backup itself is audited (and is in the archive)."""
    with database.sessionmaker() as s, s.begin():
        audit_record(s, actor, "backup.create", object_type="instance")
    engine, snapshot = _snapshot(settings)
    members: dict[str, bytes] = {f"database.{engine}": snapshot}
    attachments = settings.instance / "attachments"
    if attachments.is_dir():
        for path in sorted(attachments.glob("*.bin")):
            members[f"attachments/{path.name}"] = path.read_bytes()  # already encrypted
    ledger = settings.instance / "erasures.jsonl"
    members["erasures.jsonl"] = ledger.read_bytes() if ledger.exists() else b""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = {
        "format": FORMAT,
        "engine": engine,
        "created_at": created,
        "members": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w") as tar:
        _add(tar, "manifest.json", json.dumps(manifest, indent=1).encode())
        for name, data in members.items():
            _add(tar, name, data)
    return vault.seal_archive(FORMAT, created, engine, body.getvalue())


def _open(vault: Vault, data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Verify and decrypt; the manifest and the members, each checked against the manifest."""
    try:
        _header, body = vault.open_archive(data)
    except (DecryptionError, KeyError, ValueError) as exc:
        raise BackupError(f"refused: {exc}") from None
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(body), mode="r") as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            if handle is not None:
                members[info.name] = handle.read()
    manifest = json.loads(members.pop("manifest.json", b"{}") or b"{}")
    expected = manifest.get("members") or {}
    if set(expected) != set(members) or any(
        hashlib.sha256(members[n]).hexdigest() != h for n, h in expected.items()
    ):
        raise BackupError("refused: the archive's contents do not match its manifest")
    return manifest, members


def _target_is_empty(database: Database) -> bool:
    from casebook.auth.models import User
    from casebook.cases.models import Case

    tables = set(inspect(database.engine).get_table_names())
    if not tables & {"users", "cases"}:
        return True
    with database.sessionmaker() as s:
        users = s.scalar(select(func.count()).select_from(User)) or 0
        cases = s.scalar(select(func.count()).select_from(Case)) or 0
    return users == 0 and cases == 0


def _write_database(settings: Settings, database: Database, engine: str, snapshot: bytes) -> None:
    database.dispose()
    if engine == "sqlite":
        path = _sqlite_path(settings.database_url)
        # the snapshot is a whole database file image: put it in place atomically
        staging = path.with_name(path.name + ".restoring")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(snapshot)
            fh.flush()
            os.fsync(fh.fileno())
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(staging, path)
        return
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    database.dispose()
    # the snapshot is the SQL script made by _without_erased (pg_restore's, filtered)
    done = subprocess.run(  # noqa: S603  # nosec B603
        [
            _tool("psql"),
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set",
            "ON_ERROR_STOP=1",
            "--dbname",
            _libpq(settings.database_url),
        ],
        input=snapshot,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError("restoring failed: " + done.stderr.decode(errors="replace")[-300:])


def _case_references() -> dict[str, tuple[str, ...]]:
    """table -> the columns that name a case (foreign keys to cases.id, and case_keys' owner)."""
    import casebook.models  # noqa: F401  (every table in the metadata)
    from casebook.db import Base

    found: dict[str, tuple[str, ...]] = {"case_keys": ("owner_id",)}
    for table in Base.metadata.sorted_tables:
        columns = tuple(
            c.name
            for c in table.columns
            if any(fk.column.table.name == "cases" for fk in c.foreign_keys)
        )
        if columns:
            found[table.name] = columns
    return found


def _without_erased(engine: str, snapshot: bytes, erased: set[uuid.UUID]) -> tuple[bytes, set[str]]:
    """The snapshot as it will be written, with erased cases already reduced to tombstones:
    no data key, no ciphertext, no row of another table naming them. Also the attachment file
    names that must not be written. Done in memory (SQLite) or on the SQL text (PostgreSQL)."""
    if engine == "sqlite":
        return _sqlite_without(snapshot, erased)
    done = subprocess.run(  # noqa: S603  # nosec B603
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--file", "-"],
        input=snapshot,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError("pg_restore failed: " + done.stderr.decode(errors="replace")[-300:])
    try:
        return _sql_without(done.stdout, {str(e) for e in erased})
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise BackupError(
            f"the archive's database dump could not be read ({type(exc).__name__})"
        ) from None


def _sqlite_without(snapshot: bytes, erased: set[uuid.UUID]) -> tuple[bytes, set[str]]:
    con = sqlite3.connect(":memory:")
    try:
        image = bytearray(snapshot)
        image[18:20] = b"\x01\x01"  # a WAL-mode image would look for a -wal file in memory
        con.deserialize(bytes(image))
        con.execute("PRAGMA secure_delete=ON")
        con.execute("PRAGMA temp_store=MEMORY")  # VACUUM's copy stays in memory too
        ids = [e.hex for e in erased]  # SQLAlchemy stores UUIDs as 32 hex digits on SQLite
        marks = ",".join("?" * len(ids))
        files: set[str] = set()
        if ids:
            files = {
                f"{_hex_uuid(row[0])}.bin"
                for row in con.execute(
                    f"SELECT id FROM attachments WHERE case_id IN ({marks})",  # noqa: S608  # nosec B608
                    ids,
                )
            }
            for table, columns in _case_references().items():
                for column in columns:
                    if table == "cases":
                        con.execute(
                            f"UPDATE cases SET {column} = NULL WHERE {column} IN ({marks})",  # noqa: S608  # nosec B608
                            ids,
                        )
                    else:
                        con.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)  # noqa: S608  # nosec B608
            sets = ", ".join(f"{c} = NULL" for c in _CIPHERTEXTS)
            con.execute(f"UPDATE cases SET {sets} WHERE id IN ({marks})", ids)  # noqa: S608  # nosec B608
            con.commit()
            con.execute("VACUUM")  # rebuild: no freed page keeps what was left out
        return con.serialize(), files
    finally:
        con.close()


def _hex_uuid(value: Any) -> str:
    return str(uuid.UUID(hex=str(value)))


_CIPHERTEXTS = ("record_enc", "source_enc", "consent_enc", "legal_notes_enc", "facets_enc")


def _sql_without(script: bytes, erased: set[str]) -> tuple[bytes, set[str]]:
    """Filter the COPY blocks of pg_restore's script (text format: one row a line, columns
    separated by tabs, NULL as \\N; UUIDs as written by str(uuid))."""
    references = _case_references()
    out: list[bytes] = []
    files: set[str] = set()
    table: str | None = None
    columns: list[str] = []
    for line in script.split(b"\n"):
        if table is None:
            out.append(line)
            if line.startswith(b"COPY public.") and line.endswith(b"FROM stdin;"):
                head = line.decode()
                table = head.split()[1].removeprefix("public.").strip('"')
                columns = [
                    c.strip().strip('"') for c in head.split("(", 1)[1].split(")")[0].split(",")
                ]
            continue
        if line == b"\\.":
            table = None
            out.append(line)
            continue
        values = line.decode().split("\t")
        row = dict(zip(columns, values, strict=True))
        watched = references.get(table, ())
        if table == "cases":
            for column in watched:
                if row[column] in erased:
                    row[column] = "\\N"
            if row["id"] in erased:
                for column in _CIPHERTEXTS:
                    row[column] = "\\N"
            out.append("\t".join(row[c] for c in columns).encode())
            continue
        if any(row[c] in erased for c in watched):
            if table == "attachments":
                files.add(f"{row['id']}.bin")
            continue
        out.append(line)
    return b"\n".join(out), files


def backup_restore(
    settings: Settings,
    vault: Vault,
    database: Database,
    data: bytes,
    actor: Actor,
    *,
    without_current_ledger: bool = False,
) -> RestoreReport:
    """Restore an archive into an empty instance that holds the same keyring; re-apply the
    erasures of both the archive's ledger and this instance's; check the audit chain.

    Cases erased after the backup are only in the current ledger, so an instance folder without
    one is refused unless the operator says to go on without it (recorded in the audit entry)."""
    from casebook.audit.models import AuditEntry
    from casebook.audit.verify import verify_chain
    from casebook.cases.models import Case
    from casebook.cases.services import cases_erase_keyless
    from casebook.keys.services import erasures_reapply

    manifest, members = _open(vault, data)
    engine = manifest.get("engine")
    expected_engine = "sqlite" if settings.is_sqlite else "postgresql"
    if engine != expected_engine:
        raise BackupError(
            f"this archive holds a {engine} database; this instance uses {expected_engine}"
        )
    if not _target_is_empty(database):
        raise BackupError("restore needs an empty instance: this one already has users or cases")
    ledger = settings.instance / "erasures.jsonl"
    had_ledger = ledger.exists()
    if not had_ledger and not without_current_ledger:
        raise BackupError(
            f"{ledger} does not exist: copy the current erasure ledger (erasures.jsonl from the "
            "instance folder being replaced, or its off-site copy) there first, or the cases "
            "erased since the backup come back; --no-current-ledger restores without it"
        )
    lines = members.get("erasures.jsonl", b"").decode().splitlines()
    if had_ledger:
        lines += ledger.read_text(encoding="utf-8").splitlines()
    unique = list(dict.fromkeys(line for line in lines if line.strip()))
    erased = {uuid.UUID(json.loads(line)["owner_id"]) for line in unique}
    # the erased cases' keys, ciphertexts and files are left out before anything is written:
    # erasing them after the restore would leave them in freed pages, WAL and files a while
    snapshot, dropped_files = _without_erased(engine, members[f"database.{engine}"], erased)
    _write_database(settings, database, engine, snapshot)
    attachments = settings.instance / "attachments"
    attachments.mkdir(parents=True, exist_ok=True, mode=0o700)
    count = 0
    for name, blob in members.items():
        if name.startswith("attachments/") and Path(name).name not in dropped_files:
            target = attachments / Path(name).name  # names only: no path from the archive
            target.write_bytes(blob)
            os.chmod(target, 0o600)
            count += 1
    ledger.write_text("".join(line + "\n" for line in unique), encoding="utf-8")
    os.chmod(ledger, 0o600)
    with database.sessionmaker() as s, s.begin():
        erasures_reapply(s, actor, vault, ledger)
        reapplied = cases_erase_keyless(s, actor, attachments)
        result = verify_chain(s)
        if not result.ok:
            raise BackupError(f"the restored audit log does not verify: {result.sentence()}")
        audit_record(
            s,
            actor,
            "backup.restore",
            object_type="instance",
            details={
                "created_at": manifest.get("created_at"),
                "erasures_reapplied": reapplied,
                "current_ledger": had_ledger,
            },
        )
    with database.sessionmaker() as s:
        cases = s.scalar(select(func.count()).select_from(Case)) or 0
        entries = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return RestoreReport(str(manifest.get("created_at")), cases, count, reapplied, entries)
