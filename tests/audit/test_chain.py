"""The audit chain: tamper evidence, append-only enforcement, checkpoints, concurrency."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor, audit_record, encode_controls, hash_of
from casebook.audit.verify import make_checkpoint, verify_chain
from tests.conftest import vault_of


def _write(app: Flask, n: int) -> None:
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        for i in range(n):
            audit_record(
                s,
                Actor.cli(),
                "test.event",
                object_type="thing",
                object_id=f"id-{i}",
                details={"i": i},
            )


def _verify(app: Flask, checkpoint: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    with app.extensions["casebook.db"].sessionmaker() as s:
        return verify_chain(s, checkpoint, vault_of(app).checkpoint_signer().public_key)


def _raw(app: Flask, *statements: str) -> None:
    """Tamper as an attacker with database access: drop the guards, then edit rows."""
    engine = app.extensions["casebook.db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_intact_chain_verifies(app: Flask) -> None:
    _write(app, 10)
    verdict = _verify(app)
    assert verdict.ok and verdict.entries == 10 and verdict.head_seq == 10


def test_each_entry_links_to_the_previous(app: Flask) -> None:
    _write(app, 3)
    with app.extensions["casebook.db"].sessionmaker() as s:
        rows = s.query(AuditEntry).order_by(AuditEntry.seq).all()
    assert rows[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'failure' WHERE seq = 4",
        "UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 4",
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 4",
    ],
)
def test_edited_entry_is_named(app: Flask, statement: str) -> None:
    _write(app, 8)
    _raw(app, statement)
    verdict = _verify(app)
    assert not verdict.ok and verdict.first_bad == 4


def test_deleted_entry_is_named(app: Flask) -> None:
    _write(app, 8)
    _raw(app, "DELETE FROM audit_log WHERE seq = 5")
    verdict = _verify(app)
    assert not verdict.ok and verdict.first_bad == 5 and "missing" in verdict.reason


def test_reordered_entries_are_caught(app: Flask) -> None:
    _write(app, 8)
    _raw(
        app,
        "UPDATE audit_log SET seq = 1000 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = 1000",
    )
    verdict = _verify(app)
    assert not verdict.ok and verdict.first_bad == 3


def test_inserted_entry_is_caught(app: Flask) -> None:
    _write(app, 6)
    _raw(
        app,
        "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4",
        "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 104",
        "INSERT INTO audit_log (seq, occurred_at, actor, action, outcome, details, prev_hash, hash)"
        " SELECT 4, occurred_at, actor, 'forged', outcome, details, hash, hash"
        " FROM audit_log WHERE seq = 3",
    )
    verdict = _verify(app)
    assert not verdict.ok and verdict.first_bad == 4


def test_truncated_tail_is_caught_against_a_checkpoint(app: Flask) -> None:
    _write(app, 10)
    with app.extensions["casebook.db"].sessionmaker() as s:
        checkpoint = make_checkpoint(s, vault_of(app).checkpoint_signer())
    assert checkpoint["seq"] == 10
    assert _verify(app, checkpoint).ok
    _raw(app, "DELETE FROM audit_log WHERE seq > 7")
    assert _verify(app).ok  # the chain alone cannot see a cut tail
    verdict = _verify(app, checkpoint)
    assert not verdict.ok and verdict.first_bad == 8 and "cut off" in verdict.reason


def test_rewritten_history_is_caught_against_a_checkpoint(app: Flask) -> None:
    """An attacker who recomputes every hash after an edit still differs from the checkpoint."""
    from casebook.audit.services import hash_of

    _write(app, 5)
    with app.extensions["casebook.db"].sessionmaker() as s:
        checkpoint = make_checkpoint(s, vault_of(app).checkpoint_signer())
    _raw(app, "UPDATE audit_log SET outcome = 'failure' WHERE seq = 2")
    engine = app.extensions["casebook.db"].engine
    with Session(engine) as s, s.begin():
        prev = None
        for entry in s.query(AuditEntry).order_by(AuditEntry.seq):
            if prev is not None:
                entry.prev_hash = prev
            entry.hash = hash_of(entry)
            prev = entry.hash
    assert _verify(app).ok
    verdict = _verify(app, checkpoint)
    assert not verdict.ok and verdict.first_bad == 5


def test_forged_checkpoint_signature_is_refused(app: Flask) -> None:
    _write(app, 3)
    with app.extensions["casebook.db"].sessionmaker() as s:
        checkpoint = make_checkpoint(s, vault_of(app).checkpoint_signer())
    checkpoint["seq"] = 2
    verdict = _verify(app, checkpoint)
    assert not verdict.ok and "signature" in verdict.reason


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'x'",
        "DELETE FROM audit_log",
    ],
)
def test_database_refuses_update_and_delete(app: Flask, statement: str) -> None:
    _write(app, 2)
    engine = app.extensions["casebook.db"].engine
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert _verify(app).entries == 2


def test_postgres_refuses_truncate(app: Flask) -> None:
    engine = app.extensions["casebook.db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _write(app, 2)
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))


def test_concurrent_writers_leave_a_gapless_valid_chain(app: Flask) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
                    audit_record(s, Actor.cli(), "test.concurrent", details={"w": n, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = _verify(app)
    assert verdict.ok and verdict.entries == 120


_BY_HASH = text("SELECT 1 FROM audit_log WHERE hash = :h")


def test_concurrent_reads_share_commits_and_each_is_committed_before_returning(
    app: Flask,
) -> None:
    """Reading requests record their read in a transaction of its own (a group commit on
    SQLite, the append's one statement on PostgreSQL): every entry is in the chain, once, in a
    valid sequence, and already visible to another connection when `audit_record` returns (no
    data may leave before its read is recorded)."""
    db = app.extensions["casebook.db"]
    errors: list[BaseException] = []
    unseen: list[str] = []

    def reader(n: int) -> None:
        try:
            for i in range(25):
                with db.reading_sessionmaker() as s:
                    s.execute(text("SELECT 1"))  # a read transaction is open, as in a request
                    entry = audit_record(s, Actor.cli(), "test.read", details={"r": n, "i": i})
                    with db.engine.connect() as other:
                        seen = other.execute(_BY_HASH, {"h": entry.hash}).first()
                    if seen is None:
                        unseen.append(entry.hash)
                    s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and unseen == []
    verdict = _verify(app)
    assert verdict.ok and verdict.entries == 200
    with db.sessionmaker() as s:
        details = s.scalars(select(AuditEntry.details)).all()
    assert len(set(details)) == 200


def test_a_read_entry_that_cannot_be_written_fails_its_request(app: Flask) -> None:
    db = app.extensions["casebook.db"]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log "
                "WHEN NEW.action = 'test.refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.action = 'test.refused' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION refuse_reads()"
            )
    with db.reading_sessionmaker() as s, pytest.raises(DatabaseError):
        audit_record(s, Actor.cli(), "test.refused")
    with db.reading_sessionmaker() as s:
        audit_record(s, Actor.cli(), "test.read")  # the next read is not stuck behind it
    verdict = _verify(app)
    assert verdict.ok and verdict.entries == 1


def test_a_reading_request_that_writes_commits_or_loses_the_write_and_its_entries_together(
    app: Flask,
) -> None:
    """A reading request records its read alone, but once it writes, the write and every
    entry after it share one transaction: a rollback leaves neither, a commit keeps both."""
    from casebook.auth.models import User
    from tests.conftest import make_user

    db = app.extensions["casebook.db"]
    user = make_user(app, "lawyer")
    for finish, kept in (("rollback", False), ("commit", True)):
        with db.reading_sessionmaker() as s:
            audit_record(s, Actor.cli(), f"test.read_before_{finish}")  # alone: always kept
            row = s.get(User, user.id)
            assert row is not None
            row.display_name = f"after {finish}"
            audit_record(s, Actor.cli(), f"test.write_{finish}")
            getattr(s, finish)()
        with db.sessionmaker() as s:
            name = s.get(User, user.id).display_name  # type: ignore[union-attr]
            actions = set(s.scalars(select(AuditEntry.action)))
        assert (name == f"after {finish}") is kept
        assert (f"test.write_{finish}" in actions) is kept
        assert f"test.read_before_{finish}" in actions
    assert _verify(app).ok


def test_a_reading_request_holds_the_chain_lock_it_takes(app: Flask) -> None:
    """Reading requests on PostgreSQL run outside a transaction until they write; a statement
    that takes a transaction-scoped lock (as batch appends do) must open one, or the lock
    would be gone before the head it guards is read."""
    from casebook.audit.services import _locked_head

    db = app.extensions["casebook.db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    with db.reading_sessionmaker() as s:
        _locked_head(s)
        held = s.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        ).scalar()
        s.rollback()
    assert held == 1


def test_rolled_back_change_leaves_no_entry(app: Flask) -> None:
    with app.extensions["casebook.db"].sessionmaker() as s:
        audit_record(s, Actor.cli(), "test.rolled_back")
        s.rollback()
    assert _verify(app).entries == 0


def test_control_characters_are_encoded() -> None:
    assert encode_controls("a\nb\r\x00c\u2028") == "a\\u000ab\\u000d\\u0000c\\u2028"


def test_details_are_cleaned(app: Flask) -> None:
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        entry = audit_record(s, Actor(label="evil\nactor"), "test.x", details={"k": "v\nw"})
        assert "\n" not in entry.actor and "\\u000a" in entry.actor
        assert "\\\\u000a" in entry.details


def test_entries_appended_by_the_database_hash_as_verify_expects(app: Flask) -> None:
    """On PostgreSQL the server fills in the sequence and previous hash (one round trip); text
    that looks like the slots it fills must not confuse the cut, and every hash must be the one
    `audit verify` recomputes in Python. On SQLite the same entries go through Python alone."""
    tricky = 'x","prev":"","seq":0} عربي "role":null'
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        returned = [
            audit_record(
                s,
                Actor(label=tricky, user_id=None, role="lawyer"),
                "test.tricky",
                object_type="thing",
                object_id=tricky,
                details={"v": tricky, "n": i, "seq": 0, "prev": ""},
            )
            for i in range(3)
        ]
    with app.extensions["casebook.db"].sessionmaker() as s:
        stored = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [(e.seq, e.prev_hash, e.hash) for e in stored] == [
            (e.seq, e.prev_hash, e.hash) for e in returned
        ]
        assert all(hash_of(e) == e.hash for e in stored)
    assert _verify(app).ok


def test_an_app_role_with_only_insert_and_select_appends_and_cannot_rewrite(
    database_url: str,
) -> None:
    """docs/deploy.md grants the application role INSERT and SELECT on audit_log only: the
    server-side append (migration 0007) must work with exactly that, and nothing more."""
    if not database_url.startswith("postgresql"):
        pytest.skip("database roles are PostgreSQL's")
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ProgrammingError

    role = f"cb_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT SELECT, INSERT ON audit_log TO {role}"))
    app_engine = create_engine(make_url(database_url).set(username=role))
    try:
        with Session(app_engine) as s, s.begin():
            for i in range(3):
                audit_record(s, Actor.cli(), "test.as_app_role", details={"i": i})
        with Session(app_engine) as s:
            entries = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
            assert [e.seq for e in entries] == [1, 2, 3]
            assert all(hash_of(e) == e.hash for e in entries)
        with app_engine.connect() as conn, pytest.raises(ProgrammingError):
            conn.execute(text("UPDATE audit_log SET outcome = 'failure'"))
    finally:
        app_engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
