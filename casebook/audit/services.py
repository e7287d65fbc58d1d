"""Writing the audit log: `audit_record` is called explicitly by every service, in the same
transaction as the change it records, so neither commits without the other."""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from casebook.audit.models import AuditEntry

GENESIS = "0" * 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADVISORY_LOCK_KEY = 0x6361736562  # "caseb": serialises chain appends on PostgreSQL

# Detail values are codes, counts, ids and parameters: never names or free text.
Detail = str | int | float | bool | None | list[str] | list[int]


_READ_ENTRY_LOCK = threading.Lock()


@contextlib.contextmanager
def _process_lock(path: str | None) -> Iterator[None]:
    """An exclusive lock shared by every worker process: readers wait their turn on the OS
    (woken at once) rather than polling SQLite's lock with growing sleeps."""
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]
_COLUMNS = tuple(c.key for c in _AUDIT_TABLE.columns)


def encode_controls(value: str) -> str:
    """Newlines and other control characters become visible escapes (ASVS 16.4.1)."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a user (id and role), a command-line operator, or nobody signed in."""

    label: str
    user_id: str | None = None
    role: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(label=encode_controls(f"cli:{user}")[:80])

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(label="anonymous")

    @classmethod
    def user(cls, user_id: str, role: str) -> Actor:
        return cls(label=user_id, user_id=user_id, role=role)


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(
    seq: int,
    occurred_at: str,
    actor_id: str | None,
    actor: str,
    role: str | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    outcome: str,
    details: str,
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical encoding of every column but the hash itself."""
    body = canonical(
        {
            "seq": seq,
            "at": occurred_at,
            "actor_id": actor_id,
            "actor": actor,
            "role": role,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "outcome": outcome,
            "details": details,
            "prev": prev_hash,
        }
    )
    return hashlib.sha256(body.encode()).hexdigest()


def hash_of(entry: AuditEntry) -> str:
    return entry_hash(
        entry.seq,
        entry.occurred_at,
        entry.actor_id,
        entry.actor,
        entry.role,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.outcome,
        entry.details,
        entry.prev_hash,
    )


def _clean(value: Detail) -> object:
    if isinstance(value, str):
        return encode_controls(value)[:200]
    if isinstance(value, list):
        return [encode_controls(v)[:200] if isinstance(v, str) else v for v in value][:100]
    return value


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object | None = None,
    outcome: str = "success",
    details: dict[str, Detail] | None = None,
) -> AuditEntry:
    """Append one entry to the chain and flush it with the caller's transaction.

    The chain head is read under a lock (BEGIN IMMEDIATE on SQLite, an advisory transaction
    lock on PostgreSQL) so concurrent writers leave a gapless, correctly chained sequence.

    A reading request on SQLite (a deferred, read-only transaction: see casebook.db) records its
    read in a short transaction of its own, committed before any data leaves: a read changes
    nothing to pair the entry with, and readers then never hold SQLite's single write lock.
    """
    if session.info.get("reading"):
        from sqlalchemy.orm import Session as OrmSession

        from casebook.db import has_written

        session.flush()  # pending changes first: if this request writes, it audits alongside
        if not has_written(session):
            # Threads of one process queue here rather than in SQLite's busy handler, whose
            # sleeping back-off (up to 100 ms a turn) would dominate the tail latency.
            with (
                _READ_ENTRY_LOCK,
                _process_lock(session.info.get("append_lock")),
                OrmSession(session.info["write_engine"]) as own,
                own.begin(),
            ):
                return _append(own, actor, action, object_type, object_id, outcome, details)
    return _append(session, actor, action, object_type, object_id, outcome, details)


def audit_record_many(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    items: list[tuple[object, dict[str, Detail]]],
) -> None:
    """One entry per item (object id, details), chained and inserted in one statement: the
    batch form of `audit_record` for imports, under the same lock."""
    if not items:
        return
    seq, prev = _locked_head(session)
    rows = []
    for object_id, details in items:
        entry = _entry(seq + 1, prev, actor, action, object_type, object_id, "success", details)
        seq, prev = entry.seq, entry.hash
        rows.append({c: getattr(entry, c) for c in _COLUMNS})
    session.execute(_AUDIT_TABLE.insert(), rows)


def _locked_head(session: Session) -> tuple[int, str]:
    """The chain head (sequence, hash), read under the append lock held to commit."""
    if session.get_bind().dialect.name == "postgresql":
        # Two statements on purpose: under READ COMMITTED a statement sees the snapshot taken
        # when it began, so the head must be read by a statement that starts after the lock.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return (head.seq, head.hash) if head else (0, GENESIS)


def _entry(
    seq: int,
    prev: str,
    actor: Actor,
    action: str,
    object_type: str | None,
    object_id: object | None,
    outcome: str,
    details: Mapping[str, Detail] | None,
) -> AuditEntry:
    entry = AuditEntry(
        seq=seq,
        occurred_at=now_iso(),
        actor_id=actor.user_id,
        actor=encode_controls(actor.label)[:80],
        role=actor.role,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else encode_controls(str(object_id))[:64],
        outcome=outcome,
        details=canonical({k: _clean(v) for k, v in (details or {}).items()}),
        prev_hash=prev,
        hash="",
    )
    entry.hash = hash_of(entry)
    return entry


def _append(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str | None,
    object_id: object | None,
    outcome: str,
    details: dict[str, Detail] | None,
) -> AuditEntry:
    seq, prev = _locked_head(session)
    entry = _entry(seq + 1, prev, actor, action, object_type, object_id, outcome, details)
    # A Core INSERT: the entry is never changed after it is written, so the unit of work
    # (identity map, change tracking) would only add cost to every audited request.
    session.execute(_AUDIT_TABLE.insert(), {c: getattr(entry, c) for c in _COLUMNS})
    return entry
