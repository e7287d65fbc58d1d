"""Outside lists (released detainees, death notices, lists from other groups) as they
circulate: CSV or XLSX with a full name or its parts, and perhaps father's and mother's names,
a birth year and a place. Read in memory only."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from casebook.imports.columns import code_value, header_key
from casebook.imports.reader import ImportFileError, decode_text, detect_kind

_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "الاسم", "الاسم الكامل", "الاسم الثلاثي", "الاسم الرباعي"),
    "first_name": ("first name", "given name", "الاسم الأول"),
    "father_name": ("father", "father name", "father's name", "اسم الأب", "الأب"),
    "grandfather_name": ("grandfather", "grandfather name", "اسم الجد", "الجد"),
    "family_name": ("family name", "surname", "last name", "الكنية", "اسم العائلة", "العائلة"),
    "mother_name": ("mother", "mother name", "mother's name", "اسم الأم", "الأم"),
    "birth_year": (
        "birth year",
        "year of birth",
        "born",
        "birth date",
        "date of birth",
        "سنة الميلاد",
        "المواليد",
        "تاريخ الميلاد",
        "التولد",
    ),
    "place": ("place", "governorate", "province", "city", "المحافظة", "المكان", "مكان", "المدينة"),
}
_TABLE = {header_key(alias): field for field, aliases in _HEADERS.items() for alias in aliases}
_JOIN = {"عبد", "ابو", "أبو", "abd", "abu", "abdul", "abdel"}
_YEAR = re.compile(r"(19|20)\d\d")


def split_full_name(text: str) -> dict[str, str]:
    """`محمد أحمد عبد الله الحلبي` → first, father, grandfather, family (compounds kept)."""
    tokens: list[str] = []
    for token in text.split():
        if tokens and tokens[-1] in _JOIN:
            tokens[-1] += " " + token
        else:
            tokens.append(token)
    if not tokens:
        return {}
    parts = {"first_name": tokens[0]}
    if len(tokens) >= 2:
        parts["family_name"] = tokens[-1]
    if len(tokens) >= 3:
        parts["father_name"] = tokens[1]
    if len(tokens) >= 4:
        parts["grandfather_name"] = tokens[2]
    return parts


def _person(cells: dict[str, Any]) -> dict[str, Any]:
    text = {k: str(v).strip() for k, v in cells.items() if v is not None and str(v).strip()}
    person: dict[str, Any] = {}
    if "name" in text:
        person.update(split_full_name(text["name"]))
    for field in ("first_name", "father_name", "grandfather_name", "family_name", "mother_name"):
        if field in text:
            person[field] = text[field]
    if "birth_year" in text and (year := _YEAR.search(text["birth_year"].replace(".0", ""))):
        person["birth_date"] = year.group(0)
    if "place" in text:
        person["place"] = text["place"]
        governorate = code_value("arrest.governorate", text["place"])
        if governorate != text["place"]:
            person["governorate"] = governorate
    return person


def read_list(data: bytes, filename: str) -> list[tuple[int, dict[str, Any]]]:
    """(row number, person) for every row with a name; ImportFileError if unreadable."""
    kind = detect_kind(filename, data[:64])
    if kind == "xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a file that is not a workbook
            raise ImportFileError(["This is not a readable XLSX workbook."]) from None
        table: list[list[Any]] = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    elif kind == "csv":
        text, _ = decode_text(data)
        try:
            table = [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
        except csv.Error:
            raise ImportFileError(["This is not a readable CSV file."]) from None
    else:
        raise ImportFileError(["A list must be a CSV or XLSX file."])
    if not table:
        raise ImportFileError(["The file is empty."])
    fields = [_TABLE.get(header_key(str(h or ""))) for h in table[0]]
    if "name" not in fields and not {"first_name", "family_name"} <= set(fields):
        raise ImportFileError(
            ["The list needs a column with the full name, or first and family names."]
        )
    out = []
    for number, values in enumerate(table[1:], start=2):
        cells = {f: v for f, v in zip(fields, values, strict=False) if f is not None}
        person = _person(cells)
        if person.get("first_name"):
            out.append((number, person))
    return out
