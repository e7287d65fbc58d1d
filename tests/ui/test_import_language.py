"""The import page's problem list, its history and the downloadable report follow the reader's
language: an Arabic documenter reads every reason in Arabic."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.imports.columns import COLUMNS, case_to_row
from casebook.imports.models import ImportRun
from tests.conftest import csrf_from, login, make_user, minimal_case
from tests.ui.test_language_crawl import LATIN_ALLOWED, foreign_words

BAD = [
    {"person.first_name": ""},
    {"person.birth_date": "2099"},
    {"person.birth_date": "1990", "arrest.date": "1980"},
    {"arrest.date": "14/13/2013"},
    {"arrest.governorate": "atlantis"},
    {"consent.documentation": "no"},
    {"person.sex": "maybe"},
    {"status": "vanished"},
    {"person.occupation": "x" * 300},
]


def _data(extra_header: str | None = None) -> bytes:
    rows: list[dict[str, Any]] = [case_to_row(minimal_case())]
    rows += [case_to_row(minimal_case()) | change for change in BAD]
    headers = list(COLUMNS) + ([extra_header] if extra_header else [])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([[r.get(c, "") for c in COLUMNS] for r in rows])
    writer.writerow(["a"] * (len(headers) + 2))  # more cells than the header
    return out.getvalue().encode("utf-8-sig")


def _upload(client: FlaskClient, data: bytes) -> str:
    token = csrf_from(client.get("/imports/").get_data(as_text=True))
    resp = client.post(
        "/imports/",
        data={"csrf_token": token, "file": (io.BytesIO(data), "cases.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    return resp.get_data(as_text=True)


def _latin(text: str) -> set[str]:
    words = set(re.findall(r"[A-Za-z]+", text)) - LATIN_ALLOWED
    codes = {part for c in COLUMNS for part in re.split(r"[._]", c)}  # column names are codes
    return words - codes


def test_an_arabic_documenter_reads_import_problems_and_report_in_arabic(
    app: Flask, client: FlaskClient
) -> None:
    login(client, make_user(app, "documenter", language="ar"))
    html = _upload(client, _data())
    assert foreign_words(html, "ar") == set()
    with app.extensions["casebook.db"].sessionmaker() as s:
        run_id = s.scalar(select(ImportRun.id))
    report = client.get(f"/imports/{run_id}/report.csv")
    text = report.get_data(as_text=True)
    summary, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(summary) == 1 and _latin(summary[0]) == set()  # what the run did, in Arabic
    assert rows[0] == ["السطر", "الحقل", "المشكلة"]
    assert len(rows) == 1 + len(BAD) + 1
    assert _latin(" ".join(r[2] for r in rows[1:])) == set(), text
    refused = _upload(client, _data(extra_header="لون"))
    assert foreign_words(refused, "ar") == set()


def test_an_english_documenter_gets_the_report_in_english(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter", language="en"))
    _upload(client, _data())
    with app.extensions["casebook.db"].sessionmaker() as s:
        run_id = s.scalar(select(ImportRun.id))
    text = client.get(f"/imports/{run_id}/report.csv").get_data(as_text=True)
    summary, table = text.lstrip("\ufeff").split("\n", 1)
    assert "nothing imported" in summary and table.startswith("Row,Field,Problem")
    assert "This date is in the future." in text and not re.search(r"[\u0600-\u06FF]", text)
