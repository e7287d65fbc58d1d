"""Bulk import rate: `import_file` on a CSV of synthetic cases, next to a baseline in the same
run that parses the same CSV and inserts each row as plaintext JSON in one transaction (what a
tool with no validation, encryption, blind indexes or audit would do).

Run: .venv/bin/python -m bench.imports --cases 20000 [--postgres]
Goal: >= 2,000 cases/s on this machine.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import sys
import time

from sqlalchemy import text


def make_csv(count: int, seed: int) -> bytes:
    from casebook.cases.demo import synthetic_cases
    from casebook.imports.columns import COLUMNS, case_to_row

    out = io.BytesIO()
    # Encoded as written: a StringIO of a million rows would hold 4 bytes per character.
    stream = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.DictWriter(stream, fieldnames=list(COLUMNS))
    writer.writeheader()
    for case in synthetic_cases(count, seed):
        writer.writerow(case_to_row(case))
    stream.flush()
    return out.getvalue()


def baseline_insert(conn: object, data: bytes) -> None:
    """Parse the CSV and insert each row as plaintext JSON, in batches (nothing kept)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    insert = text("INSERT INTO bench_plain (id, body) VALUES (:id, :body)")
    batch: list[dict[str, object]] = []
    for i, row in enumerate(csv.DictReader(stream)):
        batch.append({"id": i, "body": json.dumps(row, ensure_ascii=False)})
        if len(batch) == 10_000:
            conn.execute(insert, batch)  # type: ignore[attr-defined]
            batch = []
    if batch:
        conn.execute(insert, batch)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    from bench._instance import fresh_instance
    from casebook.audit.services import Actor
    from casebook.imports.services import import_file

    app, db = fresh_instance("cb-bench-import-", args.cases, args.postgres)
    data = make_csv(args.cases, 11)
    print(f"engine: {db.engine.dialect.name}; {args.cases} cases, CSV {len(data) / 1e6:.1f} MB")

    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, body TEXT)"))
    start = time.perf_counter()
    with db.engine.begin() as conn:
        baseline_insert(conn, data)
    baseline = time.perf_counter() - start
    before_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    start = time.perf_counter()
    with app.app_context(), db.sessionmaker() as s, s.begin():
        result = import_file(
            s, Actor.cli(), data, "bench.csv", created_by=None, workers=os.cpu_count() or 1
        )
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert result.imported == args.cases, result.as_json()["problems"][:5]

    start = time.perf_counter()
    with app.app_context(), db.sessionmaker() as s, s.begin():
        again = import_file(s, Actor.cli(), data, "bench.csv", created_by=None)
    repeat = time.perf_counter() - start
    assert again.imported == 0
    assert again.already == args.cases

    print(f"baseline (parse + plaintext insert): {args.cases / baseline:10,.0f} rows/s")
    print(
        f"casebook import:                     {args.cases / took:10,.0f} cases/s "
        f"({took:.1f} s; {baseline / took:.0%} of baseline)"
    )
    print(
        f"re-import of the same file:          {args.cases / repeat:10,.0f} rows/s "
        f"(0 created, {again.already} already imported)"
    )
    print(
        f"peak memory of the importing process: {peak:,.0f} MB "
        f"({before_import:,.0f} MB before the import; the file is {len(data) / 1e6:,.0f} MB)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
