"""Fixtures of the field tests: a signed-in documenter and a phone (a client of its own)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login, make_user


@pytest.fixture
def documenter(app: Flask, client: FlaskClient):  # type: ignore[no-untyped-def]
    user = make_user(app, "documenter")
    login(client, user)
    return user


@pytest.fixture
def phone(app: Flask) -> FlaskClient:
    return app.test_client()
