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
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, text
from sqlalchemy.orm import Session

from casebook.audit.models import AuditEntry

GENESIS = "0" * 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADVISORY_LOCK_KEY = 0x6361736562  # "caseb": serialises chain appends on PostgreSQL

# Detail values are codes, counts, ids and parameters: never names or free text.
Detail = str | int | float | bool | None | list[str] | list[int]


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
# what the client sends casebook_audit_append; the server fills in the chain's columns
_HASHED_COLUMNS = tuple(c for c in _COLUMNS if c not in ("seq", "prev_hash", "hash"))


def encode_controls(value: str) -> str:
    """Newlines and other control characters become visible escapes (ASVS 16.4.1)."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a user (id and role), a command-line operator, or nobody signed in."""

    label: str
    user_id: str | None = None
    role: str | None = None
    token_id: str | None = None  # the API token's id (never the token) when it acted

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
    def user(cls, user_id: str, role: str, token_id: str | None = None) -> Actor:
        return cls(label=user_id, user_id=user_id, role=role, token_id=token_id)


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def hashed_body(entry: AuditEntry) -> str:
    """The canonical encoding of every column but the hash itself: what the hash is over."""
    return canonical(
        {
            "seq": entry.seq,
            "at": entry.occurred_at,
            "actor_id": entry.actor_id,
            "actor": entry.actor,
            "role": entry.role,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "outcome": entry.outcome,
            "details": entry.details,
            "prev": entry.prev_hash,
        }
    )


def hash_of(entry: AuditEntry) -> str:
    """SHA-256 over `hashed_body`: what `audit verify` recomputes for every entry."""
    return hashlib.sha256(hashed_body(entry).encode()).hexdigest()


def _clean(value: Detail) -> object:
    if isinstance(value, str):
        return encode_controls(value)[:200]
    if isinstance(value, list):
        return [encode_controls(v)[:200] if isinstance(v, str) else v for v in value][:100]
    return value


def _with_token(details: dict[str, object], actor: Actor) -> dict[str, object]:
    """Entries made with an API token name the token's id, so a leaked token's trail can be
    told apart from its user's own sessions."""
    if actor.token_id is not None:
        details["via_token"] = actor.token_id
    return details


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
    Concurrent reads share that transaction (see `_ReadEntries`).
    """
    if session.info.get("reading"):
        from casebook.db import has_written

        session.flush()  # pending changes first: if this request writes, it audits alongside
        if not has_written(session):
            engine: Engine = session.info["write_engine"]
            pending = _PendingEntry(actor, action, object_type, object_id, outcome, details)
            _read_entries(engine, session.info.get("append_lock")).append(pending)
            if pending.entry is None:  # pragma: no cover (append raises rather than skip it)
                raise RuntimeError("read entry not written")
            return pending.entry
    return _append(session, actor, action, object_type, object_id, outcome, details)


@dataclass(slots=True)
class _PendingEntry:
    actor: Actor
    action: str
    object_type: str | None
    object_id: object | None
    outcome: str
    details: dict[str, Detail] | None
    entry: AuditEntry | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


class _ReadEntries:
    """Group commit of read entries on SQLite, one per engine in each process.

    Each reading request queues its entry and then waits for the writer's turn; whoever gets
    the turn writes every queued entry in one transaction (one chain-head read, one commit)
    and wakes the others, whose entries are then already committed. A request still returns
    only after its own entry is durable in the chain, so no data leaves unrecorded; the
    commit, SQLite's costliest step on the hot read path, is shared by the requests that
    arrived while the previous batch was being written.

    Threads of one process queue here and processes queue on an OS file lock, rather than in
    SQLite's busy handler, whose sleeping back-off (up to 100 ms a turn) would dominate the
    tail latency.
    """

    def __init__(self, engine: Engine, lock_path: str | None) -> None:
        self._engine = engine
        self._lock_path = lock_path
        self._queue: list[_PendingEntry] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def append(self, pending: _PendingEntry) -> None:
        with self._queue_lock:
            self._queue.append(pending)
        with self._turn:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if pending.error is not None:
            raise pending.error

    def _write(self, batch: list[_PendingEntry]) -> None:
        try:
            with (
                _process_lock(self._lock_path),
                self._engine.begin() as own,  # Core: no unit of work to set up per batch
            ):
                seq, prev = _locked_head(own)
                rows = []
                for p in batch:
                    p.entry = _entry(
                        seq + 1,
                        prev,
                        p.actor,
                        p.action,
                        p.object_type,
                        p.object_id,
                        p.outcome,
                        p.details,
                    )
                    seq, prev = p.entry.seq, p.entry.hash
                    rows.append({c: getattr(p.entry, c) for c in _COLUMNS})
                own.execute(_INSERT, rows)
        except BaseException as exc:  # every waiting request learns its entry was not written
            for p in batch:
                p.error = exc
        finally:
            for p in batch:
                p.done = True


_READ_ENTRIES: weakref.WeakKeyDictionary[Engine, _ReadEntries] = weakref.WeakKeyDictionary()
_READ_ENTRIES_LOCK = threading.Lock()


def _read_entries(engine: Engine, lock_path: str | None) -> _ReadEntries:
    with _READ_ENTRIES_LOCK:
        found = _READ_ENTRIES.get(engine)
        if found is None:
            found = _READ_ENTRIES[engine] = _ReadEntries(engine, lock_path)
        return found


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
    session.execute(_INSERT, rows)


# Built once: statement construction is a measurable part of every audited request.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_PG_APPEND = text(
    "SELECT entry_seq, entry_prev_hash, entry_hash FROM casebook_audit_append("
    ":k, :occurred_at, :actor_id, :actor, :role, :action, :object_type, :object_id, :outcome, "
    ":details, :body_head, :body_tail)"
)
_HEAD = (  # Core columns: an ORM-enabled select costs more to execute for the same row
    select(_AUDIT_TABLE.c.seq, _AUDIT_TABLE.c.hash).order_by(_AUDIT_TABLE.c.seq.desc()).limit(1)
)
_INSERT = _AUDIT_TABLE.insert()


def _locked_head(session: Session | Connection) -> tuple[int, str]:
    """The chain head (sequence, hash), read under the append lock held to commit."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    if bind.dialect.name == "postgresql":
        # Two statements on purpose: under READ COMMITTED a statement sees the snapshot taken
        # when it began, so the head must be read by a statement that starts after the lock.
        session.execute(_ADVISORY_LOCK, {"k": _ADVISORY_LOCK_KEY})
    head = session.execute(_HEAD).first()
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
    *,
    hashed: bool = True,
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
        details=canonical(_with_token({k: _clean(v) for k, v in (details or {}).items()}, actor)),
        prev_hash=prev,
        hash="",
    )
    if hashed:
        entry.hash = hash_of(entry)
    return entry


_PREV_SLOT = '"prev":""'
_SEQ_END = '"seq":0}'


def _body_around_head(entry: AuditEntry) -> tuple[str, str]:
    """The hashed body of an entry whose sequence is 0 and previous hash empty, cut where those
    go, for the server to fill in under its lock: body = head + prev_hash + tail + str(seq) +
    "}". Keys are sorted ("prev" < "role" < "seq" come last) and every string is JSON-escaped,
    so the slots are found unambiguously from the end."""
    head, _, tail = hashed_body(entry).rpartition(_PREV_SLOT)
    if not tail.endswith(_SEQ_END):  # pragma: no cover (the canonical encoding guarantees it)
        raise RuntimeError("unexpected audit body layout")
    return head + '"prev":"', '"' + tail[: -len("0}")]


def _append_postgresql(session: Session, entry: AuditEntry) -> AuditEntry:
    """One round trip on PostgreSQL: lock, head, hash and insert in casebook_audit_append
    (migration 0007), rather than three statements."""
    head, tail = _body_around_head(entry)
    row = session.execute(
        _PG_APPEND,
        {
            "k": _ADVISORY_LOCK_KEY,
            **{c: getattr(entry, c) for c in _HASHED_COLUMNS},
            "body_head": head,
            "body_tail": tail,
        },
    ).one()
    entry.seq, entry.prev_hash, entry.hash = row.entry_seq, row.entry_prev_hash, row.entry_hash
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
    if session.get_bind().dialect.name == "postgresql":
        unhashed = _entry(
            0, "", actor, action, object_type, object_id, outcome, details, hashed=False
        )
        return _append_postgresql(session, unhashed)
    seq, prev = _locked_head(session)
    entry = _entry(seq + 1, prev, actor, action, object_type, object_id, outcome, details)
    # A Core INSERT: the entry is never changed after it is written, so the unit of work
    # (identity map, change tracking) would only add cost to every audited request.
    session.execute(_INSERT, {c: getattr(entry, c) for c in _COLUMNS})
    return entry
