"""SQLAlchemy 2.x base, engines for SQLite and PostgreSQL, and the per-request session.

The request's transaction policy lives here. Its invariants:

1. One session per request, one commit per request, at the request's end (`casebook.web`);
   services flush and never commit; an error handler rolls back. A CLI command commits its own
   session (or one per batch: key rewrap, import).
2. Whatever a request changes and the audit entries that record it commit together: a write
   is never kept without its entry, nor an entry for a write that was rolled back.
3. No data leaves before the entry recording its read is durable in the chain.
4. Writing requests (any method but GET and HEAD) run in one transaction from their first
   statement: `BEGIN IMMEDIATE` on SQLite (the single write lock is taken up front, so a
   transaction never fails half-way for a lock another writer took after it read), READ
   COMMITTED on PostgreSQL with the chain's advisory lock taken by the audit append. A
   service that changes a case reads its sealed record, changes it and writes it whole: on
   PostgreSQL it first locks the case's row (`casebook.cases.services.case_lock`, before its
   first audit entry), so two requests changing one case run one after the other and neither
   drops what the other added.
5. Reading requests (GET, HEAD) do not hold a write lock while they read:
   - SQLite: a deferred transaction (many readers at once in WAL mode); the request's read
     entries are committed in a short transaction of their own, shared by concurrent readers
     (`casebook.audit.services._ReadEntries`). If a reading request does write, its deferred
     transaction turns into a write transaction at the first write; when another writer
     committed since it began reading, SQLite refuses (SQLITE_BUSY_SNAPSHOT, "database is
     locked") and `dispatch_reading` runs the request again from the start on a fresh
     snapshot, at most `READ_ATTEMPTS` times. A request that has not written has nothing to
     lose by starting again; tests/foundation/test_transactions.py provokes it.
   - PostgreSQL: autocommit until the first statement that needs a transaction (a write, a
     locking read, a streamed cursor), which opens one; its entry then commits with the
     request. The engine recognises that statement from its SQL text
     (`_begin_before_first_write`): declaring the intent in each view would put a transaction
     decision into dozens of views, for the same outcome.
6. A statistics release is cut from one snapshot (`Database.snapshot_sessionmaker`): the
   deferred transaction on SQLite, a read-only REPEATABLE READ transaction on PostgreSQL (its
   reading sessions are autocommit, where each statement would see a different moment).
7. No transaction is open while a request body is read from a client that may send it slowly.
   Browser forms are parsed before any view runs (the CSRF check reads them first). The phones'
   submission endpoint (`casebook.field.api`) authenticates the device first: that short
   transaction (the device's last-use time and nothing audited) is committed before the body
   is read, and the request's own transaction begins once the body is parsed, then commits
   once as in 1. Otherwise a phone sending a byte a second would hold SQLite's write lock (or a
   PostgreSQL transaction) for as long as it liked.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g
from psycopg import ServerCursor
from psycopg.pq import TransactionStatus
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """Primary keys are UUIDs made in Python, so ids exist before the row does (AAD needs them)."""
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


SQLITE_MMAP_BYTES = 1 << 30  # address space, not memory: pages are shared with the OS cache
# After a checkpoint the WAL file is cut back to this size, so old frames (old versions of
# pages, erased rows among them) do not linger in a file that only ever grew.
SQLITE_WAL_LIMIT_BYTES = 64 << 20

log = logging.getLogger("casebook.db")


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """An engine with casebook's connection settings for either engine."""
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=None if pool else NullPool)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10)
    _configure_postgresql(engine)
    return engine


# A pooled connection idle longer than this is pinged before use; a busy one is not. SQLAlchemy's
# pool_pre_ping pings on every checkout, a round trip per request on the hot read path; a
# connection in steady use has just proved itself alive, and one the server dropped between
# two busy requests fails that request once and the pool is refilled (SQLAlchemy invalidates
# the pool on a disconnect error).
PING_AFTER_IDLE_SECONDS = 5.0

# A reading request runs SELECTs outside a transaction (plain reads, and the audit append,
# which takes the chain lock and releases it within its one statement: migration 0007),
# except these, whose locks must last until the request's commit.
_NEEDS_TRANSACTION = ("pg_advisory_xact_lock", "FOR UPDATE", "FOR SHARE", "FOR NO KEY")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["casebook_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("casebook_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # in autocommit: leaves no transaction
        except Exception as exc:
            # The pool discards this connection and checks out another (up to three tries).
            raise DisconnectionError("idle connection no longer usable") from exc

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_first_write(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        # A reading request runs in autocommit (see Database): its reads need no transaction
        # (READ COMMITTED gives each statement its own snapshot either way) and its audit
        # entry is one statement that commits before any data leaves. The first write, if it
        # ever writes, opens a real transaction, so whatever it changes, and the entries that
        # record it, commit together at the request's one commit.
        if not conn.get_execution_options().get("casebook_reading"):
            return
        streamed = isinstance(cursor, ServerCursor)  # DECLARE CURSOR needs a transaction
        if (
            statement.lstrip()[:6].upper() == "SELECT"
            and not streamed
            and not any(m in statement for m in _NEEDS_TRANSACTION)
        ):
            return
        raw = cursor.connection
        if raw.info.transaction_status == TransactionStatus.IDLE:
            raw.execute("BEGIN")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (pysqlite would defer it):
        # every request writes an audit entry, and a deferred transaction that reads the chain
        # head before writing would fail with SQLITE_BUSY_SNAPSHOT under concurrency.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # auto_vacuum only takes effect on an empty database, so it is set before any table.
        cursor.execute("PRAGMA auto_vacuum=FULL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Every request appends an audit entry, and any commit empties every other
        # connection's page cache in WAL mode; reading pages through a memory map makes
        # refilling it a lookup instead of a read() and copy per page. Nothing is written
        # through the map (SQLite writes with write() unless told otherwise).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() not in ("SELECT", "PRAGMA", "BEGIN"):
            conn.info["casebook_wrote"] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        conn.info.pop("casebook_wrote", None)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Reading requests start deferred (many readers at once in WAL mode) and are retried
        # if their snapshot went stale before they wrote their audit entry; see web.py.
        deferred = conn.get_execution_options().get("casebook_deferred", False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


# -- work that must wait for the commit -----------------------------------------------------------


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's current transaction has committed; drop it if the
    transaction rolls back. For work that must not happen unless the change is durable
    (overwriting an erased case's files) or that needs the change committed (a checkpoint)."""
    session.info.setdefault("casebook_after_commit", []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop("casebook_after_commit", []):
        try:
            action()
        except Exception as exc:  # committed already: report, never turn it into a 500
            log.error(
                "post-commit step failed", exc_info=exc, extra={"event": "after_commit_failed"}
            )


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop("casebook_after_commit", None)


class SqliteCheckpointError(RuntimeError):
    """The WAL could not be emptied (a reader held an old snapshot past the busy timeout)."""


def sqlite_checkpoint_truncate(engine: Engine) -> None:
    """Copy every committed page into the database file and cut the WAL to zero bytes, so that
    old versions of pages (an erased case's rows among them) are in no file of the instance.
    Waits (busy timeout) for readers of an older snapshot; raises when it could not finish."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        busy, _frames, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    if busy:
        raise SqliteCheckpointError("the WAL checkpoint after an erasure could not complete")


class Database:
    """The engine and session factory of one app; the vault rides on every session's info."""

    def __init__(self, url: str, vault: object) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(
            bind=self.engine, expire_on_commit=False, info={"vault": vault}
        )
        if self.engine.dialect.name != "sqlite":
            # Reading requests (GET, HEAD) on PostgreSQL: autocommit until their first write
            # (see _configure_postgresql). Their audit entry then holds the chain's lock for
            # the one statement that appends it, not until a commit one round trip (and, under
            # load, a wait for the GIL) later, during which every other request waits.
            self.reading_sessionmaker = sessionmaker(
                bind=self.engine.execution_options(
                    isolation_level="AUTOCOMMIT", casebook_reading=True
                ),
                expire_on_commit=False,
                info={"vault": vault},
            )
            # one snapshot for every statement of the transaction, read only
            self.snapshot_sessionmaker = sessionmaker(
                bind=self.engine.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                ),
                expire_on_commit=False,
                info={"vault": vault},
            )
            return
        lock = None
        if len(url) > len("sqlite:///"):
            lock = url.removeprefix("sqlite:///") + ".audit-lock"
        self.reading_sessionmaker = sessionmaker(
            bind=self.engine.execution_options(casebook_deferred=True),
            expire_on_commit=False,
            info={
                "vault": vault,
                "reading": True,
                "write_engine": self.engine,
                "append_lock": lock,
            },
        )
        # SQLite in WAL mode: a deferred transaction reads one snapshot, taken at its first read
        self.snapshot_sessionmaker = self.reading_sessionmaker

    def dispose(self) -> None:
        self.engine.dispose()


def database() -> Database:
    db: Database = current_app.extensions["casebook.db"]
    return db


def session() -> Session:
    """The request's session, made on first use and closed at teardown."""
    if "db_session" not in g:
        from flask import request

        db = database()
        reading = request.method in ("GET", "HEAD")
        g.db_session = (db.reading_sessionmaker if reading else db.sessionmaker)()
    s: Session = g.db_session
    return s


def has_written(session: Session) -> bool:
    """Whether this session's current transaction has written anything (SQLite only)."""
    if not session.in_transaction():
        return False
    return bool(session.connection().info.get("casebook_wrote"))


READ_ATTEMPTS = 5


def dispatch_reading(dispatch: Callable[[], Any], method: str) -> Any:
    """Run a request's view; a reading request whose snapshot went stale runs again (5. above).
    Bounded: the last attempt's error is raised as it is."""
    if method not in ("GET", "HEAD"):
        return dispatch()
    for attempt in range(READ_ATTEMPTS):
        try:
            return dispatch()
        except Exception as exc:
            if attempt == READ_ATTEMPTS - 1 or not is_stale_snapshot(exc):
                raise
            session().rollback()  # a fresh snapshot on the next try
    raise AssertionError("unreachable")


def is_stale_snapshot(exc: BaseException) -> bool:
    """SQLite refused to turn a deferred read into a write because another writer committed
    first (SQLITE_BUSY_SNAPSHOT, reported as "database is locked"): retry from the start."""
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError) and "locked" in str(getattr(exc, "orig", ""))


def close_session(_exc: BaseException | None = None) -> None:
    s: Session | None = g.pop("db_session", None)
    if s is not None:
        s.rollback()
        s.close()
