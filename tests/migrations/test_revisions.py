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


def test_revision_0009a_adds_role_change_requests_and_the_session_purge_index(
    empty_url: str,
) -> None:
    """0009a adds the table of role changes waiting for a second admin, and the index the
    purge of expired sessions reads; downgrading removes both."""

    def state() -> tuple[bool, bool]:
        engine = make_engine(empty_url)
        found = inspect(engine)
        has_table = "role_change_requests" in found.get_table_names()
        indexed = any(
            i["column_names"] == ["last_seen_at"] for i in found.get_indexes("web_sessions")
        )
        engine.dispose()
        return has_table, indexed

    upgrade(empty_url, "0009a")
    assert state() == (True, True)
    downgrade(empty_url, "0008")
    assert state() == (False, False)


def test_revision_0010b_notes_erasure_keks_and_scopes_fingerprints(empty_url: str) -> None:
    """0010b adds key_erasures.kek_id (NULL for erasures made before it) and gives each import
    fingerprint its importer, backfilled from its run, so that two importers may hold the same
    fingerprint; downgrading collapses those to one and drops both columns."""
    from datetime import datetime

    import sqlalchemy as sa

    def t(name: str, *columns: sa.ColumnClause[object]) -> sa.TableClause:
        return sa.table(name, *columns)

    now = datetime(2026, 12, 1, 12, 0)
    user, case_a, case_b, run, erased = (uuid.uuid4() for _ in range(5))
    upgrade(empty_url, "0008")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            t(
                "users",
                *(sa.column(c) for c in ("email_hash", "role", "language", "password_hash")),
                *(sa.column(c, sa.LargeBinary()) for c in ("email_enc", "name_enc")),
                *(sa.column(c, sa.Boolean()) for c in ("disabled", "must_change_password")),
                *(sa.column(c, sa.DateTime()) for c in ("password_changed_at", "created_at")),
                sa.column("id", sa.Uuid()),
            ).insert(),
            [
                {
                    "id": user,
                    "email_hash": "0" * 64,
                    "email_enc": b"x",
                    "name_enc": b"x",
                    "role": "documenter",
                    "language": "en",
                    "disabled": False,
                    "password_hash": "x",
                    "must_change_password": False,
                    "password_changed_at": now,
                    "created_at": now,
                }
            ],
        )
        conn.execute(
            t(
                "cases",
                sa.column("id", sa.Uuid()),
                sa.column("reference"),
                sa.column("verification"),
                sa.column("created_at", sa.DateTime()),
                sa.column("updated_at", sa.DateTime()),
            ).insert(),
            [
                {
                    "id": cid,
                    "reference": ref,
                    "verification": "unverified",
                    "created_at": now,
                    "updated_at": now,
                }
                for cid, ref in ((case_a, "CB-2026-000001"), (case_b, "CB-2026-000002"))
            ],
        )
        conn.execute(
            t(
                "import_runs",
                sa.column("id", sa.Uuid()),
                sa.column("created_by", sa.Uuid()),
                sa.column("created_at", sa.DateTime()),
                sa.column("dry_run", sa.Boolean()),
                *(sa.column(c) for c in ("kind", "outcome", "rows", "imported", "already")),
                sa.column("rejected"),
            ).insert(),
            [
                {
                    "id": run,
                    "created_by": user,
                    "created_at": now,
                    "dry_run": False,
                    "kind": "csv",
                    "outcome": "imported",
                    "rows": 1,
                    "imported": 1,
                    "already": 0,
                    "rejected": 0,
                }
            ],
        )
        conn.execute(
            t(
                "import_fingerprints",
                sa.column("value"),
                sa.column("case_id", sa.Uuid()),
                sa.column("run_id", sa.Uuid()),
            ).insert(),
            [{"value": "f" * 64, "case_id": case_a, "run_id": run}],
        )
        conn.execute(
            t(
                "key_erasures",
                sa.column("owner_id", sa.Uuid()),
                sa.column("erased_by"),
                sa.column("erased_at", sa.DateTime()),
            ).insert(),
            [{"owner_id": erased, "erased_by": "cli:test", "erased_at": now}],
        )
    engine.dispose()

    upgrade(empty_url, "0010b")
    fingerprints = t(
        "import_fingerprints",
        sa.column("value"),
        sa.column("case_id", sa.Uuid()),
        sa.column("created_by", sa.Uuid()),
    )
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        assert conn.execute(sa.select(fingerprints.c.created_by)).scalars().all() == [user]
        assert conn.execute(text("SELECT kek_id FROM key_erasures")).scalars().all() == [None]
        # the same case brought in by the command line too: a second row, same value
        conn.execute(fingerprints.insert(), [{"value": "f" * 64, "case_id": case_b}])
    engine.dispose()

    downgrade(empty_url, "0008")
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("import_fingerprints")}
    erasure_columns = {c["name"] for c in inspect(engine).get_columns("key_erasures")}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT value FROM import_fingerprints")).scalars().all()
    engine.dispose()
    assert "created_by" not in columns and "kek_id" not in erasure_columns
    assert rows == ["f" * 64]


def test_revision_0014f_adds_the_partner_matching_tables(empty_url: str) -> None:
    """0014f adds our exports, their keyed record tags and the sealed marks; downgrading to
    0008 removes all three (and nothing else)."""

    def tables() -> set[str]:
        engine = make_engine(empty_url)
        names = set(inspect(engine).get_table_names())
        engine.dispose()
        return names

    partner = {"partner_exports", "partner_records", "partner_marks"}
    upgrade(empty_url, "0014f")
    assert partner <= tables()
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("partner_records")}
    engine.dispose()
    assert columns == {"tag", "export_id", "case_id"}  # no record id, only its keyed tag
    downgrade(empty_url, "0008")
    assert not partner & tables()
    assert "cases" in tables()


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


def test_revision_0012d_adds_dedupe_runs_and_the_sealed_merge(empty_url: str) -> None:
    """0012d adds the web runs' table (one slot, unique) and cases.merged_into; downgrading to
    0013e removes both and keeps the cases."""
    upgrade(empty_url, "0012d")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    assert "linkage_runs" in inspector.get_table_names()
    assert "merged_into" in {c["name"] for c in inspector.get_columns("cases")}
    slot = [i for i in inspector.get_indexes("linkage_runs") if i["name"] == "ux_linkage_runs_slot"]
    assert slot and slot[0]["unique"]
    engine.dispose()
    downgrade(empty_url, "0013e")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    assert "linkage_runs" not in inspector.get_table_names()
    assert "merged_into" not in {c["name"] for c in inspector.get_columns("cases")}
    engine.dispose()


def test_revision_0015o_adds_and_removes_the_field_tables(empty_url: str) -> None:
    """0015o adds field devices (token hashes unique), the form's key pairs and the inbox
    (instance hashes unique); downgrading to 0012d removes all three and keeps the cases."""
    field_tables = {"field_devices", "field_keys", "field_submissions"}
    upgrade(empty_url, "0015o")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    assert field_tables <= set(inspector.get_table_names())
    constraints = inspector.get_unique_constraints("field_submissions")
    unique = {tuple(u["column_names"]) for u in constraints}
    assert ("instance_hash",) in unique
    engine.dispose()
    downgrade(empty_url, "0012d")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    assert not field_tables & set(inspector.get_table_names())
    assert "cases" in inspector.get_table_names()


def test_revision_0016s_adds_the_unsealed_flag_row(empty_url: str) -> None:
    """0016s adds seal_state with its one row, unsealed; downgrading to 0015o removes it."""
    upgrade(empty_url, "0016s")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, sealed, epoch FROM seal_state")).all()
    engine.dispose()
    assert [(r[0], bool(r[1]), r[2]) for r in rows] == [(1, False, 0)]
    downgrade(empty_url, "0015o")
    engine = make_engine(empty_url)
    assert "seal_state" not in inspect(engine).get_table_names()
    engine.dispose()


def test_revision_0017h_indexes_the_field_content_hash(empty_url: str) -> None:
    """0017h indexes field_submissions.content_hash (looked up across documenters) and keeps
    the instance hash unique; downgrading to 0016s removes the index only."""
    upgrade(empty_url, "0017h")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("field_submissions")}
    assert indexes.get("ix_field_submissions_content_hash") == ["content_hash"]
    constraints = inspector.get_unique_constraints("field_submissions")
    assert ("instance_hash",) in {tuple(u["column_names"]) for u in constraints}
    engine.dispose()
    downgrade(empty_url, "0016s")
    engine = make_engine(empty_url)
    indexes = {i["name"] for i in inspect(engine).get_indexes("field_submissions")}
    engine.dispose()
    assert "ix_field_submissions_content_hash" not in indexes


def test_revision_0018c_adds_and_removes_the_release_cuts(empty_url: str) -> None:
    """0018c adds the web's release cuts (one slot, unique); downgrading to 0017h removes them
    and keeps the releases."""
    upgrade(empty_url, "0018c")
    engine = make_engine(empty_url)
    inspector = inspect(engine)
    assert "stats_release_cuts" in inspector.get_table_names()
    slot = [
        i
        for i in inspector.get_indexes("stats_release_cuts")
        if i["name"] == "ux_stats_release_cuts_slot"
    ]
    assert slot and slot[0]["unique"]
    engine.dispose()
    downgrade(empty_url, "0017h")
    engine = make_engine(empty_url)
    tables = set(inspect(engine).get_table_names())
    assert "stats_release_cuts" not in tables and "stats_releases" in tables
    engine.dispose()


def test_revision_0019r_adds_and_removes_the_runs_held_back_count(empty_url: str) -> None:
    """0019r gives dedupe runs a count of the pairs they held back (NULL for earlier runs);
    downgrading to 0018c drops it and keeps the runs."""
    upgrade(empty_url, "0018c")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO linkage_runs (id, started_at, heartbeat_at, state, threshold, "
                "cases, read) VALUES (:id, '2026-12-01 10:00:00', '2026-12-01 10:00:00', "
                "'done', 0.9, 5, 5)"
            ),
            {"id": uuid.uuid4().hex if empty_url.startswith("sqlite") else str(uuid.uuid4())},
        )
    engine.dispose()
    upgrade(empty_url, "0019r")
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("linkage_runs")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT held FROM linkage_runs")).scalars().all() == [None]
    engine.dispose()
    assert "held" in columns
    downgrade(empty_url, "0018c")
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("linkage_runs")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM linkage_runs")).scalar() == 1
    engine.dispose()
    assert "held" not in columns


def test_revision_0020d_adds_and_removes_the_runs_already_decided_count(empty_url: str) -> None:
    """0020d gives dedupe runs a count of the pairs a lawyer had already decided (NULL for
    earlier runs); downgrading to 0019r drops it and keeps the runs."""
    upgrade(empty_url, "0019r")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO linkage_runs (id, started_at, heartbeat_at, state, threshold, "
                "cases, read, held) VALUES (:id, '2026-12-01 10:00:00', '2026-12-01 10:00:00', "
                "'done', 0.9, 5, 5, 1)"
            ),
            {"id": uuid.uuid4().hex if empty_url.startswith("sqlite") else str(uuid.uuid4())},
        )
    engine.dispose()
    upgrade(empty_url, "0020d")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT held, decided FROM linkage_runs")).all() == [(1, None)]
    engine.dispose()
    downgrade(empty_url, "0019r")
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("linkage_runs")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT held FROM linkage_runs")).scalars().all() == [1]
    engine.dispose()
    assert "decided" not in columns and "held" in columns
