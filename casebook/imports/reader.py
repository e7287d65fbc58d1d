"""Read an import file (CSV, XLSX or JSON lines) into numbered rows of API case objects.

Everything happens in memory: the CLI reads the operator's own file, and an upload arrives
through the encrypted spool, so no plaintext copy is written by casebook.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from casebook.imports.columns import map_headers, row_to_case

KINDS = ("csv", "xlsx", "jsonl")


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, bad header); nothing is imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(slots=True)
class Row:
    """One case of the file: its row number as the user sees it (a spreadsheet's header is
    row 1) and either the case object (JSON lines), the cells by canonical column (CSV, XLSX;
    turned into a case object by `case_object`, possibly in another process), or why the row
    could not even be read."""

    number: int
    case: Any = None
    problems: dict[str, list[str]] = field(default_factory=dict)
    cells: dict[str, Any] | None = None

    def case_object(self) -> Any:
        return row_to_case(self.cells) if self.cells is not None else self.case


def detect_kind(filename: str, head: bytes) -> str:
    """By content first (an XLSX is a zip), then by the name."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    name = filename.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".xlsx"):
        return "xlsx"  # a name that lies about its content fails in the XLSX reader
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return "jsonl"
    return "csv"


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"),
    else Windows-1256 — what Arabic Excel writes as "CSV". UTF-8 is tried strictly first: a
    Windows-1256 file of Arabic text is practically never valid UTF-8, while the reverse
    decodes to mojibake without error, so the order decides."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1256", errors="replace"), "windows-1256"


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _table_rows(header: list[Any], rows: Iterator[tuple[int, list[Any]]]) -> Iterator[Row]:
    columns, problems = map_headers([str(h) if h is not None else "" for h in header])
    if problems:
        raise ImportFileError(problems)
    width = len(columns)
    for number, values in rows:
        if not any(v is not None and str(v).strip() for v in values):
            continue  # blank lines between cases are common in hand-kept sheets
        if len(values) > width and any(str(v).strip() for v in values[width:] if v is not None):
            yield Row(number, problems={"row": ["This row has more cells than the header."]})
            continue
        cells = {c: v for c, v in zip(columns, values, strict=False) if c is not None}
        yield Row(number, cells=cells)


def read_csv(data: bytes) -> tuple[Iterator[Row], str]:
    text, encoding = decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(["The file is empty."]) from None
    except csv.Error:
        raise ImportFileError(["The first line is not a CSV header."]) from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise ImportFileError(
                    [f"Row {number + 1} is not valid CSV (an unclosed quote?)."]
                ) from None
            number += 1
            yield number, values

    return _table_rows(header, rows()), encoding


def read_xlsx(data: bytes) -> Iterator[Row]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ImportFileError(["This is not a readable XLSX workbook."]) from None
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        header = list(next(values))
    except StopIteration:
        raise ImportFileError(["The first sheet is empty."]) from None
    numbered = ((number, list(row)) for number, row in enumerate(values, start=2))
    return _table_rows(header, numbered)


def read_jsonl(data: bytes) -> Iterator[Row]:
    text, _ = decode_text(data)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError:
            yield Row(number, problems={"line": ["This line is not valid JSON."]})
            continue
        if not isinstance(case, dict):
            yield Row(number, problems={"line": ["Each line must be one JSON object (a case)."]})
            continue
        yield Row(number, case=case)


def read_rows(data: bytes, filename: str) -> tuple[str, str | None, Iterator[Row]]:
    """(kind, text encoding or None, rows) for a file's bytes."""
    kind = detect_kind(filename, data[:64])
    if kind == "xlsx":
        return kind, None, read_xlsx(data)
    if kind == "jsonl":
        return kind, "utf-8", read_jsonl(data)
    rows, encoding = read_csv(data)
    return kind, encoding, rows
