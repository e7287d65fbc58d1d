"""Release cuts started on the web run in the background, one at a time, and the releases page
follows them to their end, as a lawyer meets them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook import pausepoints
from casebook.audit.models import AuditEntry
from casebook.stats.models import ReleaseCut
from tests.conftest import UserFixture, bearer, csrf_from, finish_background, login
from tests.pausing import release, wait_reached
from tests.stats.test_releases import _seed

POINT = "stats.release.snapshot"


def _cuts(app: Flask) -> list[ReleaseCut]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return list(s.scalars(select(ReleaseCut).order_by(ReleaseCut.started_at)))


def _audit(app: Flask) -> list[AuditEntry]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_a_cut_runs_in_the_background_one_at_a_time_and_the_page_follows_it(
    app: Flask,
    client: FlaskClient,
    users: dict[str, UserFixture],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed(client, bearer(app, users["lawyer"]), 40)
    folder = tmp_path / "pause"
    folder.mkdir()
    # hold the cut's thread once it has read its snapshot (this process's next passage)
    nth = pausepoints._passages.get(POINT, 0) + 1
    monkeypatch.setenv("CASEBOOK_PAUSE_AT", f"{POINT}:{nth}")
    monkeypatch.setenv("CASEBOOK_PAUSE_DIR", str(folder))
    lawyer = app.test_client()
    login(lawyer, users["lawyer"])
    page = lawyer.get("/stats/releases").get_data(as_text=True)
    started = lawyer.post("/stats/releases", data={"csrf_token": csrf_from(page), "note": "q4"})
    assert started.status_code == 303  # answered at once, not after the cut
    try:
        _while_it_runs(app, client, users, lawyer, folder)
    finally:
        release(folder, POINT)
        finish_background(app)
    done = lawyer.get("/stats/releases").get_data(as_text=True)
    assert "Release 1 is published." in done and "Publish a new release" in done
    assert "q4" in done
    (cut,) = _cuts(app)
    assert (cut.state, cut.slot, cut.release_number) == ("done", None, 1)
    advocate = bearer(app, users["advocate"])
    served = client.get("/api/v1/stats?by=governorate", headers=advocate)
    assert served.status_code == 200 and served.get_json()["release"]["number"] == 1
    actions = [e.action for e in _audit(app)]
    start, made, end = (
        actions.index("stats.release_cut_start"),
        actions.index("stats.release"),
        actions.index("stats.release_cut_end"),
    )
    assert start < made < end
    ended = next(e for e in _audit(app) if e.action == "stats.release_cut_end")
    assert json.loads(ended.details) == {"state": "done", "release": 1}


def _while_it_runs(
    app: Flask,
    client: FlaskClient,
    users: dict[str, UserFixture],
    lawyer: FlaskClient,
    folder: Path,
) -> None:
    """The step, no button, a second cut refused, nothing published yet."""
    wait_reached(folder, POINT, seconds=60)
    going = lawyer.get("/stats/releases").get_data(as_text=True)
    assert "A release is being cut" in going and "reading and counting the cases" in going
    assert "Publish a new release" not in going
    admin = app.test_client()
    login(admin, users["admin"])
    token = csrf_from(admin.get("/stats/releases").get_data(as_text=True))
    second = admin.post("/stats/releases", data={"csrf_token": token})
    assert second.status_code == 303
    assert "already being cut" in admin.get("/stats/releases").get_data(as_text=True)
    assert len(_cuts(app)) == 1
    advocate = bearer(app, users["advocate"])
    assert client.get("/api/v1/stats?by=governorate", headers=advocate).status_code == 404


def test_a_refused_cut_says_why_and_frees_the_slot(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    _seed(client, bearer(app, users["lawyer"]), 12)  # fewer than the 25 changes a release needs
    lawyer = app.test_client()
    login(lawyer, users["lawyer"])
    page = lawyer.get("/stats/releases").get_data(as_text=True)
    lawyer.post("/stats/releases", data={"csrf_token": csrf_from(page)})
    finish_background(app)
    refused = lawyer.get("/stats/releases").get_data(as_text=True)
    assert "was refused; nothing was published" in refused
    assert "12 cases were added, changed or removed" in refused
    assert "Publish a new release" in refused  # another cut may start
    (cut,) = _cuts(app)
    assert (cut.state, cut.slot, cut.release_number) == ("refused", None, None)
    ended = next(e for e in _audit(app) if e.action == "stats.release_cut_end")
    assert ended.outcome == "refused"  # a rule said no: not a failure of the software


def test_a_cut_whose_worker_died_is_let_go_and_another_can_start(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    _seed(client, bearer(app, users["lawyer"]), 40)
    db = app.extensions["casebook.db"]
    silent = datetime.now(UTC) - timedelta(minutes=10)
    with db.sessionmaker() as s, s.begin():  # as a worker killed mid-cut leaves it
        s.add(
            ReleaseCut(
                id=uuid.uuid4(), slot=1, state="running", started_at=silent, heartbeat_at=silent
            )
        )
    lawyer = app.test_client()
    login(lawyer, users["lawyer"])
    page = lawyer.get("/stats/releases").get_data(as_text=True)
    assert "failed" in page and "stopped without finishing" in page
    assert "Publish a new release" in page
    lawyer.post("/stats/releases", data={"csrf_token": csrf_from(page)})
    finish_background(app)
    assert "Release 1 is published." in lawyer.get("/stats/releases").get_data(as_text=True)
    assert [c.state for c in _cuts(app)] == ["failed", "done"]


def test_every_step_of_a_cut_has_words_in_both_languages(app: Flask) -> None:
    """The releases page names the step a cut is at; a step without words would show its
    code to a lawyer waiting on it."""
    from casebook.stats.services import CUT_STEPS
    from casebook.stats.views import CUT_STEP_LABELS

    assert set(CUT_STEP_LABELS) == set(CUT_STEPS)
    with app.test_request_context(headers={"Accept-Language": "ar"}):
        words = [str(CUT_STEP_LABELS[step]) for step in CUT_STEPS]
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in w) for w in words)
    assert len(set(words)) == len(CUT_STEPS)
