"""Read an import file (CSV, XLSX or JSON lines) into numbered rows of API case objects.

Everything happens in memory: the CLI reads the operator's own file, and an upload arrives
through the encrypted spool, so no plaintext copy is written by casebook. Text is decoded as it
is read, row by row, so a file of a million rows costs its bytes and not several decoded copies
of them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from casebook.cases.schemas import TESTIMONY
from casebook.imports.columns import map_headers, row_to_case
from casebook.inputs import JSONInputError, loads_checked

KINDS = ("csv", "xlsx", "jsonl")

# An XLSX is a zip that openpyxl inflates in memory: a small file can unpack to gigabytes (a zip
# bomb). Real case lists unpack to a few dozen times their size; these limits are far above them.
XLSX_MAX_UNPACKED = 100 * 1024 * 1024  # all members together, and any one member
XLSX_MAX_RATIO = 100  # unpacked / packed, of the whole and of any member over 1 MB
XLSX_RATIO_FROM = 1024 * 1024
XLSX_MAX_MEMBERS = 1000
MAX_CELL = TESTIMONY  # the longest text a case holds; a longer cell is refused with its row
XLSX_TOO_BIG = (
    "This XLSX workbook unpacks to more than 100 MB or is compressed suspiciously well; "
    "split it into smaller files or save it as CSV."
)
XLSX_TOO_MANY = "This XLSX workbook has too many parts to be a case list."


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


_CHECK_CHUNK = 1 << 18
# encoding as reported -> (Python codec, error handling)
_CODECS = {
    "utf-16": ("utf-16", "strict"),
    "utf-8": ("utf-8-sig", "strict"),
    "windows-1256": ("cp1256", "replace"),
}


def text_encoding(data: bytes) -> str:
    """UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), else Windows-1256 —
    what Arabic Excel writes as "CSV". UTF-8 is tried strictly first: a Windows-1256 file of
    Arabic text is practically never valid UTF-8, while the reverse decodes to mojibake without
    error, so the order decides. The check decodes 256 KB at a time and keeps nothing."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), _CHECK_CHUNK):
            decoder.decode(view[start : start + _CHECK_CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "windows-1256"
    return "utf-8"


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a whole file, for the small lists that are read at once."""
    encoding = text_encoding(data)
    codec, errors = _CODECS[encoding]
    try:
        return data.decode(codec, errors=errors), encoding
    except UnicodeDecodeError:  # a UTF-16 file cut short
        raise _unreadable() from None


def open_text(data: bytes) -> tuple[io.TextIOWrapper, str]:
    """(stream of text, encoding): the bytes decoded as they are read (BytesIO shares them)."""
    encoding = text_encoding(data)
    codec, errors = _CODECS[encoding]
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=codec, errors=errors, newline="")
    return stream, encoding


def _unreadable() -> ImportFileError:
    return ImportFileError(["The file is not readable text in UTF-8, UTF-16 or Windows-1256."])


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
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
        long = [c for c, v in cells.items() if isinstance(v, str) and len(v) > MAX_CELL]
        if long:
            message = f"Longer than maximum length {MAX_CELL}."  # as the schema says it
            yield Row(number, problems={c: [message] for c in long})
            continue
        yield Row(number, cells=cells)


def read_csv(data: bytes) -> tuple[Iterator[Row], str]:
    stream, encoding = open_text(data)
    try:
        first = stream.readline()
    except UnicodeDecodeError:
        raise _unreadable() from None
    if not first:
        raise ImportFileError(["The file is empty."])
    lines = itertools.chain([first], stream)
    reader = csv.reader(lines, delimiter=_delimiter(first))
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
            except UnicodeDecodeError:  # only a UTF-16 file can break off midway
                raise _unreadable() from None
            number += 1
            yield number, values

    return _table_rows(header, rows()), encoding


def check_xlsx_zip(data: bytes) -> None:
    """Refuse a workbook that would unpack to too much before openpyxl inflates any of it. The
    sizes are those the zip declares; Python's zip reader stops at the declared size and checks
    the CRC, so a member that lies about its size fails rather than unpacking more."""
    import zipfile

    too_big = ImportFileError([XLSX_TOO_BIG])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(["This is not a readable XLSX workbook."]) from None
    if len(members) > XLSX_MAX_MEMBERS:
        raise ImportFileError([XLSX_TOO_MANY])
    total = packed = 0
    for member in members:
        size, compressed = member.file_size, max(member.compress_size, 1)
        if size > XLSX_MAX_UNPACKED:
            raise too_big
        if size > XLSX_RATIO_FROM and size > XLSX_MAX_RATIO * compressed:
            raise too_big
        total += size
        packed += compressed
    if total > XLSX_MAX_UNPACKED or (total > XLSX_RATIO_FROM and total > XLSX_MAX_RATIO * packed):
        raise too_big


def read_xlsx(data: bytes) -> Iterator[Row]:
    import zipfile

    from openpyxl import load_workbook

    check_xlsx_zip(data)
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

    def numbered() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, row in enumerate(values, start=2):
                yield number, list(row)
        except zipfile.BadZipFile:  # a member unpacking other than it declared (CRC)
            raise ImportFileError(["This is not a readable XLSX workbook."]) from None

    return _table_rows(header, numbered())


def read_jsonl(data: bytes) -> Iterator[Row]:
    stream, _ = open_text(data)
    numbered = enumerate(stream, start=1)
    while True:
        try:
            number, line = next(numbered)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _unreadable() from None
        if not line.strip():
            continue
        try:
            case = loads_checked(line)
        except JSONInputError as exc:
            yield Row(number, problems={"line": [str(exc)]})
            continue
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
