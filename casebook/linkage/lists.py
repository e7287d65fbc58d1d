"""Outside lists (released detainees, death notices, lists from other groups) as they
circulate: CSV or XLSX with a full name or its parts, and perhaps father's and mother's names,
a birth year and a place. Read in memory only."""

from __future__ import annotations

import csv
import io
import re
from typing import Any, NamedTuple

from casebook.cases.records import ListPerson
from casebook.imports.columns import NAME_HEADERS, code_value, header_key
from casebook.imports.reader import ImportFileError, decode_text, detect_kind

_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "الاسم", "الاسم الكامل", "الاسم الثلاثي", "الاسم الرباعي"),
    "first_name": NAME_HEADERS["first_name"],
    "father_name": ("father", *NAME_HEADERS["father_name"]),
    "grandfather_name": ("grandfather", *NAME_HEADERS["grandfather_name"]),
    "family_name": NAME_HEADERS["family_name"],
    "mother_name": ("mother", *NAME_HEADERS["mother_name"]),
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
_YEAR = re.compile(r"(19|20)\d\d")
# Arabic-Indic and Persian digits, as Arabic spreadsheets write years (١٩٨٥)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


# compared case-insensitively, with Arabic hamza forms on the alef unified
_JOIN_PREFIX = {
    "عبد", "ابو", "العبد", "abd", "abdul", "abdel", "abdal", "abdol", "abdil", "abu", "abou",
    "abo",
}  # fmt: skip
_ARTICLE = {"al", "el", "ال", "ul", "ad", "ed", "ar", "as", "az", "an", "at"}
_SUFFIX = {
    "الدين", "الله", "din", "dine", "deen", "eddine", "eddin", "uddin", "uddine", "addin",
    "aldin", "eldin", "adin", "allah", "ullah", "ellah", "alla",
}  # fmt: skip
_FILIATION = {"بن", "ابن", "بنت", "bin", "ibn", "bint"}


_ALEF = str.maketrans("أإآ", "ااا")


def _key(token: str) -> str:
    """A token as the tables above spell it: case-folded, hamza on the alef dropped,
    hyphens and spaces removed (Ad-Din, El Din)."""
    text = token.casefold().translate(_ALEF)
    return text.replace("-", "").replace(" ", "")


def split_full_name(text: str) -> ListPerson:
    """`محمد أحمد عبد الله الحلبي` → first, father, grandfather, family, in either script.

    Compounds stay one name whatever the case: a prefix (عبد, أبو, Abdul, Abu) joins the
    next word, a separate article (Al, El) joins the word it introduces, and a suffix
    (الدين, الله, Eddine, ad-Din, Allah) joins the word before it; بن / bin are dropped."""
    words = [w for w in text.split() if _key(w) not in _FILIATION]
    merged: list[str] = []
    for word in words:  # an article belongs to the next word
        if merged and _key(merged[-1]) in _ARTICLE:
            merged[-1] += " " + word
        else:
            merged.append(word)
    suffixed: list[str] = []
    for word in merged:  # a suffix belongs to the word before
        if suffixed and _key(word) in _SUFFIX and _key(suffixed[-1]) not in _ARTICLE:
            suffixed[-1] += " " + word
        else:
            suffixed.append(word)
    tokens: list[str] = []
    for word in suffixed:  # a prefix takes the next word
        if tokens and _key(tokens[-1]) in _JOIN_PREFIX:
            tokens[-1] += " " + word
        else:
            tokens.append(word)
    if not tokens:
        return {}
    parts: ListPerson = {"first_name": tokens[0]}
    if len(tokens) >= 2:
        parts["family_name"] = tokens[-1]
    if len(tokens) >= 3:
        parts["father_name"] = tokens[1]
    if len(tokens) >= 4:
        parts["grandfather_name"] = tokens[2]
    return parts


def _person(cells: dict[str, Any]) -> ListPerson:
    text = {k: str(v).strip() for k, v in cells.items() if v is not None and str(v).strip()}
    person: ListPerson = {}
    if "name" in text:
        person.update(split_full_name(text["name"]))
    for field in ("first_name", "father_name", "grandfather_name", "family_name", "mother_name"):
        if field in text:
            person[field] = text[field]
    if "birth_year" in text and (year := _year(text["birth_year"])):
        person["birth_date"] = year
    if "place" in text:
        person["place"] = text["place"]
        governorate = code_value("arrest.governorate", text["place"])
        if governorate != text["place"]:
            person["governorate"] = governorate
    return person


def _year(text: str) -> str | None:
    """The four-digit year in a cell ("1985", "١٩٨٥", "1985-03-02", "1985.0"), else None."""
    found = _YEAR.search(text.translate(_DIGITS).replace(".0", ""))
    return found.group(0) if found else None


class ListRead(NamedTuple):
    """A list as read: the rows with a name, and what the run should tell about the rest
    (row numbers and headers only: nothing a row says)."""

    rows: list[tuple[int, ListPerson]]
    unknown: list[str]  # headers of the columns not used
    unnamed: list[int]  # rows without a name, left out
    years_unread: list[int]  # rows whose birth year is not a year, taken as not given


def read_list(data: bytes, filename: str) -> list[tuple[int, ListPerson]]:
    """(row number, person) for every row with a name; ImportFileError if unreadable."""
    return read_list_report(data, filename).rows


def read_list_report(data: bytes, filename: str) -> ListRead:
    """`read_list`'s rows, the headers of the columns it did not use and the rows it left out
    or read in part, so that a run names them rather than drop anything silently."""
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
            [
                # the file's own headers are not echoed: a list without a header row would
                # have its first person's names printed
                "The list needs a column with the full name, or first and family names.",
                "The headers a list may use (English or Arabic): "
                + "; ".join(f"{f}: {', '.join(a)}" for f, a in _HEADERS.items()),
            ]
        )
    unknown = [
        str(header).strip()
        for header, field_name in zip(table[0], fields, strict=False)
        if field_name is None and str(header or "").strip()
    ]
    out = []
    unnamed: list[int] = []
    years_unread: list[int] = []
    for number, values in enumerate(table[1:], start=2):
        cells = {f: v for f, v in zip(fields, values, strict=False) if f is not None}
        if not any(str(v or "").strip() for v in values):
            continue  # a blank line
        person = _person(cells)
        if not person.get("first_name"):
            unnamed.append(number)
            continue
        year_cell = str(cells.get("birth_year") or "").strip()
        if year_cell and "birth_date" not in person:
            years_unread.append(number)
        out.append((number, person))
    return ListRead(out, unknown, unnamed, years_unread)
