"""Deduplication started from the review queue, and merges a lawyer previews, confirms and can
undo, through the web app as a lawyer meets them."""

from __future__ import annotations

import dataclasses
import re
import threading
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.linkage.models import LinkageRun, MatchCandidate
from tests.conftest import bearer, csrf_from, login, make_user
from tests.linkage.test_linkage import _create, _population


def _join_runs(app: Flask) -> None:
    """Wait for the runs this app started (the deterministic hook: no sleeping)."""
    threads: list[threading.Thread] = app.extensions.get("casebook.linkage_threads", [])
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()


def _actions(app: Flask) -> list[str]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_lawyer_starts_one_background_run_and_reads_the_cli_summary(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer")
    _population(app, client, bearer(app, lawyer))
    login(client, lawyer)
    page = client.get("/linkage/").get_data(as_text=True)
    assert "Start a deduplication run" in page
    token = csrf_from(page)
    db = app.extensions["casebook.db"]
    # a run already holding the slot (as another worker's would): the lawyer is told, no second
    with db.sessionmaker() as s, s.begin():
        s.add(LinkageRun(id=uuid.uuid4(), threshold=0.9, cases=41, read=2000, slot=1))
    busy = client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.6"})
    assert busy.status_code == 303
    page = client.get("/linkage/").get_data(as_text=True)
    assert "already going" in page and "2000 of 41 cases read" in page
    assert "Start a deduplication run" not in page
    with db.sessionmaker() as s, s.begin():
        for r in s.scalars(select(LinkageRun)):
            r.slot, r.state = None, "failed"
    resp = client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.6"})
    assert resp.status_code == 303
    _join_runs(app)
    page = client.get("/linkage/").get_data(as_text=True)
    assert "Pairs compared" in page and "New in the review queue" in page
    assert re.search(r"model: (shipped|refined).*pairs compared", page)
    with db.sessionmaker() as s:
        run = s.scalars(select(LinkageRun).where(LinkageRun.state == "done")).one()
        queued = s.scalars(select(MatchCandidate).where(MatchCandidate.kind == "dedupe")).all()
    assert run.slot is None and run.read == run.cases >= 41
    assert run.compared and run.compared > 0 and run.queued == len(queued)
    assert run.pairs and run.pairs >= 1  # the planted duplicate (queued already at entry)
    actions = _actions(app)
    assert {"linkage.run_start", "linkage.dedupe", "linkage.run_end"} <= set(actions)


def test_a_run_that_cannot_score_says_so_and_queues_nothing(
    app: Flask, client: FlaskClient
) -> None:
    # too little memory for any model: DuckDB refuses, as it would with a huge caseload
    app.config["CASEBOOK"] = dataclasses.replace(app.config["CASEBOOK"], linkage_memory="1MB")
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    for first in ("سامر", "زياد", "خالد"):
        _create(client, h, first_name=first)
    login(client, lawyer)
    token = csrf_from(client.get("/linkage/").get_data(as_text=True))
    client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.6"})
    _join_runs(app)
    page = client.get("/linkage/").get_data(as_text=True)
    assert "could not score" in page and "nothing was written" in page
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(LinkageRun)).one().state == "failed"
        kinds = {c.kind for c in s.scalars(select(MatchCandidate))}
    assert "dedupe" not in kinds


def test_only_lawyers_start_runs(app: Flask, client: FlaskClient, users: dict[str, Any]) -> None:
    login(client, users["documenter"])
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    assert client.post("/linkage/runs", data={"csrf_token": token}).status_code == 403
