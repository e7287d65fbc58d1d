"""A fresh casebook instance for a benchmark: keys, a migrated SQLite file or a new PostgreSQL
database (on CASEBOOK_TEST_DATABASE_URL's server), and the app, in this process."""

from __future__ import annotations

import atexit
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def fresh_instance(prefix: str, expected_cases: int, postgres: bool) -> tuple[Any, Any]:
    """(app, database) of a new instance in a private temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        {
            "CASEBOOK_ENV": "development",
            "CASEBOOK_INSTANCE": str(tmp / "instance"),
            "CASEBOOK_KEK_SOURCE": f"file:{tmp / 'keyring.json'}",
            "CASEBOOK_EXPECTED_CASES": str(max(expected_cases, 1000)),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        }
    )
    if postgres:
        base = os.environ["CASEBOOK_TEST_DATABASE_URL"]
        name = f"cbbench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:  # a throw-away database: gone when the benchmark ends
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        atexit.register(drop)
        os.environ["DATABASE_URL"] = (
            make_url(base).set(database=name).render_as_string(hide_password=False)
        )
    from casebook.cli import _make_app
    from casebook.migrate import upgrade
    from crypto import FileKeySource, KeyRing

    app = _make_app()
    settings = app.config["CASEBOOK"]
    settings.instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    FileKeySource(Path(settings.kek_source.removeprefix("file:"))).save(KeyRing.generate())
    upgrade(settings.database_url)
    app.extensions["casebook.vault"].load()
    return app, app.extensions["casebook.db"]
