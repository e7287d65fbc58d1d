"""On PostgreSQL casebook warns (log line, `keys status`, the admin's key page) when the role it
connects as owns audit_log; an application role with exactly SECURITY.md's grants is not warned
about and can run casebook."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from casebook import create_app
from casebook.cli import cli, warn_if_role_controls_audit_log
from casebook.config import Settings
from tests.conftest import EnglishClient, bearer, make_user, minimal_case

WARNING = "owns audit_log"
ROOT = Path(__file__).resolve().parents[2]


def _status(app: Flask) -> str:
    result = app.test_cli_runner().invoke(cli, ["keys", "status"])
    assert result.exit_code == 0, result.output
    return result.output


def _documented_grants() -> list[str]:
    """The grant statements of SECURITY.md, which docs/deploy.md must repeat word for word."""
    security = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = security.split("```sql", 1)[1].split("```", 1)[0]
    statements = [line.strip() for line in block.splitlines() if line.strip()]
    assert statements and all("casebook_app" in line for line in statements)
    missing = [line for line in statements if line not in deploy]
    assert missing == [], "docs/deploy.md differs from SECURITY.md"
    return statements


def test_deploy_guide_gives_the_grants_security_md_lists() -> None:
    assert any(line.startswith("REVOKE UPDATE, DELETE") for line in _documented_grants())


@pytest.fixture
def app_role(app: Flask, settings: Settings) -> Iterator[str]:
    """A login role given exactly SECURITY.md's grants, by the owner after migrating."""
    if settings.is_sqlite:
        pytest.skip("roles and ownership are PostgreSQL's")
    role = f"cb_app_{uuid.uuid4().hex[:8]}"
    database = make_url(settings.database_url).database
    engine = app.extensions["casebook.db"].engine
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        for statement in _documented_grants():
            conn.execute(
                text(
                    statement.replace("DATABASE casebook ", f'DATABASE "{database}" ').replace(
                        "casebook_app", role
                    )
                )
            )
    yield role
    app.extensions["casebook.db"].dispose()
    with engine.begin() as conn:
        conn.execute(text(f"DROP OWNED BY {role}"))
        conn.execute(text(f"DROP ROLE {role}"))


def test_the_owner_is_warned_and_the_application_role_is_not(
    app: Flask, settings: Settings, app_role: str, caplog: pytest.LogCaptureFixture
) -> None:
    # the test database's owner (the role that migrated it): warned, in the log and the status
    with caplog.at_level(logging.WARNING, logger="casebook.db"):
        assert warn_if_role_controls_audit_log(app.extensions["casebook.db"]) is True
    assert any(getattr(r, "event", "") == "audit_log_owner" for r in caplog.records)
    assert WARNING in _status(app)

    url = make_url(settings.database_url).set(username=app_role, password=None)
    as_app = create_app(
        dataclasses.replace(settings, database_url=url.render_as_string(hide_password=False))
    )
    as_app.test_client_class = EnglishClient
    as_app.extensions["casebook.vault"].load()
    try:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="casebook.db"):
            assert warn_if_role_controls_audit_log(as_app.extensions["casebook.db"]) is False
        assert not any(getattr(r, "event", "") == "audit_log_owner" for r in caplog.records)
        assert WARNING not in _status(as_app)
        # SECURITY.md's grants are enough to run casebook, and not enough to edit the log
        client = as_app.test_client()
        created = client.post(
            "/api/v1/cases",
            json=minimal_case(),
            headers=bearer(as_app, make_user(as_app, "lawyer")),
        )
        assert created.status_code == 201, created.get_data(as_text=True)
        with (
            as_app.extensions["casebook.db"].engine.connect() as conn,
            pytest.raises(Exception, match="must be owner"),
        ):
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER ALL"))
    finally:
        as_app.extensions["casebook.db"].dispose()
