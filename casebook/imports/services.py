"""Bulk import: every row validated with the case rules, all or nothing by default.

The cases of a run are written inside a savepoint in batches through the same write path as
the API (case_insert_validated): one data key per case, one audit entry per case naming the run
and the row. If any row is refused (and --skip-invalid was not given), or the process dies,
nothing of the cases is kept; the run itself and its audit entry are still recorded.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.cases.records import CaseIn
from casebook.cases.services import case_insert_validated, case_validate
from casebook.encrypted import Vault, encode_json
from casebook.imports.columns import column_of
from casebook.imports.models import ImportFingerprint, ImportRun
from casebook.imports.reader import ImportFileError, Row, read_rows
from casebook.pausepoints import pause_point
from casebook.spreadsheet import csv_text

BATCH = 500
MAX_REPORTED = 10_000  # rows listed in a report; the counts stay exact beyond it


@dataclass
class ImportResult:
    run_id: uuid.UUID
    kind: str
    encoding: str | None
    dry_run: bool
    outcome: str  # imported | refused | checked (dry run)
    rows: int = 0
    imported: int = 0
    already: int = 0
    rejected: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason)
    already_rows: list[int] = field(default_factory=list)
    # rows that repeat an earlier row of the same file: (row, the earlier row); also counted
    # in `already` and `already_rows`
    repeats: list[tuple[int, int]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)

    @property
    def imported_before(self) -> list[int]:
        """Rows skipped because an earlier import already brought their case in."""
        repeated = {row for row, _ in self.repeats}
        return [n for n in self.already_rows if n not in repeated]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.run_id),
            "kind": self.kind,
            "encoding": self.encoding,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "rows": self.rows,
            "imported": self.imported,
            "already_imported": self.already,
            "rejected": self.rejected,
            "problems": [{"row": r, "field": f, "reason": m} for r, f, m in self.problems],
            "already_imported_rows": self.already_rows,
            "repeated_rows": [{"row": r, "same_as": e} for r, e in self.repeats],
        }


def report_csv(
    problems: list[tuple[int, str, str]] | list[list[Any]],
    header: tuple[str, str, str] = ("row", "field", "reason"),
) -> str:
    """The rejected rows as CSV: row, field, reason. Never a cell's value."""
    return csv_text([list(header), *([r, c, m] for r, c, m in problems)])


def _fingerprint(vault: Vault, clean: CaseIn) -> str:
    """The same case, from the same or another file, has the same fingerprint."""
    return vault.keyed_hash("import-case", encode_json(clean).decode())


class _Writer:
    """Collects validated rows and writes them in batches, skipping already-imported ones."""

    def __init__(
        self, session: Session, actor: Actor, run: ImportRun, created_by: uuid.UUID | None
    ) -> None:
        self.session = session
        self.actor = actor
        self.run = run
        self.created_by = created_by
        self.vault: Vault = session.info["vault"]
        self.pending: list[tuple[int, CaseIn, str]] = []
        self.seen: dict[str, int] = {}  # fingerprint -> the first row of this file
        self.writing = True

    def add(self, result: ImportResult, number: int, clean: CaseIn) -> None:
        value = _fingerprint(self.vault, clean)
        if value in self.seen:
            result.already += 1
            result.already_rows.append(number)
            result.repeats.append((number, self.seen[value]))
            return
        self.seen[value] = number
        self.pending.append((number, clean, value))
        if len(self.pending) >= BATCH:
            self.flush(result)

    def flush(self, result: ImportResult) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        # only the caller's own imports: whether anyone else brought in the same case is not
        # theirs to learn (the command line, created_by NULL, sees only its own as well)
        mine = (
            ImportFingerprint.created_by.is_(None)
            if self.created_by is None
            else ImportFingerprint.created_by == self.created_by
        )
        known = set(
            self.session.scalars(
                select(ImportFingerprint.value).where(
                    mine, ImportFingerprint.value.in_([v for _, _, v in batch])
                )
            )
        )
        fresh = []
        for number, clean, value in batch:
            if value in known:
                result.already += 1
                result.already_rows.append(number)
            else:
                fresh.append((number, clean, value))
        result.imported += len(fresh)  # or would be, on a dry run; zeroed if refused
        if not self.writing or not fresh:
            return
        created = case_insert_validated(
            self.session,
            self.actor,
            [clean for _, clean, _ in fresh],
            created_by=self.created_by,
            action="case.import",
            details=[{"import": str(self.run.id), "row": n} for n, _, _ in fresh],
        )
        self.session.execute(
            ImportFingerprint.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "value": value,
                    "case_id": case_id,
                    "run_id": self.run.id,
                    "created_by": self.created_by,
                }
                for (_, _, value), (case_id, _) in zip(fresh, created, strict=True)
            ],
        )
        result.references += [reference for _, reference in created]
        pause_point("imports.batch")


def import_file(
    session: Session,
    actor: Actor,
    data: bytes,
    filename: str,
    *,
    created_by: uuid.UUID | None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> ImportResult:
    """Import a CSV, XLSX or JSON-lines file. Raises ImportFileError when the file as a whole
    cannot be read; otherwise returns what happened, row by row for the refused rows."""
    kind, encoding, rows = read_rows(data, filename)
    run = ImportRun(id=uuid.uuid4(), created_by=created_by, kind=kind, dry_run=dry_run, outcome="")
    result = ImportResult(run.id, kind, encoding, dry_run, outcome="checked")
    writer = _Writer(session, actor, run, created_by)
    writer.writing = not dry_run
    session.flush()
    savepoint = session.begin_nested()
    try:
        for checked in _checked(rows, workers):
            for number, clean, problems in checked:
                _take(result, writer, number, clean, problems, skip_invalid)
            if progress is not None:
                progress(len(checked))
        writer.flush(result)
    except BaseException:  # a file error midway, or anything else: no case is kept
        savepoint.rollback()
        raise
    refused = result.rejected > 0 and not skip_invalid
    if dry_run or refused:
        savepoint.rollback()
        result.references = []
    else:
        savepoint.commit()
    if refused and not dry_run:  # a dry run still says how many rows are ready
        result.imported = 0
    result.outcome = "checked" if dry_run else ("refused" if refused else "imported")
    session.add(run)
    run.outcome = result.outcome
    run.rows, run.imported, run.already, run.rejected = (
        result.rows,
        result.imported,
        result.already,
        result.rejected,
    )
    run.report = [list(p) for p in result.problems]
    audit_record(
        session,
        actor,
        "import.run",
        object_type="import",
        object_id=run.id,
        details={
            "kind": kind,
            "dry_run": dry_run,
            "skip_invalid": skip_invalid,
            "outcome": result.outcome,
            "rows": result.rows,
            "imported": result.imported,
            "already_imported": result.already,
            "rejected": result.rejected,
        },
    )
    return result


Checked = list[tuple[int, CaseIn | None, dict[str, list[str]]]]
CHUNK = 500


def check_rows(rows: list[Row]) -> Checked:
    """Rows to validated cases or their problems: the costly half of an import (marshmallow),
    free of any database or key, so that it can run in worker processes."""
    out: Checked = []
    for row in rows:
        if row.problems:
            out.append((row.number, None, row.problems))
            continue
        clean, problems = case_validate(row.case_object())
        out.append((row.number, clean, problems))
    return out


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the importing process is gone. Pool workers otherwise
    outlive a parent killed with SIGKILL (each holds its task queue's write end, so it never
    sees end-of-file) and would sit idle forever with the last rows they validated in memory."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="casebook-parent-watch", daemon=True).start()


def _chunks(rows: Iterator[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _checked(rows: Iterator[Row], workers: int) -> Iterator[Checked]:
    """Checked chunks in file order. With workers > 1 (the CLI on a large file) validation runs
    in that many spawned processes while this one encrypts and writes; rows travel through
    pipes, never files. Web requests validate in-process (no processes forked from a server)."""
    if workers <= 1:
        for chunk in _chunks(rows):
            yield check_rows(chunk)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        pending: deque[Future[Checked]] = deque()
        for chunk in _chunks(rows):
            pending.append(pool.submit(check_rows, chunk))
            if len(pending) >= 2 * workers:  # a bounded window: memory stays flat
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _take(
    result: ImportResult,
    writer: _Writer,
    number: int,
    clean: CaseIn | None,
    problems: dict[str, list[str]],
    skip_invalid: bool,
) -> None:
    result.rows += 1
    if problems or clean is None:
        result.rejected += 1
        if not skip_invalid:
            writer.writing = False  # keep checking, to report every row; write nothing more
        if len(result.problems) < MAX_REPORTED:
            for path, messages in sorted(problems.items()):
                for message in messages:
                    result.problems.append((number, column_of(path), message))
        return
    writer.add(result, number, clean)


__all__ = ["ImportFileError", "ImportResult", "import_file", "report_csv"]


def fingerprints_drop_for_case(session: Session, *, case_id: uuid.UUID, **_: object) -> None:
    """On `case_erased`: the case's import fingerprints go, so no dry run can tell that an
    identical case existed."""
    session.execute(delete(ImportFingerprint).where(ImportFingerprint.case_id == case_id))
