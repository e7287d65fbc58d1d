"""Bulk import as documenters, lawyers and operators use it: files from real spreadsheets,
every kind of bad row, all-or-nothing, re-imports, and the upload page."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor
from casebook.audit.verify import verify_chain
from casebook.cases.models import Case
from casebook.config import Settings
from casebook.imports import services as import_services
from casebook.imports.columns import COLUMNS, case_to_row
from casebook.imports.models import ImportRun
from casebook.imports.services import ImportFileError, import_file
from tests.conftest import (
    CANARY_ARABIC,
    CANARY_LATIN,
    bearer,
    cli_env,
    csrf_from,
    login,
    make_user,
    minimal_case,
)

ARABIC_HEADERS = [
    "الاسم الأول",
    "اسم الأب",
    "الكنية",
    "اسم الأم",
    "الجنس",
    "تاريخ الميلاد",
    "تاريخ الاعتقال",
    "المحافظة",
    "مكان الاعتقال",
    "الجهة المسؤولة",
    "الحالة",
    "تاريخ الحالة",
    "اسم المبلغ",
    "صلة القرابة",
    "موافقة التوثيق",
    "تاريخ موافقة التوثيق",
    "الشهادة",
]
ARABIC_ROWS = [
    [
        "أحمد",
        "محمود",
        "الحلبي",
        "فاطمة",
        "ذكر",
        "1985",
        "2013-05",
        "حلب",
        "حي الشعار",
        "المخابرات الجوية",
        "مختفٍ قسرياً",
        "2013-05",
        "أم أحمد",
        "أم",
        "نعم",
        "2024-05-01",
        "اعتقل من الحاجز",
    ],
    [
        "مريم",
        "خالد",
        "العلي",
        "سعاد",
        "أنثى",
        "14/03/1990",
        "2014",
        "Homs",
        "",
        "",
        "Detained",
        "",
        "",
        "أخ",
        "yes",
        "01/05/2024",
        "",
    ],
]


def _csv(headers: list[str], rows: list[list[Any]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def _import(app: Flask, data: bytes, name: str = "cases.csv", **kwargs: Any) -> Any:
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        return import_file(s, Actor.cli(), data, name, created_by=None, **kwargs)


def _cases(app: Flask) -> list[dict[str, Any]]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [c.record for c in s.scalars(select(Case).order_by(Case.reference))]  # type: ignore[misc]


def _count(app: Flask) -> int:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1256"])
def test_arabic_headers_and_labels_in_every_encoding_excel_writes(
    app: Flask, encoding: str
) -> None:
    result = _import(app, _csv(ARABIC_HEADERS, ARABIC_ROWS, encoding))
    assert (result.outcome, result.imported, result.rejected) == ("imported", 2, 0)
    assert result.encoding == ("windows-1256" if encoding == "cp1256" else "utf-8")
    first, second = _cases(app)
    assert first["person"]["first_name"] == "أحمد"  # decoded right, not mojibake
    assert first["arrests"][0]["governorate"] == "aleppo"
    assert first["arrests"][0]["perpetrator"] == "regime.air_force_intelligence"
    assert first["status"][0]["status"] == "forcibly_disappeared"
    assert second["person"]["sex"] == "female"
    assert second["person"]["birth_date"] == "1990-03-14"  # d/m/yyyy as Syrian offices write
    assert second["arrests"][0]["governorate"] == "homs"
    assert second["status"][0]["status"] == "detained"


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Rural Damascus", "rif_dimashq"),
        ("Damascus Countryside", "rif_dimashq"),
        ("rif dimashq", "rif_dimashq"),
        ("ريف دمشق", "rif_dimashq"),
        ("Deir al-Zour", "deir_ez_zor"),
        ("Al-Hasakah", "hasakah"),
        ("Sweida", "suwayda"),
        ("Lattakia", "latakia"),
        ("Idleb", "idlib"),
        ("حماه", "hama"),
        ("الرقه", "raqqa"),
    ],
)
def test_a_governorate_is_read_in_the_names_other_lists_use(
    app: Flask, written: str, code: str
) -> None:
    """Spreadsheets from UN bodies and other organisations write Rural Damascus, not Rif
    Dimashq: a whole file was refused over it (every row "choose one of the listed values")."""
    rows = [["أحمد", "الحلبي", "2013", written, "yes", "2024-05-01"]]
    headers = ["الاسم الأول", "الكنية", "تاريخ الاعتقال", "المحافظة", "موافقة التوثيق"]
    headers.append("تاريخ موافقة التوثيق")
    result = _import(app, _csv(headers, rows))
    assert (result.outcome, result.imported, result.rejected) == ("imported", 1, 0), result
    assert _cases(app)[0]["arrests"][0]["governorate"] == code


def test_rows_with_an_empty_family_name_are_imported_and_a_missing_column_is_refused(
    app: Flask,
) -> None:
    """Lists from other organisations often give no family name (a three-part name instead):
    the rows are cases like any other, the family name absent, not a word standing for it. The
    column itself must be there: without it, a file with one "name" column of whole names would
    be read as first names."""
    headers = ["الاسم الأول", "اسم الأب", "اسم الجد", "الكنية", "موافقة التوثيق"]
    headers.append("تاريخ موافقة التوثيق")
    rows = [["أحمد", "محمود", "علي", "", "yes", "2024-05-01"]]
    rows.append(["سارة", "خالد", "", "الخطيب", "yes", "2024-05-01"])
    result = _import(app, _csv(headers, rows))
    assert (result.outcome, result.imported, result.rejected) == ("imported", 2, 0), result
    first, second = _cases(app)
    assert "family_name" not in first["person"] and first["person"]["grandfather_name"] == "علي"
    assert second["person"]["family_name"] == "الخطيب"
    without = [h for h in headers if h != "الكنية"]
    with pytest.raises(ImportFileError, match=r"person\.family_name"):
        _import(app, _csv(without, [r[:3] + r[4:] for r in rows]))
    assert _count(app) == 2


def test_canonical_columns_round_trip_a_whole_row(app: Flask) -> None:
    case = minimal_case(latin_name="Ahmad Al-Halabi", national_id="01020304")
    case["testimonies"] = [{"text": "اعتقل من الحاجز", "date": "2024-05-01", "language": "ar"}]
    row = case_to_row(case)
    data = _csv(list(COLUMNS), [[row.get(c, "") for c in COLUMNS]])
    result = _import(app, data)
    assert result.imported == 1, result.problems
    (stored,) = _cases(app)
    assert stored["person"]["national_id"] == "01020304"
    assert stored["arrests"] == case["arrests"]


def test_xlsx_with_date_cells_and_year_numbers(app: Flask) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(
        [
            "first name",
            "Father's name",
            "Family Name",
            "Date of birth",
            "Date of arrest",
            "Governorate",
            "Consent documentation",
            "Consent date documentation",
        ]
    )
    sheet.append(
        ["Ahmad", "Mahmoud", "Halabi", 1985, datetime(2013, 5, 2), "aleppo", True, date(2024, 5, 1)]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    result = _import(app, buffer.getvalue(), "list.xlsx")
    assert result.kind == "xlsx" and result.imported == 1, result.problems
    (stored,) = _cases(app)
    assert stored["person"]["birth_date"] == "1985"
    assert stored["arrests"][0]["date"] == "2013-05-02"


def test_json_lines_take_api_case_objects(app: Flask) -> None:
    lines = [json.dumps(minimal_case(first_name=n), ensure_ascii=False) for n in ("أحمد", "علي")]
    result = _import(app, ("\n".join(lines) + "\n\n").encode(), "cases.jsonl")
    assert (result.kind, result.imported) == ("jsonl", 2)


BAD_ROWS = [
    # (row, expected field, case) — each breaks one rule
    ("person.first_name", {"person.first_name": ""}),
    ("person.birth_date", {"person.birth_date": "2099"}),
    ("arrest.date", {"person.birth_date": "1990", "arrest.date": "1980"}),
    ("arrest.governorate", {"arrest.governorate": "atlantis"}),
    ("consent.documentation", {"consent.documentation": "no"}),
    ("person.sex", {"person.sex": "maybe"}),
    ("status", {"status": "vanished"}),
    ("status_date", {"arrest.date": "2014", "status": "detained", "status_date": "2012-06"}),
]


def _good_row() -> dict[str, Any]:
    return case_to_row(minimal_case())


def test_every_bad_row_is_reported_and_nothing_is_stored(app: Flask) -> None:
    rows = [_good_row()]
    for _, change in BAD_ROWS:
        rows.append({**_good_row(), **change})
    rows.append(_good_row() | {"person.first_name": "سامر"})
    data = _csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in rows])
    result = _import(app, data)
    assert result.outcome == "refused" and result.rejected == len(BAD_ROWS)
    assert _count(app) == 0  # all or nothing: the good rows were not kept either
    reported = {(row, field) for row, field, _ in result.problems}
    for offset, (field, _) in enumerate(BAD_ROWS):
        assert (offset + 3, field) in reported  # header is row 1, the good row is row 2
    with app.extensions["casebook.db"].sessionmaker() as s:
        run = s.scalar(select(ImportRun))
        assert run is not None and run.outcome == "refused" and run.rejected == len(BAD_ROWS)
        assert [tuple(p) for p in run.report] == [tuple(p) for p in result.problems]  # type: ignore[union-attr]


def test_skip_invalid_keeps_the_good_rows(app: Flask) -> None:
    rows = [
        _good_row(),
        {**_good_row(), "person.birth_date": "2099"},
        _good_row() | {"person.first_name": "سامر"},
    ]
    data = _csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in rows])
    result = _import(app, data, skip_invalid=True)
    assert (result.outcome, result.imported, result.rejected) == ("imported", 2, 1)
    assert result.problems[0][:2] == (3, "person.birth_date")
    assert _count(app) == 2


def test_unreadable_rows_and_files(app: Flask) -> None:
    lines = [json.dumps(minimal_case()), "{not json", "[1, 2]"]
    result = _import(app, "\n".join(lines).encode(), "cases.jsonl")
    assert {(r, f) for r, f, _ in result.problems} == {(2, "line"), (3, "line")}
    with pytest.raises(ImportFileError, match="not a casebook column"):
        _import(app, _csv(["first name", "family name", "shoe size"], [["a", "b", "42"]]))
    with pytest.raises(ImportFileError, match="family_name"):
        _import(app, _csv(["first name"], [["a"]]))
    with pytest.raises(ImportFileError, match="XLSX"):
        _import(app, b"PK\x03\x04 not really a workbook", "x.xlsx")
    extra = _csv(["first name", "family name"], [["أحمد", "الحلبي", "surplus"]])
    result = _import(app, extra)
    assert result.problems and result.problems[0][:2] == (2, "row")
    assert _count(app) == 0


def test_reimporting_creates_no_duplicates(app: Flask) -> None:
    data = _csv(ARABIC_HEADERS, ARABIC_ROWS + ARABIC_ROWS)  # the same rows twice in one file
    first = _import(app, data)
    assert (first.imported, first.already, first.already_rows) == (2, 2, [4, 5])
    assert (first.repeats, first.imported_before) == ([(4, 2), (5, 3)], [])
    again = _import(app, data)
    assert (again.imported, again.already) == (0, 4)
    assert (again.repeats, again.imported_before) == ([(4, 2), (5, 3)], [2, 3])
    assert again.as_json()["repeated_rows"] == [{"row": 4, "same_as": 2}, {"row": 5, "same_as": 3}]
    dry = _import(app, data, dry_run=True)
    assert (dry.outcome, dry.imported, dry.already) == ("checked", 0, 4)
    assert _count(app) == 2


def test_dry_run_stores_nothing(app: Flask) -> None:
    result = _import(app, _csv(ARABIC_HEADERS, ARABIC_ROWS), dry_run=True)
    assert (result.outcome, result.imported) == ("checked", 2)
    assert _count(app) == 0


def test_failure_midway_leaves_the_database_as_before(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import(app, _csv(ARABIC_HEADERS, ARABIC_ROWS[:1]))
    before = _count(app)
    monkeypatch.setattr(import_services, "BATCH", 2)
    calls = {"n": 0}
    original = import_services.case_insert_validated

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")  # the injected failure, after two batches were written
        return original(*args, **kwargs)

    monkeypatch.setattr(import_services, "case_insert_validated", failing)
    rows = [_good_row() | {"person.first_name": f"اسم{i}"} for i in range(10)]
    with pytest.raises(OSError, match="disk full"):
        _import(app, _csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in rows]))
    assert _count(app) == before
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert verify_chain(s).ok


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc: Linux, as the servers casebook runs on)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left to collect


def test_kill_9_during_an_import_leaves_nothing_half_written(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    from casebook.cases.demo import synthetic_cases

    path = tmp_path / "big.csv"
    rows = [case_to_row(c) for c in synthetic_cases(20000, 5)]
    path.write_bytes(_csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in rows]))
    env = {**os.environ, **cli_env(settings)}
    app.extensions["casebook.db"].dispose()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from casebook.cli import main; main()", "import", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Wait for the run's worker processes to appear (the import is then validating rows, well
    # before anything can be stored), however slow the host: a fixed pause failed under load.
    deadline = time.monotonic() + 120
    workers = _children(proc.pid)
    while not workers and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = _children(proc.pid)
    assert proc.poll() is None, "the import ended before it could be interrupted"
    assert workers, "a file this size is validated in worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the workers leave too, rather than idling on with the rows they last validated
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)]
    assert _count(app) == 0
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert verify_chain(s).ok
    # and it can simply be run again
    done = subprocess.run(
        [sys.executable, "-c", "from casebook.cli import main; main()", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert _count(app) == 20000


def test_cli_dry_run_report_and_exit_status(app: Flask, settings: Settings, tmp_path: Path) -> None:
    rows = [_good_row(), {**_good_row(), "person.birth_date": "2099"}]
    path = tmp_path / "cases.csv"
    path.write_bytes(_csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in rows]))
    env = {**os.environ, **cli_env(settings)}
    report = tmp_path / "report.csv"
    cmd = [sys.executable, "-c", "from casebook.cli import main; main()", "import", str(path)]
    done = subprocess.run(
        [*cmd, "--dry-run", "--report", str(report)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "1 to import" in done.stderr and "1 refused" in done.stderr
    assert list(csv.reader(report.open()))[1][:2] == ["3", "person.birth_date"]
    done = subprocess.run(
        [*cmd, "--skip-invalid"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "1 imported" in done.stderr
    assert "row,field,reason" in done.stdout and "2099" not in done.stdout
    assert _count(app) == 1
    # the good row again, twice: which rows were skipped, and why, by row number only
    path.write_bytes(_csv(list(COLUMNS), [[_good_row().get(c, "") for c in COLUMNS]] * 2))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "2 already imported" in done.stderr, done.stderr
    assert "already imported before: row 2" in done.stderr
    assert "row 3 is the same case as row 2 of this file" in done.stderr
    assert _count(app) == 1


def test_upload_page_for_a_documenter_with_report(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    documenter = make_user(app, "documenter")
    login(client, documenter)
    page = client.get("/imports/")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    canary_row = {
        **_good_row(),
        "person.first_name": CANARY_ARABIC,
        "source.contact": CANARY_LATIN,
        "person.birth_date": "2099",
    }
    data = _csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in (_good_row(), canary_row)])
    resp = client.post(
        "/imports/",
        data={"csrf_token": token, "file": (io.BytesIO(data), "cases.csv")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Nothing was imported" in html and "person.birth_date" in html
    assert CANARY_ARABIC not in html and CANARY_LATIN not in html  # never echo a value
    with app.extensions["casebook.db"].sessionmaker() as s:
        run_id = s.scalar(select(ImportRun.id))
    report = client.get(f"/imports/{run_id}/report.csv")
    assert report.status_code == 200 and "3,person.birth_date" in report.get_data(as_text=True)
    other = app.test_client()
    login(other, make_user(app, "lawyer"))
    assert other.get(f"/imports/{run_id}/report.csv").status_code == 404

    resp = client.post(
        "/imports/",
        data={"csrf_token": token, "skip_invalid": "1", "file": (io.BytesIO(data), "cases.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200 and "Imported" in resp.get_data(as_text=True)
    twice = _csv(list(COLUMNS), [[_good_row().get(c, "") for c in COLUMNS]] * 2)
    resp = client.post(
        "/imports/",
        data={"csrf_token": token, "file": (io.BytesIO(twice), "twice.csv")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "Already imported before:" in html
    assert "Row 3 is the same case as row 2 of this file." in html
    # the documenter owns what they imported
    listing = client.get("/api/v1/cases", headers={"X-CSRFToken": token}).get_json()
    assert listing["total"] == 1
    assert (
        client.post(
            "/imports/",
            data={"file": (io.BytesIO(data), "c.csv")},
            content_type="multipart/form-data",
        ).status_code
        == 400
    )  # no CSRF


def test_api_import_reports_field_paths_per_row(app: Flask, client: FlaskClient) -> None:
    h = bearer(app, make_user(app, "lawyer"))
    good = json.dumps(minimal_case(), ensure_ascii=False)
    bad = json.dumps(minimal_case(birth_date="2099"), ensure_ascii=False)
    resp = client.post(
        "/api/v1/imports",
        headers=h,
        data={"file": (io.BytesIO(f"{good}\n{bad}\n".encode()), "cases.jsonl")},
    )
    assert resp.status_code == 422
    body = resp.get_json()
    assert "rows.2.person.birth_date" in body["error"]["fields"]
    assert body["import"]["rejected"] == 1
    resp = client.post(
        "/api/v1/imports",
        headers=h,
        data={"file": (io.BytesIO(f"{good}\n".encode()), "cases.jsonl")},
    )
    assert resp.status_code == 201 and resp.get_json()["imported"] == 1
    advocate = bearer(app, make_user(app, "advocate"))
    resp = client.post(
        "/api/v1/imports",
        headers=advocate,
        data={"file": (io.BytesIO(f"{good}\n".encode()), "cases.jsonl")},
    )
    assert resp.status_code == 403


def test_each_imported_case_is_audited_with_its_row(app: Flask) -> None:
    result = _import(app, _csv(ARABIC_HEADERS, ARABIC_ROWS))
    with app.extensions["casebook.db"].sessionmaker() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "case.import")))
        runs = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "import.run")))
    details = [json.loads(e.details) for e in entries]
    assert sorted(d["row"] for d in details) == [2, 3]
    assert {d["import"] for d in details} == {str(result.run_id)}
    assert json.loads(runs[0].details)["imported"] == 2


def test_worker_processes_give_the_same_result(app: Flask) -> None:
    """The CLI validates large files in worker processes: same cases, same report, same order."""
    from casebook.cases.demo import synthetic_cases

    rows = [case_to_row(c) for c in synthetic_cases(1200, 8)]
    rows[5]["person.birth_date"] = "2099"
    rows[700]["arrest.governorate"] = "atlantis"
    data = _csv(list(COLUMNS), [[r.get(c, "") for c in COLUMNS] for r in rows])
    single = _import(app, data, dry_run=True)
    parallel = _import(app, data, dry_run=True, workers=2)
    assert (
        single.problems
        == parallel.problems
        == [
            (7, "person.birth_date", single.problems[0][2]),
            (702, "arrest.governorate", single.problems[1][2]),
        ]
    )
    result = _import(app, data, skip_invalid=True, workers=2)
    assert (result.imported, result.rejected) == (1198, 2)
    assert _count(app) == 1198


def _workbook(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _bomb(cell_chars: int) -> bytes:
    """A workbook whose cell B2 is `cell_chars` of "a": a few hundred KB on disk at most,
    because "a" repeated compresses about a thousand-fold."""
    import zipfile

    sheet = "xl/worksheets/sheet1.xml"
    source = zipfile.ZipFile(io.BytesIO(_workbook([["first name", "family name"], ["x", "y"]])))
    head, tail = source.read(sheet).split(b"<t>y</t>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            if info.filename != sheet:
                bomb.writestr(info.filename, source.read(info.filename))
        with bomb.open(sheet, "w", force_zip64=True) as xml:
            xml.write(head + b"<t>")
            for start in range(0, cell_chars, 1 << 20):
                xml.write(b"a" * min(1 << 20, cell_chars - start))
            xml.write(b"</t>" + tail)
    return out.getvalue()


class _CountingInflater:
    """zlib's decompressor, counting every byte it hands out: each byte any reader (Python's
    zipfile, and openpyxl through it) unpacks from a deflated zip member passes here."""

    def __init__(self, inner: Any, inflated: list[int]) -> None:
        self._inner, self._inflated = inner, inflated

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out: bytes = self._inner.decompress(data, max_length)
        self._inflated[0] += len(out)
        return out

    def flush(self, *args: Any) -> bytes:
        out: bytes = self._inner.flush(*args)
        self._inflated[0] += len(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def inflated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes unpacked from zip members during the test (Python's zipfile inflates through
    zlib.decompressobj; the real decompressor does the work, it is only counted)."""
    import zipfile

    count = [0]
    real = zipfile.zlib.decompressobj  # type: ignore[attr-defined]
    monkeypatch.setattr(
        zipfile.zlib,  # type: ignore[attr-defined]
        "decompressobj",
        lambda *args, **kw: _CountingInflater(real(*args, **kw), count),
    )
    return count


def test_the_unpacked_byte_count_sees_a_real_workbook_read(app: Flask, inflated: list[int]) -> None:
    """The counter the zip-bomb test relies on counts: reading an ordinary workbook unpacks
    its sheet through it."""
    data = _workbook([["first name", "family name"], ["أحمد", "الحلبي"]])
    _import(app, data, "list.xlsx", dry_run=True)
    assert inflated[0] > len("<sheetData>")


@pytest.mark.parametrize("unpacked_mb", [5, 101])
def test_an_xlsx_zip_bomb_is_refused_before_it_is_unpacked(
    app: Flask, client: FlaskClient, inflated: list[int], unpacked_mb: int
) -> None:
    """A small workbook that unpacks to far more (too well compressed, or over 100 MB in all)
    is refused as a whole with one message, from the sizes the zip declares: nothing of it is
    unpacked (a reader that inflated the sheet first would unpack the whole 5 or 101 MB), and
    nothing is stored."""
    bomb = _bomb(unpacked_mb << 20)
    assert len(bomb) < 400_000
    h = bearer(app, make_user(app, "lawyer"))
    resp = client.post(
        "/api/v1/imports",
        headers=h,
        data={"file": (io.BytesIO(bomb), "list.xlsx"), "dry_run": "1"},
    )
    assert inflated[0] < 64 * 1024, f"{inflated[0]:,} bytes unpacked before the refusal"
    assert resp.status_code == 422, resp.get_json()
    (message,) = resp.get_json()["error"]["fields"]["file"]
    assert "unpacks to more than 100 MB" in message
    assert _count(app) == 0
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_an_xlsx_cell_longer_than_any_case_text_is_refused_with_its_row(app: Flask) -> None:
    """Excel stops at 32,767 characters a cell, but a crafted file need not (openpyxl
    truncates only what it writes)."""
    data = _bomb(300_000)
    result = _import(app, data, "list.xlsx", dry_run=True)
    long = [(row, column) for row, column, reason in result.problems if "200000" in reason]
    assert long == [(2, "person.family_name")], result.problems
    assert not any("a" * 1000 in str(p) for p in result.problems)


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "checked, nothing imported: 1 valid rows, 1 refused"),
        ("ar", "فُحص، ولم يُستورد شيء: أسطر سليمة 1، ومرفوضة 1"),
    ],
)
def test_a_check_only_run_says_nothing_was_imported_in_history_and_report(
    app: Flask, client: FlaskClient, lang: str, said: str
) -> None:
    """The history and the downloadable report of a check-only run never read "imported 1":
    they say that nothing was imported, with the valid and refused rows."""
    login(client, make_user(app, "documenter"))
    with client.session_transaction() as sess:
        sess["lang"] = lang
    headers = {"Accept-Language": lang}
    token = csrf_from(client.get("/imports/", headers=headers).get_data(as_text=True))
    data = _csv(
        list(COLUMNS),
        [
            [r.get(c, "") for c in COLUMNS]
            for r in (_good_row(), _good_row() | {"person.birth_date": "2099"})
        ],
    )
    resp = client.post(
        "/imports/",
        data={"csrf_token": token, "dry_run": "1", "file": (io.BytesIO(data), "cases.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert resp.status_code == 200
    assert _count(app) == 0
    history = client.get("/imports/", headers=headers).get_data(as_text=True)
    row = history.split("<tbody>")[-1].split("</tr>")[0]
    assert said in row
    assert [c.split("</td>")[0] for c in row.split('<td class="num">')[1:]] == ["2", "0", "1"]
    with app.extensions["casebook.db"].sessionmaker() as s:
        run_id = s.scalar(select(ImportRun.id))
    report = client.get(f"/imports/{run_id}/report.csv", headers=headers).get_data(as_text=True)
    first = next(csv.reader(io.StringIO(report.lstrip("\ufeff"))))
    assert first == [said]


@pytest.mark.parametrize(
    "content",
    [b"", "full name\nأحمد".encode("utf-16")[:9]],  # empty; UTF-16 cut mid-character
    ids=["empty", "utf16-cut"],
)
def test_an_empty_or_cut_file_is_refused_with_a_message_by_import_and_match(
    app: Flask, settings: Settings, tmp_path: Path, content: bytes
) -> None:
    """An empty file made the import's progress bar raise a TypeError, and a UTF-16 list cut
    short a UnicodeDecodeError in `casebook match`: both ended in a traceback."""
    from click.testing import CliRunner

    from casebook.cli import cli

    path = tmp_path / "cases.csv"
    path.write_bytes(content)
    env = cli_env(settings)
    for command in (["import", str(path)], ["match", str(path)]):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 1, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert "empty" in result.output or "not readable text" in result.output, result.output
