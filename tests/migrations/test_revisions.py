"""One test per Alembic revision (as SecureDrop does), and the migrated schema equals the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import casebook.models  # noqa: F401
from casebook.db import SQLITE_MMAP_BYTES, Base, make_engine
from casebook.migrate import alembic_config, downgrade, upgrade

PG_URL = os.environ.get("CASEBOOK_TEST_DATABASE_URL")
REVISIONS = [
    r.revision
    for r in reversed(
        list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())
    )
]


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    name = f"cbm_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrated_schema_equals_models(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == []


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1


@pytest.mark.parametrize("revision", REVISIONS)
def test_revision_upgrades_and_downgrades(empty_url: str, revision: str) -> None:
    index = REVISIONS.index(revision)
    previous = REVISIONS[index - 1] if index else "base"
    if previous != "base":
        upgrade(empty_url, previous)
    upgrade(empty_url, revision)
    engine = make_engine(empty_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert "audit_log" in tables or revision != "0001"
    downgrade(empty_url, previous)
    engine = make_engine(empty_url)
    after = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    if previous == "base":
        assert after == set()
    upgrade(empty_url, revision)  # and up again


def test_sqlite_database_has_secure_delete_and_full_vacuum(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # reads go through the memory map (SQLite silently caps a size it was not built for)
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == SQLITE_MMAP_BYTES
    engine.dispose()


def test_revision_0007_adds_and_removes_the_audit_append_function(empty_url: str) -> None:
    """On PostgreSQL 0007 creates the function every audited request calls; on SQLite it is a
    no-op (appends stay in Python there)."""

    def has_function() -> bool:
        engine = make_engine(empty_url)
        with engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                found = False
            else:
                found = bool(
                    conn.execute(
                        text("SELECT count(*) FROM pg_proc WHERE proname = 'casebook_audit_append'")
                    ).scalar()
                )
        engine.dispose()
        return found

    postgres = empty_url.startswith("postgresql")
    upgrade(empty_url, "0007")
    assert has_function() is postgres
    downgrade(empty_url, "0006")
    assert has_function() is False


def test_revision_0008_indexes_the_case_list_order(empty_url: str) -> None:
    """0008 adds the partial index the case list reads newest first (without it a list page
    scans every case); downgrading removes it."""

    def live_order_columns() -> list[str | None] | None:
        engine = make_engine(empty_url)
        found = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("cases")}
        engine.dispose()
        return found.get("ix_cases_live_order")

    upgrade(empty_url, "0008")
    assert live_order_columns() == ["created_at", "id"]
    if empty_url.startswith("sqlite"):
        engine = make_engine(empty_url)
        with engine.connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT id FROM cases WHERE erased_at IS NULL "
                    "ORDER BY created_at DESC, id DESC LIMIT 50"
                )
            )
        engine.dispose()
        assert "ix_cases_live_order" in plan and "TEMP B-TREE" not in plan
    downgrade(empty_url, "0007")
    assert live_order_columns() is None


def test_revision_0013e_adds_and_removes_the_release_tables(empty_url: str) -> None:
    """0013e adds the statistics releases and their stored tables; downgrading removes them."""

    def tables() -> set[str]:
        engine = make_engine(empty_url)
        found = set(inspect(engine).get_table_names())
        engine.dispose()
        return found

    upgrade(empty_url, "0013e")
    assert {"stats_releases", "stats_release_tables"} <= tables()
    downgrade(empty_url, "0008")
    assert not {"stats_releases", "stats_release_tables"} & tables()
