"""SQLAlchemy 2.x base, engines for SQLite and PostgreSQL, and the per-request session.

One session per request, one commit per request (see `casebook.web`). Services flush; only the
request boundary (or a CLI command) commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
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


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """An engine with casebook's connection settings for either engine."""
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=None if pool else NullPool)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


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


class Database:
    """The engine and session factory of one app; the vault rides on every session's info."""

    def __init__(self, url: str, vault: object) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(
            bind=self.engine, expire_on_commit=False, info={"vault": vault}
        )
        lock = None
        if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
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
        reading = request.method in ("GET", "HEAD") and db.engine.dialect.name == "sqlite"
        g.db_session = (db.reading_sessionmaker if reading else db.sessionmaker)()
    s: Session = g.db_session
    return s


def has_written(session: Session) -> bool:
    """Whether this session's current transaction has written anything (SQLite only)."""
    if not session.in_transaction():
        return False
    return bool(session.connection().info.get("casebook_wrote"))


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
