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


def throwaway_database(base_url: str, prefix: str, *, keep: bool = False) -> str:
    """The URL of a new, empty database on base_url's PostgreSQL server, dropped when this
    process ends unless `keep` (for a later run that reuses it)."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    if keep:
        admin.dispose()
    else:
        atexit.register(drop)
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


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
        os.environ["DATABASE_URL"] = throwaway_database(
            os.environ["CASEBOOK_TEST_DATABASE_URL"], "cbbench_"
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
