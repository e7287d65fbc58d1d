"""Case records at scale: load rate through the services, the case page over real HTTP next to
a bare route served by the same gunicorn, and name-search latency.

Run: .venv/bin/python -m bench.cases --cases 100000 [--postgres]
Goals: case page >= 20% of the bare route's throughput with p99 <= 50 ms; name search
p95 <= 100 ms; measured at 1,000,000 cases.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text

from bench._instance import throwaway_database

if TYPE_CHECKING:
    from flask import Flask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(env: dict[str, str], count: int, batch_size: int) -> tuple[str, list[str], list[str]]:
    """Create users and `count` cases through case_create_many, in committed batches."""
    os.environ.update(env)
    from casebook.audit.services import Actor
    from casebook.auth.models import User
    from casebook.auth.services import token_issue, user_create
    from casebook.cases.demo import synthetic_cases
    from casebook.cases.services import case_create_many
    from casebook.cli import _make_app
    from casebook.migrate import upgrade

    app = _make_app()
    settings = app.config["CASEBOOK"]
    from crypto import FileKeySource, KeyRing

    FileKeySource(Path(settings.kek_source.removeprefix("file:"))).save(KeyRing.generate())
    upgrade(settings.database_url)
    app.extensions["casebook.vault"].load()
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        lawyer, _ = user_create(
            s,
            Actor.cli(),
            app.extensions["casebook.passwords"],
            email="bench@example.org",
            display_name="bench",
            role="lawyer",
            password="quiet lantern orchard compass",  # noqa: S106 (a throw-away bench account)
        )
        _, token = token_issue(s, Actor.cli(), s.get(User, lawyer.id), 5)  # type: ignore[arg-type]
    ids: list[str] = []
    names: list[str] = []
    cases = synthetic_cases(count, 7)
    start = time.perf_counter()
    done = 0
    while done < count:
        batch = [next(cases) for _ in range(min(batch_size, count - done))]
        with db.sessionmaker() as s, s.begin():
            created = case_create_many(s, Actor.cli(), batch, created_by=None)
        for (case_id, _), data in zip(created, batch, strict=True):
            if len(ids) < 5000:
                ids.append(str(case_id))
                names.append(f"{data['person']['first_name']} {data['person']['family_name']}")
        done += len(batch)
        if done % (batch_size * 20) == 0 or done == count:
            rate = done / (time.perf_counter() - start)
            print(f"  loaded {done:>9,} cases  {rate:,.0f} cases/s", flush=True)
    elapsed = time.perf_counter() - start
    print(
        f"load: {count:,} cases in {elapsed:,.1f} s = {count / elapsed:,.0f} cases/s "
        f"(through case_create_many, batches of {batch_size})"
    )
    db.dispose()
    return token, ids, names


def _loaded_app(env: dict[str, str]) -> Flask:
    """The app of an instance an earlier step made, with its keys loaded."""
    os.environ.update(env)
    from casebook.cli import _make_app

    app = _make_app()
    app.extensions["casebook.vault"].load()
    return app


def reuse(env: dict[str, str]) -> tuple[str, list[str], list[str], int]:
    """A fresh token, a sample of ids and names, and the number of cases, from an instance
    loaded by an earlier run."""
    from sqlalchemy import func, select

    from casebook.audit.services import Actor
    from casebook.auth.services import token_issue, user_by_email
    from casebook.cases.models import Case

    db = _loaded_app(env).extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        user = user_by_email(s, "bench@example.org")
        assert user is not None, "not an instance made by bench.cases"
        _, token = token_issue(s, Actor.cli(), user, 5)
        sample = s.scalars(select(Case).order_by(func.random()).limit(5000)).all()
        ids = [str(c.id) for c in sample]
        names = [
            f"{c.record['person']['first_name']} {c.record['person']['family_name']}"
            for c in sample[:2000]
        ]  # type: ignore[index]
        count = s.scalar(select(func.count()).select_from(Case)) or 0
    db.dispose()
    return token, ids, names, count


def documenter_token(env: dict[str, str], own_cases: int = 300) -> str:
    """A documenter with a few hundred cases of their own among all the others (made on first
    use), and a fresh token: their list must not read every case to find theirs."""
    from sqlalchemy import func, select

    from casebook.audit.services import Actor
    from casebook.auth.services import token_issue, user_by_email, user_create
    from casebook.cases.demo import synthetic_cases
    from casebook.cases.models import Case
    from casebook.cases.services import case_create_many

    app = _loaded_app(env)
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        user = user_by_email(s, "documenter@bench.example.org")
        if user is None:
            user, _ = user_create(
                s,
                Actor.cli(),
                app.extensions["casebook.passwords"],
                email="documenter@bench.example.org",
                display_name="bench documenter",
                role="documenter",
                password="amber kettle meadow lantern",  # noqa: S106 (a throw-away bench account)
            )
        have = s.scalar(select(func.count()).where(Case.created_by == user.id)) or 0
        if have < own_cases:
            cases = synthetic_cases(own_cases - have, 11)
            case_create_many(s, Actor.cli(), list(cases), created_by=user.id)
        _, token = token_issue(s, Actor.cli(), user, 5)
    db.dispose()
    return token


def hammer(
    port: int, paths: list[str], headers: dict[str, str], seconds: float, connections: int
) -> tuple[float, list[float], int]:
    """`connections` keep-alive clients for `seconds`; returns (req/s, latencies, errors)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while time.perf_counter() < stop:
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t0)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - t0), latencies, errors[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds of bare route and case page"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="measure HTTP only, on the folder an earlier run left (with --keep on PostgreSQL)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the PostgreSQL database for a later --reuse (SQLite folders are always kept)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use CASEBOOK_TEST_DATABASE_URL's server (a throw-away database)",
    )
    args = parser.parse_args()
    tmp = args.reuse or Path(tempfile.mkdtemp(prefix="casebook-bench-"))
    env = {
        "CASEBOOK_ENV": "development",
        "CASEBOOK_INSTANCE": str(tmp / "instance"),
        "CASEBOOK_KEK_SOURCE": f"file:{tmp / 'keyring.json'}",
        "CASEBOOK_EXPECTED_CASES": str(max(args.cases, 1000)),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
    }
    saved = tmp / "env.json"
    if args.reuse and saved.exists():
        env = json.loads(saved.read_text())
    elif args.postgres:
        env["DATABASE_URL"] = throwaway_database(
            os.environ["CASEBOOK_TEST_DATABASE_URL"], "cbbench_", keep=args.keep
        )
    saved.write_text(json.dumps(env))
    print(f"server log: {tmp / 'server.log'}")
    postgres = env["DATABASE_URL"].startswith("postgresql")
    if args.reuse:
        token, ids, names, args.cases = reuse(env)
        print(f"engine: {'PostgreSQL' if postgres else 'SQLite'}; cases: {args.cases:,} (reused)")
    else:
        print(f"engine: {'PostgreSQL' if postgres else 'SQLite'}; cases: {args.cases:,}")
        token, ids, names = load(env, args.cases, args.batch)
        if postgres:
            # What autovacuum does within minutes of a bulk load on a running server: set the
            # visibility map and statistics, so the measurement is of the steady state.
            start = time.perf_counter()
            vacuum = create_engine(env["DATABASE_URL"], isolation_level="AUTOCOMMIT")
            with vacuum.connect() as conn:
                conn.execute(text("VACUUM ANALYZE"))
            vacuum.dispose()
            print(f"VACUUM ANALYZE after the load: {time.perf_counter() - start:.0f} s")
    doc_token = documenter_token(env)
    port = _free_port()
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from casebook.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.2)
        if server.poll() is not None:
            raise SystemExit(
                f"the server did not start: {(tmp / 'server.log').read_text()[-500:].strip()}"
            )
        h = {"Authorization": f"Bearer {token}"}
        page_paths = [f"/api/v1/cases/{i}" for i in ids]
        hammer(port, ["/healthz"], {}, 2, args.connections)  # warm up
        hammer(port, page_paths, h, 2, args.connections)
        # Bare route and case page alternate, round after round: a burst of load from
        # elsewhere on this shared host then lands on both sides of some rounds rather than
        # deciding the ratio alone. The median round is the figure; every round is printed.
        rounds = []
        page_lat: list[float] = []
        bare_lat: list[float] = []
        errors = 0
        for _ in range(args.rounds):
            bare_rps, lat_b, err_b = hammer(port, ["/healthz"], {}, args.seconds, args.connections)
            page_rps, lat_p, err_p = hammer(port, page_paths, h, args.seconds, args.connections)
            rounds.append((bare_rps, page_rps))
            bare_lat += lat_b
            page_lat += lat_p
            errors += err_b + err_p
        from urllib.parse import quote

        search_paths = [f"/api/v1/cases?q={quote(n)}&per_page=20" for n in names[:2000]]
        s_rps, s_lat, s_err = hammer(port, search_paths, h, args.seconds, args.connections)
        # The lawyer's list: newest first, the first pages, and filtered by a status (sealed
        # facets, decrypted until the page is full: see selectors._facet_filtered).
        list_paths = [f"/api/v1/cases?page={p}" for p in (1, 2, 3)]
        list_paths += [f"/api/v1/cases?status={st}" for st in ("released", "detained")]
        l_rps, l_lat, l_err = hammer(port, list_paths, h, args.seconds, args.connections)
        d_rps, d_lat, d_err = hammer(
            port, list_paths, {"Authorization": f"Bearer {doc_token}"}, args.seconds, 2
        )
        print(
            f"\nHTTP, gunicorn 2 workers x 4 threads, {args.connections} keep-alive clients, "
            f"{args.rounds} alternating rounds of {args.seconds:.0f} s"
        )
        for n, (bare_rps, page_rps) in enumerate(rounds, 1):
            print(
                f"  round {n}: bare route /healthz {bare_rps:6.0f} req/s   case page "
                f"{page_rps:5.0f} req/s   = {page_rps / bare_rps:.0%} of baseline"
            )
        ratios = sorted(page / bare for bare, page in rounds)
        ratio = statistics.median(ratios)
        bare_rps = statistics.median(b for b, _ in rounds)
        page_rps = statistics.median(p for _, p in rounds)
        print(
            f"  bare route /healthz (baseline)  {bare_rps:8.0f} req/s"
            f"  p50 {pct(bare_lat, 0.5):6.1f} ms  p99 {pct(bare_lat, 0.99):6.1f} ms (median round)"
        )
        print(
            f"  case page (decrypted JSON)       {page_rps:8.0f} req/s"
            f"  p50 {pct(page_lat, 0.5):6.1f} ms  p99 {pct(page_lat, 0.99):6.1f} ms"
            f"   = {ratio:.0%} of baseline (median round; range {ratios[0]:.0%}-{ratios[-1]:.0%})"
        )
        print(
            f"  name search (first + family)     {s_rps:8.0f} req/s  p50 {pct(s_lat, 0.5):6.1f} ms"
            f"  p95 {pct(s_lat, 0.95):6.1f} ms  p99 {pct(s_lat, 0.99):6.1f} ms  errors {s_err}"
        )
        print(
            f"  case list (pages, status filter) {l_rps:8.0f} req/s  p50 {pct(l_lat, 0.5):6.1f} ms"
            f"  p95 {pct(l_lat, 0.95):6.1f} ms  p99 {pct(l_lat, 0.99):6.1f} ms  errors {l_err}"
        )
        print(
            f"  a documenter's list (300 own)    {d_rps:8.0f} req/s  p50 {pct(d_lat, 0.5):6.1f} ms"
            f"  p95 {pct(d_lat, 0.95):6.1f} ms  (2 clients)  errors {d_err}"
        )
        if errors or s_err or l_err or d_err:
            raise SystemExit("requests failed: these figures are not valid (see the server log)")
        print(
            json.dumps(
                {
                    "cases": args.cases,
                    "bare_rps": round(bare_rps),
                    "page_rps": round(page_rps),
                    "page_ratio": round(ratio, 3),
                    "page_ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
                    "page_p99_ms": round(pct(page_lat, 0.99), 1),
                    "search_p95_ms": round(pct(s_lat, 0.95), 1),
                    "list_p95_ms": round(pct(l_lat, 0.95), 1),
                    "documenter_list_p95_ms": round(pct(d_lat, 0.95), 1),
                }
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    main()
