"""Cost of the audit entry a case read writes, per request, next to the same transaction
without it (the baseline), on SQLite and, when CASEBOOK_TEST_DATABASE_URL is set, PostgreSQL.

Run: .venv/bin/python -m bench.audit_entry
Goal: at most 1 ms per request.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench._timing import per_call, row
from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor, audit_record
from casebook.audit.verify import verify_chain
from casebook.db import make_engine
from casebook.migrate import upgrade


def measure(url: str, label: str, number: int = 400) -> None:
    upgrade(url)
    engine = make_engine(url)
    actor = Actor.user(str(uuid.uuid4()), "lawyer")
    case_id = uuid.uuid4()

    def baseline() -> None:  # a request's transaction that reads a row and commits
        with Session(engine) as s, s.begin():
            s.execute(select(AuditEntry.seq).limit(1)).first()

    def with_entry() -> None:
        with Session(engine) as s, s.begin():
            s.execute(select(AuditEntry.seq).limit(1)).first()
            audit_record(s, actor, "case.read", object_type="case", object_id=case_id)

    def with_plain_write() -> None:  # the same, writing one row of no consequence instead
        with Session(engine) as s, s.begin():
            s.execute(select(AuditEntry.seq).limit(1)).first()
            s.execute(text("UPDATE alembic_version SET version_num = version_num"))

    with_entry()
    write = per_call(with_plain_write, number)
    base = per_call(baseline, number)
    cost = per_call(with_entry, number)
    print(f"{label}")
    print(row("  transaction without audit entry (baseline)", base, unit="ms"))
    print(row("  same transaction with the case.read entry", cost, base, "ms"))
    print(row("  same transaction writing one plain row (durable commit)", write, base, "ms"))
    print(row("  => added by the audit entry", cost - base, unit="ms"))
    print(row("  => added beyond any durable write", cost - write, unit="ms"))
    with Session(engine) as s:
        verdict = verify_chain(s)
    import time

    start = time.perf_counter()
    with Session(engine) as s:
        verify_chain(s)
    print(
        row(
            f"  audit verify over {verdict.entries} entries", time.perf_counter() - start, unit="ms"
        )
    )
    engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'audit.sqlite3'}", "SQLite (WAL, synchronous=NORMAL)")
    pg = os.environ.get("CASEBOOK_TEST_DATABASE_URL")
    if pg:
        name = f"cbbench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            measure(
                make_url(pg).set(database=name).render_as_string(hide_password=False),
                "PostgreSQL 15",
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        print("PostgreSQL: set CASEBOOK_TEST_DATABASE_URL to measure it too")


if __name__ == "__main__":
    main()
