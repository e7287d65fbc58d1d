"""Spreadsheet columns → API case objects, and validation messages → spreadsheet columns.

A CSV or XLSX row holds one case with the columns of design.md §3 (`person.first_name`,
`arrest.date`, `status`, `status_date`, `source.name`, `consent.statistics`,
`consent.statistics_date`, `testimony`) or one of their Arabic or English aliases, matched after
normalisation (case, hamza forms, ta marbuta, punctuation, `_` and `.` do not matter). Code
columns take the code or its Arabic or English label, so a sheet that says «حلب» or "Aleppo"
imports as `aleppo`. Dates take partial ISO, Excel dates and d/m/yyyy as Syrian offices write them.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Any

from casebook import vocab
from casebook.cases.schemas import RELIABILITY
from casebook.inputs import partial_date_text
from casebook.names import normalise

PERSON_FIELDS = (
    "first_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "mother_name",
    "latin_name",
    "other_names",
    "sex",
    "birth_date",
    "birth_place",
    "nationality",
    "national_id",
    "occupation",
    "civil_status",
    "dependants",
    "address",
    "description",
)
ARREST_FIELDS = (
    "date",
    "governorate",
    "place",
    "perpetrator",
    "unit",
    "circumstances",
    "reason_given",
    "witnesses",
)
SOURCE_FIELDS = ("name", "relationship", "contact", "language", "reliability", "confidential")
STATUS_COLUMNS = ("status", "status_date", "status_source", "status_note")
TESTIMONY_COLUMNS = ("testimony", "testimony_date", "testimony_language")


def _canonical_columns() -> list[str]:
    columns = [f"person.{f}" for f in PERSON_FIELDS]
    columns += [f"arrest.{f}" for f in ARREST_FIELDS]
    columns += list(STATUS_COLUMNS)
    columns += [f"source.{f}" for f in SOURCE_FIELDS]
    for scope in vocab.CONSENT_SCOPES.terms:
        columns += [f"consent.{scope.code}", f"consent.{scope.code}_date"]
    columns += list(TESTIMONY_COLUMNS)
    return columns


COLUMNS: tuple[str, ...] = tuple(_canonical_columns())

# The headers people write for a person's name parts, in English and in Arabic: one list for
# the import and for outside lists (casebook.linkage.lists), which read the same spreadsheets.
NAME_HEADERS: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "given name", "الاسم الأول"),
    "father_name": ("father name", "father's name", "fathers name", "اسم الأب", "الأب"),
    "grandfather_name": ("grandfather name", "grandfather's name", "اسم الجد", "الجد"),
    "family_name": (
        "family name",
        "surname",
        "last name",
        "الكنية",
        "اسم العائلة",
        "العائلة",
        "النسبة",
        "اللقب",
    ),
    "mother_name": ("mother name", "mother's name", "mothers name", "اسم الأم", "الأم"),
}

# Headers people actually write, in English and in Arabic, for each column.
_ALIASES: dict[str, tuple[str, ...]] = {
    # a lone "name" in a case file is the first name (a list's is the full name)
    "person.first_name": (*NAME_HEADERS["first_name"], "name", "الاسم"),
    **{f"person.{field}": NAME_HEADERS[field] for field in NAME_HEADERS if field != "first_name"},
    "person.latin_name": ("latin name", "name in latin", "english name", "الاسم باللاتينية"),
    "person.other_names": ("other names", "also known as", "aka", "أسماء أخرى", "الشهرة"),
    "person.sex": ("sex", "gender", "الجنس"),
    "person.birth_date": (
        "birth date",
        "date of birth",
        "dob",
        "تاريخ الميلاد",
        "تاريخ الولادة",
        "المواليد",
    ),
    "person.birth_place": ("birth place", "place of birth", "مكان الولادة", "مكان الميلاد"),
    "person.nationality": ("nationality", "الجنسية"),
    "person.national_id": ("national id", "national number", "id number", "الرقم الوطني"),
    "person.occupation": ("occupation", "profession", "job", "المهنة", "العمل"),
    "person.civil_status": ("civil status", "marital status", "الحالة الاجتماعية"),
    "person.dependants": ("dependants", "dependents", "children", "عدد المعالين", "عدد الأولاد"),
    "person.address": ("address", "residence", "العنوان", "مكان الإقامة"),
    "person.description": ("description", "physical description", "الأوصاف", "الوصف"),
    "arrest.date": ("arrest date", "date of arrest", "تاريخ الاعتقال", "تاريخ الاحتجاز"),
    "arrest.governorate": ("governorate", "province", "المحافظة"),
    "arrest.place": ("arrest place", "place of arrest", "مكان الاعتقال"),
    "arrest.perpetrator": (
        "perpetrator",
        "arresting party",
        "responsible party",
        "الجهة المسؤولة",
        "الجهة المعتقلة",
        "الجهة الخاطفة",
    ),
    "arrest.unit": ("unit", "branch", "الفرع", "القطعة"),
    "arrest.circumstances": ("circumstances", "ظروف الاعتقال"),
    "arrest.reason_given": ("reason given", "reason", "سبب الاعتقال", "التهمة المعلنة"),
    "arrest.witnesses": ("witnesses", "الشهود"),
    # the case form's own labels (الوضع, تاريخ الوضع) too: a documenter heads a sheet with them
    "status": ("current status", "الحالة", "الوضع", "الوضع الحالي", "مصير المعتقل"),
    "status_date": ("status date", "تاريخ الحالة", "تاريخ الوضع"),
    "status_source": ("status source", "مصدر الحالة", "مصدر المعلومة"),
    "status_note": ("status note", "ملاحظة الحالة"),
    "source.name": ("source name", "informant", "informant name", "اسم المصدر", "اسم المبلغ"),
    "source.relationship": ("relationship", "relation", "صلة القرابة", "القرابة"),
    "source.contact": ("contact", "phone", "source contact", "وسيلة التواصل", "رقم التواصل"),
    "source.language": ("source language", "لغة المصدر"),
    "source.reliability": ("reliability", "source reliability", "موثوقية المصدر"),
    "source.confidential": ("confidential", "source confidential", "سرية المصدر"),
    "testimony": ("testimony", "statement", "account", "الشهادة", "الإفادة"),
    "testimony_date": ("testimony date", "تاريخ الشهادة"),
    "testimony_language": ("testimony language", "لغة الشهادة"),
    "consent.partner_matching": (
        "consent to partner matching",
        "partner matching consent",
        "موافقة المطابقة مع الشركاء",
        "الموافقة على المطابقة مع منظمات شريكة",
    ),
}


@functools.lru_cache(maxsize=4096)
def header_key(text: str) -> str:
    """Headers compare after the name normaliser; `person.first_name` = `Person First Name`."""
    return normalise(text.replace("_", " ")).replace("'", "")


def _header_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for column in COLUMNS:
        table[header_key(column)] = column
        table[header_key(column.split(".", 1)[-1])] = column
    for column, aliases in _ALIASES.items():
        for alias in aliases:
            table[header_key(alias)] = column
    for scope in vocab.CONSENT_SCOPES.terms:
        for prefix, date_prefix, label in (
            ("consent ", "consent date ", scope.en),
            ("موافقة ", "تاريخ موافقة ", scope.ar),
        ):
            table[header_key(prefix + label)] = f"consent.{scope.code}"
            table[header_key(date_prefix + label)] = f"consent.{scope.code}_date"
    # bare field names shared by several sections stay with the person (`name` is the person's)
    table[header_key("date")] = "arrest.date"
    table[header_key("name")] = "person.first_name"
    return table


HEADERS = _header_table()


def map_headers(headers: list[str]) -> tuple[list[str | None], list[str]]:
    """Each header's canonical column (None for an empty header) and the problems found.

    A header that names no known column, or a column named twice, is a problem: silently
    dropping a column would lose what a family told us.
    """
    mapped: list[str | None] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        text = (header or "").strip()
        if not text:
            mapped.append(None)
            continue
        column = HEADERS.get(header_key(text))
        if column is None:
            problems.append(f"Column {position} is not a casebook column: {text[:60]}")
            mapped.append(None)
            continue
        if column in seen:
            problems.append(f"Columns {seen[column]} and {position} are both {column}.")
        seen[column] = position
        mapped.append(column)
    if "person.first_name" not in seen:
        problems.append(
            "The file needs a first-name column: person.first_name, or a header such as first name."
        )
    if "person.family_name" not in seen:  # a whole name in one column would pass for a first
        problems.append(
            "The file needs a family-name column: person.family_name, or a header such as"
            " family name (its cells may be left empty where the family name is not"
            " known)."
        )
    return mapped, problems


# -- values -------------------------------------------------------------------------------------

_TRUE = {"true", "yes", "y", "1", "نعم", "موافق", "x", "✓"}
_FALSE = {"false", "no", "n", "0", "لا", "غير موافق"}


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def date_value(value: Any) -> str:
    """Partial ISO from what a spreadsheet holds: a date, a year number or text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return partial_date_text(_text(value))


# Other names of the governorates in the spreadsheets organisations exchange: the English
# names UN bodies use (Rural Damascus), the common romanisations, and the Arabic with ه for
# ة or without its hamza. The forms offer one label each; an import reads any of these.
GOVERNORATE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "damascus": ("Dimashq", "Damas"),
    "rif_dimashq": (
        "Rural Damascus",
        "Damascus Countryside",
        "Damascus Rural",
        "Rif Damascus",
        "Reef Damascus",
        "Rif Dimashk",
        "ريف الشام",
    ),
    "aleppo": ("Halab",),
    "homs": ("Hims",),
    "hama": ("Hamah", "Hamat", "حماه"),
    "latakia": ("Lattakia", "Latakiyah", "Al-Ladhiqiyah", "Lattaquié"),
    "tartus": ("Tartous", "Tartoos"),
    "idlib": ("Idleb",),
    "raqqa": ("Ar-Raqqa", "Al-Raqqa", "Raqqah", "Rakka", "الرقه", "رقة"),
    "deir_ez_zor": ("Deir Ezzor", "Deir al-Zor", "Deir al-Zour", "Deir ez Zor", "Dayr az Zawr"),
    "hasakah": ("Al-Hasakah", "Hasakeh", "Hassakeh", "Al-Hassakeh", "Hasaka", "Hassakah"),
    "daraa": ("Dar'a", "Deraa"),
    "suwayda": ("As-Suwayda", "Sweida", "Suwaida", "Al-Suwayda", "السويدا"),
    "quneitra": ("Al-Quneitra", "Qunaitra", "Kuneitra", "Qunaytirah"),
}


def _labels(
    vocabulary: vocab.Vocabulary, others: dict[str, tuple[str, ...]] | None = None
) -> dict[str, str]:
    table: dict[str, str] = {}
    for term in vocabulary.terms:
        for text in (term.code, term.ar, term.en, *(others or {}).get(term.code, ())):
            table[header_key(text)] = term.code
    return table


_CODE_COLUMNS: dict[str, dict[str, str]] = {
    "person.sex": {
        **_labels(vocab.SEXES),
        "m": "male",
        "f": "female",
    },
    "arrest.governorate": _labels(vocab.GOVERNORATES, GOVERNORATE_SPELLINGS),
    "arrest.perpetrator": _labels(vocab.PERPETRATORS),
    "status": _labels(vocab.STATUSES),
    "source.reliability": {header_key(r): r for r in RELIABILITY},
}


def code_value(column: str, value: Any) -> str:
    """The vocabulary code for a code or a label; unknown text is left for validation to name."""
    text = _text(value)
    return _CODE_COLUMNS[column].get(header_key(text), text)


def bool_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    text = header_key(_text(value))
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return _text(value)  # left for validation to refuse with its own message


def _is_date_column(column: str) -> bool:
    return column.endswith("date") or column.endswith("_date") or column == "arrest.date"


def row_to_case(cells: dict[str, Any]) -> dict[str, Any]:
    """One spreadsheet row (canonical column → raw cell) as an API case object."""
    person: dict[str, Any] = {}
    arrest: dict[str, Any] = {}
    source: dict[str, Any] = {}
    consent: dict[str, dict[str, Any]] = {}
    status: dict[str, Any] = {}
    testimony: dict[str, Any] = {}
    for column, raw in cells.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        value: Any
        if column in _CODE_COLUMNS:
            value = code_value(column, raw)
        elif _is_date_column(column):
            value = date_value(raw)
        elif column in ("source.confidential",) or (
            column.startswith("consent.") and not column.endswith("_date")
        ):
            value = bool_value(raw)
        elif column == "person.dependants":
            text = _text(raw)
            value = int(text) if text.isdigit() else text
        elif column == "person.other_names":
            value = [p.strip() for p in re.split("[;؛]", _text(raw)) if p.strip()]
        else:
            value = _text(raw)
        section, _, field = column.partition(".")
        if section == "person":
            person[field] = value
        elif section == "arrest":
            arrest[field] = value
        elif section == "source":
            source[field] = value
        elif section == "consent":
            scope, is_date = (field[:-5], True) if field.endswith("_date") else (field, False)
            consent.setdefault(scope, {})["date" if is_date else "granted"] = value
        elif column.startswith("status"):
            status[column[7:] or "status"] = value
        elif column.startswith("testimony"):
            testimony[column[10:] or "text"] = value
    case: dict[str, Any] = {"person": person, "consent": consent}
    if arrest:
        case["arrests"] = [arrest]
    if status:
        case["status"] = [status]
    if source:
        case["source"] = source
    if testimony:
        testimony.setdefault("language", "ar" if _has_arabic(testimony.get("text", "")) else "en")
        case["testimonies"] = [testimony]
    return case


def _has_arabic(text: Any) -> bool:
    return isinstance(text, str) and any("\u0600" <= ch <= "\u06ff" for ch in text)


_PATHS = (
    (re.compile(r"^arrests\.0\.(.+)$"), r"arrest.\1"),
    (re.compile(r"^status\.0\.status$"), "status"),
    (re.compile(r"^status\.0\.(.+)$"), r"status_\1"),
    (re.compile(r"^testimonies\.0\.text$"), "testimony"),
    (re.compile(r"^testimonies\.0\.(.+)$"), r"testimony_\1"),
    (re.compile(r"^consent\.(\w+)\.granted$"), r"consent.\1"),
    (re.compile(r"^consent\.(\w+)\.date$"), r"consent.\1_date"),
)


def column_of(path: str) -> str:
    """The spreadsheet column a validation path points at (`arrests.0.date` → `arrest.date`)."""
    for pattern, replacement in _PATHS:
        if pattern.match(path):
            return pattern.sub(replacement, path)
    return path


def case_to_row(case: dict[str, Any]) -> dict[str, Any]:
    """The spreadsheet row of an API case object (the inverse of row_to_case for the first
    arrest, status and testimony): for the import template, tests and benchmarks."""
    row: dict[str, Any] = {}
    for key, value in (case.get("person") or {}).items():
        row[f"person.{key}"] = "; ".join(value) if isinstance(value, list) else value
    for key, value in ((case.get("arrests") or [{}])[0]).items():
        row[f"arrest.{key}"] = value
    status = (case.get("status") or [{}])[0]
    for key, value in status.items():
        row["status" if key == "status" else f"status_{key}"] = value
    for key, value in (case.get("source") or {}).items():
        row[f"source.{key}"] = value
    for scope, entry in (case.get("consent") or {}).items():
        row[f"consent.{scope}"] = entry.get("granted")
        if "date" in entry:
            row[f"consent.{scope}_date"] = entry["date"]
    testimony = (case.get("testimonies") or [{}])[0]
    for key, value in testimony.items():
        row["testimony" if key == "text" else f"testimony_{key}"] = value
    return row
