"""Staff display names lose control, NUL and bidi-override characters on every path (admin
form, command line, the service itself), so one account cannot be made to look like another."""

from __future__ import annotations

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casebook.audit.services import Actor
from casebook.auth.services import AccountError, user_by_email, user_create
from tests.conftest import cli_env, csrf_from, login, make_user

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "Rana\u202e\x00\u2066nimdA\u2069\x1b[0m"


def _name_of(app: Flask, email: str) -> str:
    with app.extensions["casebook.db"].sessionmaker() as s:
        user = user_by_email(s, email)
        assert user is not None
        return user.display_name or ""


def test_admin_form_cleans_the_display_name(app: Flask, client: FlaskClient) -> None:
    admin = make_user(app, "admin")
    login(client, admin)
    page = client.get("/admin/users/new").get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "email": "new.person@example.org",
            "display_name": HOSTILE,
            "role": "documenter",
            "language": "en",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 200
    assert _name_of(app, "new.person@example.org") == "RananimdA[0m"
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "RananimdA" in listing and "\u202e" not in listing and "\x00" not in listing


def test_command_line_cleans_the_display_name(app: Flask) -> None:
    from click.testing import CliRunner

    from casebook.cli import cli

    conf = app.config["CASEBOOK"]
    env = cli_env(conf)
    result = CliRunner().invoke(
        cli,
        [
            *("user", "create", "cli.person@example.org", "--role", "advocate"),
            *("--name", HOSTILE, "--password-stdin"),
        ],
        env=env,
        input="lantern orchard compass\n",
    )
    assert result.exit_code == 0, result.output
    assert _name_of(app, "cli.person@example.org") == "RananimdA[0m"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=1, max_size=60))
def test_no_stored_name_keeps_unsafe_characters(app: Flask, name: str) -> None:
    email = f"p-{uuid.uuid4().hex[:10]}@example.org"
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        try:
            user, _ = user_create(
                s,
                Actor.cli(),
                app.extensions["casebook.passwords"],
                email=email,
                display_name=name,
                role="advocate",
                password="lantern orchard compass",
            )
        except AccountError:  # a name empty once cleaned is refused, with a reason
            return
        stored = user.display_name or ""
    assert not UNSAFE.search(stored) and stored == stored.strip()
