"""Statistics at scale: cutting a release (decrypting every case's facets, counting, the joint
suppression audit), then a two-way table of the release cold (read from the database) and
cached, next to a plaintext SQL GROUP BY over the same rows in the same run (the baseline).

Rows are bulk-written with real encryption of the facets (what statistics read), not through
case_create, so that a million rows load in minutes; bench/cases.py measures case_create.

Then, with --releases N, the caseload changes as work does between releases (--changes new
cases, and a tenth as many existing cases verified) and a release is cut again, N times in all:
every cut after the first protects its tables against each earlier release as well, so its
time grows with the releases before it.

Run: .venv/bin/python -m bench.stats --cases 100000 [--verified 0.4] [--releases 3] [--postgres]
Goal: a table of a release cold <= 2 s, cached <= 100 ms at 100,000 cases.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bench._instance import throwaway_database
from bench._timing import row
from casebook.audit.services import Actor
from casebook.cases.demo import synthetic_case
from casebook.cases.derived import facets as facets_of
from casebook.db import make_engine
from casebook.encrypted import Vault
from casebook.migrate import upgrade
from casebook.stats.services import (
    ReleaseRefusedError,
    TableCache,
    release_create,
    stats_table,
)
from crypto import FieldCipher, FileKeySource, KeyRing, associated_data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--by", default="arrest_year,governorate")
    parser.add_argument("--verified", type=float, default=0.4, help="share of verified cases")
    parser.add_argument("--releases", type=int, default=2, help="releases to cut, one by one")
    parser.add_argument("--changes", type=int, default=50, help="cases added between releases")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use CASEBOOK_TEST_DATABASE_URL's server (a throw-away database)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="casebook-stats-"))
    url = f"sqlite:///{tmp / 'stats.sqlite3'}"
    if args.postgres:
        url = throwaway_database(os.environ["CASEBOOK_TEST_DATABASE_URL"], "cbstats_")
    _run(args, tmp, url)


_PROGRAMS = [0]


def _count_programs() -> None:
    """Count the linear programs the audits solve: a figure the host's load does not move."""
    from casebook.stats import protect

    solve = protect._Components.extreme

    def counted(self: protect._Components, *args: Any, **kwargs: Any) -> float:
        _PROGRAMS[0] += 1
        return solve(self, *args, **kwargs)

    protect._Components.extreme = counted  # type: ignore[method-assign]


def _run(args: argparse.Namespace, tmp: Path, url: str) -> None:
    _count_programs()
    upgrade(url)
    source = FileKeySource(tmp / "keyring.json")
    source.save(KeyRing.generate())
    vault = Vault(source, max(args.cases, 1000))
    vault.load()
    engine = make_engine(url)
    cipher = vault.system_cipher("facets")
    rng = random.Random(3)
    templates = [facets_of(d, d["consent"]) for d in (synthetic_case(rng) for _ in range(5000))]
    now = datetime.now(UTC).replace(tzinfo=None)
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE plain_facets (arrest_year INT, governorate TEXT, consent INT)"
        )
        _insert(conn, cipher, templates, 0, args.cases, args.verified, rng, now)
    print(f"wrote {args.cases:,} rows with encrypted facets in {time.perf_counter() - start:.1f} s")

    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT governorate, arrest_year, count(*) FROM plain_facets "
            "WHERE consent = 1 GROUP BY 1, 2"
        ).all()
    baseline = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Session(engine, info={"vault": vault}) as s, s.begin():
        made = release_create(s, vault, Actor.cli(), k=11, min_changes=1)
        number = made.number
    cut = time.perf_counter() - t0
    programs = [_PROGRAMS[0]]
    print(
        f"cut release 1 in {cut:.1f} s, {programs[0]:,} linear programs "
        f"({args.cases:,} cases, {args.verified:.0%} verified)",
        flush=True,
    )
    written = args.cases
    for _ in range(args.releases - 1):
        with engine.begin() as conn:
            _insert(conn, cipher, templates, written, args.changes, args.verified, rng, now)
            written += args.changes
            ids = [
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM cases WHERE verification = 'unverified' LIMIT :n"),
                    {"n": max(1, args.changes // 10)},
                )
            ]
            conn.execute(
                text("UPDATE cases SET verification = 'verified' WHERE id = :id"),
                [{"id": i} for i in ids],
            )
        t0 = time.perf_counter()
        try:
            with Session(engine, info={"vault": vault}) as s, s.begin():
                number = release_create(s, vault, Actor.cli(), k=11, min_changes=1).number
        except ReleaseRefusedError as exc:
            refused = f"cut release {len(programs) + 1} refused after "
            print(f"{refused}{time.perf_counter() - t0:.1f} s: {exc}", flush=True)
            raise SystemExit(1) from None
        programs.append(_PROGRAMS[0] - sum(programs))
        print(
            f"cut release {len(programs)} in {time.perf_counter() - t0:.1f} s, "
            f"{programs[-1]:,} linear programs ({args.changes} cases added, "
            f"{max(1, args.changes // 10)} verified since; protected against "
            f"{len(programs) - 1} earlier)",
            flush=True,
        )
    dims = tuple(args.by.split(","))
    cache = TableCache()
    timings = []
    for label in ("cold", "cached", "cached"):
        t0 = time.perf_counter()
        with Session(engine, info={"vault": vault}) as s, s.begin():
            from casebook.stats.services import release_get

            found = release_get(s, number)
            assert found is not None
            release = stats_table(
                s,
                vault,
                Actor.cli(),
                cache,
                release=found,
                dimensions=dims,
                k=11,
                verified_only=False,
                grouped=False,
                export_format="bench",
            )
        timings.append((label, time.perf_counter() - t0))
    print(
        f"\ntwo-way table {' x '.join(dims)} ({len(release.rows)} x {len(release.cols)} cells), "
        f"{args.cases:,} cases, {engine.dialect.name}"
    )
    print(row("  plaintext SQL GROUP BY (baseline)", baseline, unit="s"))
    for label, seconds in timings:
        print(row(f"  release table {label}", seconds, baseline, "s" if label == "cold" else "ms"))
    print(f"  total published: {release.total}")
    with Session(engine, info={"vault": vault}) as s, s.begin():
        found = release_get(s, number)
        assert found is not None
        verified = stats_table(
            s,
            vault,
            Actor.cli(),
            cache,
            release=found,
            dimensions=dims,
            k=11,
            verified_only=True,
            grouped=False,
            export_format="bench",
        )
    shown = verified.total if verified.total is not None else verified.total_range
    print(f"  verified total published: {shown}")
    engine.dispose()


def _insert(
    conn: Connection,
    cipher: FieldCipher,
    templates: list[dict[str, Any]],
    first: int,
    count: int,
    verified_share: float,
    rng: random.Random,
    now: datetime,
) -> None:
    """Write `count` cases with encrypted facets (and their plaintext twins for the baseline)."""
    batch, plain = [], []
    for i in range(first, first + count):
        cid = uuid.uuid4()
        f = templates[i % len(templates)]
        blob = cipher.encrypt(
            json.dumps(f).encode(), associated_data("cases", "facets_enc", str(cid), 1)
        )
        batch.append(
            {
                "id": cid.hex,
                "reference": f"CB-B-{i:09d}",
                "created_at": now,
                "updated_at": now,
                "verification": "verified" if rng.random() < verified_share else "unverified",
                "facets_enc": blob,
            }
        )
        plain.append(
            {"y": f["arrest_year"], "g": f["governorate"], "c": int(f["statistics_consent"])}
        )
        if len(batch) == 20_000 or i == first + count - 1:
            conn.execute(
                text(
                    "INSERT INTO cases (id, reference, created_at, updated_at, "
                    "verification, facets_enc) VALUES (:id, :reference, "
                    ":created_at, :updated_at, :verification, :facets_enc)"
                ),
                batch,
            )
            conn.execute(text("INSERT INTO plain_facets VALUES (:y, :g, :c)"), plain)
            batch, plain = [], []


if __name__ == "__main__":
    main()
