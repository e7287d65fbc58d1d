"""Domain code does not answer HTTP: selectors, services and queries raise domain errors
(`casebook.lookups.NotFoundError` for "nothing by this id that you may see") and the web layer
turns them into a 404 page or a JSON 404."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import UserFixture, bearer, login

ROOT = Path(__file__).resolve().parents[2] / "casebook"
DOMAIN = ("selectors.py", "services.py", "queries.py", "models.py", "schemas.py")


def test_domain_modules_never_call_flask_abort() -> None:
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name not in DOMAIN:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in ("flask", "werkzeug.exceptions"):
                names = {a.name for a in node.names} & {"abort", "NotFound", "HTTPException"}
                if names:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {names}")
    assert problems == []


def test_a_case_nobody_may_see_is_a_plain_404_on_pages_and_api(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    login(client, users["documenter"])
    for url in (f"/cases/{uuid.uuid4()}", "/cases/not-an-id"):
        page = client.get(url)
        assert page.status_code == 404
        assert page.mimetype == "text/html"
    headers = bearer(app, users["lawyer"])
    for url in (f"/api/v1/cases/{uuid.uuid4()}", "/api/v1/cases/not-an-id"):
        api = client.get(url, headers=headers)
        assert api.status_code == 404
        assert api.get_json()["error"]["code"] == "not_found"
