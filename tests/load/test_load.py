"""The short version of bench/load.py, on both engines: mixed reads and writes at 16
connections with the server killed (SIGKILL) and restarted midway; then an import upload
killed midway. Every acknowledged write must be there, nothing half-written, the chain intact."""

from __future__ import annotations

import csv
import http.client
import io
import os
import threading
import time
from pathlib import Path

import pytest

from bench import load
from tests.conftest import PG_URL
from tests.pausing import pause_env, wait_reached

pytestmark = pytest.mark.slow
ENGINES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_load_with_a_killed_server_loses_nothing(engine: str, tmp_path: Path) -> None:
    env = load.make_env(tmp_path, PG_URL if engine == "postgresql" else None)
    keys = load.tokens(env)
    server = load.Server(env, load.free_port(), tmp_path / "server.log")
    server.start()
    try:
        seed_ids = load.seed(server.port, keys, 20)

        report, done = load.Report(), threading.Event()
        failed: list[BaseException] = []

        def created_at_least(n: int) -> None:
            """Poll the load's acknowledged creations, with a bounded deadline."""
            deadline = time.monotonic() + 120
            while len(report.created) < n:
                assert time.monotonic() < deadline, f"{n} creations were not acknowledged"
                time.sleep(0.02)

        def kill_and_restart() -> None:
            # killed once writes are being acknowledged, restarted, and the load ends only
            # after the restarted server has acknowledged more: no guess at how long that takes
            try:
                created_at_least(15)
                server.kill9()
                server.start()
                created_at_least(len(report.created) + 15)
            except BaseException as exc:
                failed.append(exc)
            finally:
                done.set()

        killer = threading.Thread(target=kill_and_restart)
        killer.start()
        load.run_load(server.port, keys, 300, 16, seed_ids, report=report, done=done)
        killer.join()
    finally:
        server.stop()
    assert not failed, failed
    assert report.refused_while_down > 0, "the server was not really down"
    assert len(report.created) > 20 and report.statuses_added and report.testimonies_added
    assert load.check(env, report, dict.fromkeys(seed_ids, 1)) == []


def _import_file(count: int) -> bytes:
    from casebook.cases.demo import synthetic_cases
    from casebook.imports.columns import COLUMNS, case_to_row

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
    writer.writeheader()
    for case in synthetic_cases(count, 21):
        writer.writerow(case_to_row(case))
    return out.getvalue().encode("utf-8")


def _upload(port: int, token: str, data: bytes) -> int:
    boundary = "casebookboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "POST",
        "/api/v1/imports",
        body=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    resp = conn.getresponse()
    resp.read()
    return resp.status


@pytest.mark.parametrize("engine", ENGINES)
def test_server_killed_during_an_import_keeps_nothing_of_it(engine: str, tmp_path: Path) -> None:
    """The server is killed while it holds in the import's second batch (1,000 cases written,
    not committed): a pause point, so the kill lands there on any host."""
    env = load.make_env(tmp_path, PG_URL if engine == "postgresql" else None)
    keys = load.tokens(env)
    pauses = tmp_path / "pauses"
    server = load.Server(
        {**env, **pause_env(pauses, "imports.batch", 2)},
        load.free_port(),
        tmp_path / "server.log",
    )
    server.start()
    data = _import_file(1500)
    outcome: list[object] = []

    def upload() -> None:
        try:
            outcome.append(_upload(server.port, keys["lawyer"], data))
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        wait_reached(pauses, "imports.batch", alive=thread.is_alive)
    finally:
        server.kill9()
    thread.join()
    server.env = env
    assert outcome and not isinstance(outcome[0], int), "the import finished before the kill"
    report = load.Report()
    assert load.check(env, report, {}) == []  # the chain verifies
    os.environ.update(env)
    from sqlalchemy import func, select

    from casebook.cases.models import Case
    from casebook.cli import _make_app

    app = _make_app()
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    db.dispose()
    server.start()  # and the same file imports whole afterwards
    try:
        assert _upload(server.port, keys["lawyer"], data) == 201
    finally:
        server.stop()
    with db.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1500
    db.dispose()
    # the client saw the connection drop, never a server error
    assert isinstance(outcome[0], (OSError, http.client.HTTPException))
