"""Mixed reads and writes against `casebook serve` on 127.0.0.1, with faults.

16 keep-alive clients (by default) for a set time: case pages, case lists, new cases, status
changes and testimonies, each with a lawyer's or a documenter's token; half of the lawyers'
status changes go to three shared cases, so that simultaneous changes of one case happen.
Every acknowledged write is remembered; afterwards each must be there. With --kill-at S the
whole server (master and workers) gets SIGKILL S seconds in and is started again; clients keep
going (their requests fail while it is down and are not counted as acknowledged). The audit
chain must verify at the end. Exit status 1 on any lost write, any 5xx, or a broken chain.

Run: .venv/bin/python -m bench.load --seconds 600 [--connections 16] [--kill-at 120] [--postgres]
The test suite runs a short version (tests/load/test_load.py).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._instance import throwaway_database

CLI = [sys.executable, "-c", "from casebook.cli import main; main()"]
HOT_CASES = 3  # seeded cases that half of the lawyers' status changes go to


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_env(root: Path, postgres_url: str | None) -> dict[str, str]:
    """A fresh instance (SQLite in `root`, or a new database on the given server)."""
    env = {
        **os.environ,
        "CASEBOOK_ENV": "development",
        "CASEBOOK_INSTANCE": str(root / "instance"),
        "CASEBOOK_KEK_SOURCE": f"file:{root / 'instance' / 'keyring.json'}",
        "DATABASE_URL": f"sqlite:///{root / 'instance' / 'casebook.sqlite3'}",
    }
    if postgres_url:
        env["DATABASE_URL"] = throwaway_database(postgres_url, "cbload_")
    subprocess.run([*CLI, "init"], env=env, check=True, capture_output=True)
    return env


def tokens(env: dict[str, str]) -> dict[str, str]:
    """A lawyer and a documenter with API tokens (made with the CLI, as an operator would)."""
    out = {}
    for role in ("lawyer", "documenter"):
        email = f"load-{role}@example.org"
        subprocess.run(
            [*CLI, "user", "create", email, "--role", role, "--password-stdin"],
            env=env,
            input="load test passphrase 2026",
            text=True,
            check=True,
            capture_output=True,
        )
        done = subprocess.run(
            [*CLI, "user", "token", email], env=env, text=True, check=True, capture_output=True
        )
        out[role] = done.stdout.strip().splitlines()[-1]
    return out


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [*CLI, "serve", "--port", str(self.port), "--workers", "2", "--threads", "8"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the workers too
            )
        deadline = time.monotonic() + 120  # a busy host can take many seconds to fork workers
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the server did not start (see {self.log})")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@dataclass
class Report:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    refused_while_down: int = 0
    created: dict[str, str] = field(default_factory=dict)  # case id -> owner role
    statuses_added: Counter[str] = field(default_factory=Counter)  # case id -> count
    testimonies_added: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(v for k, v in self.statuses.items() if k >= 500)


def _case(rng: random.Random) -> dict[str, Any]:
    from casebook.cases.demo import synthetic_case

    return synthetic_case(rng)


def run_load(
    port: int,
    keys: dict[str, str],
    seconds: float,
    connections: int,
    seed_ids: list[str],
    report: Report | None = None,
    done: threading.Event | None = None,
) -> Report:
    """`connections` clients for `seconds`, or (given `done`) until `done` is set, with
    `seconds` as the bound; `report` fills as answers arrive, for a watcher in another thread."""
    report = report if report is not None else Report()
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    known: list[tuple[str, str]] = [(i, "lawyer") for i in seed_ids]
    hot = seed_ids[:HOT_CASES]

    def worker(n: int) -> None:
        rng = random.Random(n)
        role = "lawyer" if n % 2 == 0 else "documenter"
        headers = {"Authorization": f"Bearer {keys[role]}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < stop and not (done is not None and done.is_set()):
            with lock:
                mine = [cid for cid, owner in known if role == "lawyer" or owner == role]
            roll = rng.random()
            body: bytes | None = None
            if roll < 0.35 and mine:
                method, path, kind = "GET", f"/api/v1/cases/{rng.choice(mine)}", "read"
            elif roll < 0.55:
                method, path, kind = "GET", "/api/v1/cases?status=detained&per_page=20", "list"
            elif roll < 0.80:
                method, path, kind = "POST", "/api/v1/cases", "create"
                body = json.dumps(_case(rng), ensure_ascii=False).encode()
            elif roll < 0.92 and mine:
                # half the status changes go to a few shared cases, so that writers of one case
                # do meet (a change lost to a simultaneous one shows as a missing entry)
                shared = hot and role == "lawyer" and rng.random() < 0.5
                case_id = rng.choice(hot if shared else mine)
                method, path, kind = "POST", f"/api/v1/cases/{case_id}/status", "status"
                body = json.dumps({"status": "detained", "date": "2024", "source": "load"}).encode()
            elif mine:
                case_id = rng.choice(mine)
                method, path, kind = "POST", f"/api/v1/cases/{case_id}/testimonies", "testimony"
                body = json.dumps({"text": "شهادة إضافية", "language": "ar"}).encode()
            else:
                continue
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    report.refused_while_down += 1
                time.sleep(0.05)
                continue
            with lock:
                report.requests += 1
                report.statuses[resp.status] += 1
                report.latencies.append(time.perf_counter() - t0)
                if kind == "create" and resp.status == 201:
                    new_id = json.loads(payload)["id"]
                    report.created[new_id] = role
                    known.append((new_id, role))
                elif kind == "status" and resp.status in (200, 201):
                    report.statuses_added[path.split("/")[4]] += 1
                elif kind == "testimony" and resp.status in (200, 201):
                    report.testimonies_added[path.split("/")[4]] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return report


def check(env: dict[str, str], report: Report, initial_status: dict[str, int]) -> list[str]:
    """Every acknowledged write is in the database; the audit chain verifies."""
    os.environ.update(env)
    from casebook.cli import _make_app

    app = _make_app()
    app.extensions["casebook.vault"].load()
    db = app.extensions["casebook.db"]
    problems: list[str] = []
    from casebook.cases.models import Case, Testimony

    with db.sessionmaker() as s:
        for case_id in report.created:
            if s.get(Case, uuid.UUID(case_id)) is None:
                problems.append(f"acknowledged case {case_id} is missing")
        for case_id, added in report.statuses_added.items():
            case = s.get(Case, uuid.UUID(case_id))
            have = len((case.record or {}).get("status") or []) if case else 0
            want = initial_status.get(case_id, 1 if case_id not in report.created else 0) + added
            if have < want:
                problems.append(f"case {case_id}: {have} status entries, expected >= {want}")
        from sqlalchemy import func, select

        for case_id, added in report.testimonies_added.items():
            have = (
                s.scalar(select(func.count()).where(Testimony.case_id == uuid.UUID(case_id))) or 0
            )
            if have < added:
                problems.append(f"case {case_id}: {have} testimonies, expected >= {added}")
    db.dispose()
    verify = subprocess.run([*CLI, "audit", "verify"], env=env, capture_output=True, text=True)
    if verify.returncode != 0:
        problems.append("audit chain: " + verify.stderr.strip()[-300:])
    if report.server_errors:
        problems.append(f"{report.server_errors} server errors")
    return problems


def seed(port: int, keys: dict[str, str], count: int) -> list[str]:
    rng = random.Random(99)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids = []
    for _ in range(count):
        conn.request(
            "POST",
            "/api/v1/cases",
            body=json.dumps(_case(rng), ensure_ascii=False).encode(),
            headers={
                "Authorization": f"Bearer {keys['lawyer']}",
                "Content-Type": "application/json",
            },
        )
        resp = conn.getresponse()
        ids.append(json.loads(resp.read())["id"])
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--kill-at", type=float, default=None, help="SIGKILL the server then")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="cb-load-"))
    env = make_env(root, os.environ["CASEBOOK_TEST_DATABASE_URL"] if args.postgres else None)
    keys = tokens(env)
    server = Server(env, free_port(), root / "server.log")
    server.start()
    try:
        seed_ids = seed(server.port, keys, 50)
        killer = None
        if args.kill_at is not None:

            def kill_and_restart() -> None:
                time.sleep(args.kill_at)
                server.kill9()
                print(
                    f"  server killed with SIGKILL at {args.kill_at:.0f} s; restarting", flush=True
                )
                server.start()

            killer = threading.Thread(target=kill_and_restart)
            killer.start()
        start = time.perf_counter()
        report = run_load(server.port, keys, args.seconds, args.connections, seed_ids)
        took = time.perf_counter() - start
        if killer:
            killer.join()
    finally:
        server.stop()
    problems = check(env, report, dict.fromkeys(seed_ids, 1))
    lat = sorted(report.latencies) or [0.0]
    print(
        f"{'PostgreSQL' if args.postgres else 'SQLite'}: {args.connections} connections, "
        f"{took:.0f} s: {report.requests:,} requests ({report.requests / took:,.0f}/s), "
        f"p50 {lat[len(lat) // 2] * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms; "
        f"statuses {dict(sorted(report.statuses.items()))}; "
        f"refused while down {report.refused_while_down}; "
        f"acknowledged: {len(report.created):,} cases, {sum(report.statuses_added.values()):,} "
        f"status changes, {sum(report.testimonies_added.values()):,} testimonies"
    )
    for problem in problems:
        print("PROBLEM:", problem)
    print("all acknowledged writes present; audit chain intact" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
