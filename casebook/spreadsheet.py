"""Every CSV casebook writes goes through here, so that no cell can run as a spreadsheet formula.

A cell that Excel, LibreOffice or Google Sheets would read as a formula (starting with = + - @,
a tab or a carriage return, after any spaces) is written with a leading apostrophe, which shows
it as text (OWASP "CSV injection"). Numbers are written as numbers. File names, column names and
messages taken from uploaded files reach these cells, so this is not only about stored data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str | int | float:
    """One cell, neutralised: numbers as they are, anything else as text a sheet will not run."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = "" if value is None else str(value)
    if text.lstrip(" ")[:1] in FORMULA_STARTS:
        return "'" + text
    return text


class SafeWriter:
    """csv.writer whose every cell has been through `safe_cell`."""

    def __init__(self, out: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: Any, **fmtparams: Any) -> SafeWriter:
    """The one way casebook writes CSV: `csv_writer(stream).writerow([...])`."""
    return SafeWriter(out, **fmtparams)


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV text (for downloads and report files)."""
    out = io.StringIO()
    csv_writer(out).writerows(rows)
    return out.getvalue()


def tsv_line(cells: Iterable[object]) -> str:
    """One tab-separated line (the CLI's text output, often pasted into a sheet)."""
    return "\t".join(str(safe_cell(cell)).replace("\t", " ").replace("\n", " ") for cell in cells)
