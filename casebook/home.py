"""The landing page after sign-in, and the public health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template

from casebook.auth.permissions import Permission
from casebook.web import public, requires

bp = Blueprint("home", __name__)


@bp.get("/")
@requires(Permission.ACCOUNT)
def index() -> Any:
    return render_template("home/index.html")


@bp.get("/healthz")
@public
def healthz() -> Any:
    """Liveness only: says nothing about data, keys or users."""
    return jsonify({"status": "ok"})
