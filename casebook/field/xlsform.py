"""The field form, written as an XLSForm (survey, choices, settings) and converted with pyxform.

The rows below are the readable source; `workbook()` lays them out as the .xlsx a form
designer would open (`casebook field form -o case.xlsx` writes it), and `build()` converts that
workbook to the XForm the phones download, with the choice lists taken from casebook.vocab (one
source of truth) and encryption switched on with the instance's RSA public key. Field names map
onto the case record of design.md §3 (`casebook.field.services.case_from_instance`).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

from casebook import vocab

FORM_ID = "casebook_case"
FORM_VERSION_PREFIX = "1"
AR = "label::العربية (ar)"
EN = "label::English (en)"
HINT_AR = "hint::العربية (ar)"
HINT_EN = "hint::English (en)"
SURVEY_COLUMNS = (
    "type",
    "name",
    AR,
    EN,
    HINT_AR,
    HINT_EN,
    "required",
    "default",
    "appearance",
    "relevant",
)
PARTIAL_DATE_HINT = ("1985 أو 1985-03 أو 1985-03-14", "1985, 1985-03 or 1985-03-14")


def _row(
    kind: str,
    name: str,
    ar: str = "",
    en: str = "",
    hint: tuple[str, str] = ("", ""),
    **extra: str,
) -> dict[str, str]:
    row = {"type": kind, "name": name, AR: ar, EN: en, HINT_AR: hint[0], HINT_EN: hint[1]}
    row.update(extra)
    return row


def survey_rows() -> list[dict[str, str]]:
    """The questions, in the order the phone asks them."""
    rows = [_row("begin_group", "consent", "موافقة العائلة", "Consent of the family")]
    for term in vocab.CONSENT_SCOPES.terms:
        rows.append(
            _row(
                "select_one yes_no",
                f"consent_{term.code}",
                term.ar,
                term.en,
                required="yes" if term.code == "documentation" else "",
            )
        )
    rows += [
        _row(
            "date",
            "consent_date",
            "تاريخ الموافقة",
            "Date of consent",
            required="yes",
            default="today()",
        ),
        _row("end_group", "consent"),
        _row("begin_group", "person", "الشخص", "The person"),
        _row("text", "first_name", "الاسم الأول", "First name", required="yes"),
        _row("text", "father_name", "اسم الأب", "Father's name"),
        _row("text", "grandfather_name", "اسم الجد", "Grandfather's name"),
        _row("text", "family_name", "الكنية", "Family name"),
        _row("text", "mother_name", "اسم الأم", "Mother's name"),
        _row("text", "latin_name", "الاسم بالأحرف اللاتينية", "Name in Latin letters"),
        _row("select_one sex", "sex", "الجنس", "Sex", default="unknown"),
        _row("text", "birth_date", "تاريخ الولادة", "Date of birth", PARTIAL_DATE_HINT),
        _row("text", "birth_place", "مكان الولادة", "Place of birth"),
        _row("text", "nationality", "الجنسية", "Nationality"),
        _row("text", "national_id", "الرقم الوطني", "National ID number"),
        _row("text", "occupation", "المهنة", "Occupation"),
        _row("text", "civil_status", "الحالة المدنية", "Civil status"),
        _row("text", "address", "العنوان", "Address"),
        _row("text", "description", "الوصف الجسدي", "Physical description", appearance="multiline"),
        _row("end_group", "person"),
        _row("begin_repeat", "arrest", "الاعتقال", "Arrest"),
        _row("text", "arrest_date", "تاريخ الاعتقال", "Date of arrest", PARTIAL_DATE_HINT),
        _row("select_one governorate", "arrest_governorate", "المحافظة", "Governorate"),
        _row("text", "arrest_place", "المكان", "Place (area, street, checkpoint)"),
        _row(
            "select_one perpetrator",
            "arrest_perpetrator",
            "الجهة المسؤولة",
            "Forces believed responsible",
        ),
        _row("text", "arrest_unit", "الفرع أو الوحدة", "Branch or unit"),
        _row("text", "arrest_circumstances", "الظروف", "Circumstances", appearance="multiline"),
        _row("end_repeat", "arrest"),
        _row("begin_group", "current_status", "الوضع الحالي", "Current status"),
        _row("select_one status", "status", "الوضع", "Status"),
        _row("text", "status_date", "منذ", "Since", PARTIAL_DATE_HINT),
        _row("text", "status_source", "مصدر المعلومة", "Source of this information"),
        _row("end_group", "current_status"),
        _row("begin_group", "source", "المصدر", "Source (who told us)"),
        _row("text", "source_name", "الاسم", "Name"),
        _row("text", "source_relationship", "صلة القرابة", "Relationship to the person"),
        _row("text", "source_contact", "وسيلة التواصل", "How to reach them"),
        _row(
            "select_one yes_no",
            "source_confidential",
            "إبقاء المصدر سرياً",
            "Keep the source confidential",
            default="yes",
        ),
        _row("end_group", "source"),
        _row("begin_group", "testimony_group", "الإفادة", "Testimony"),
        _row(
            "text", "testimony", "ما قالته العائلة", "What the family said", appearance="multiline"
        ),
        _row("select_one language", "testimony_language", "اللغة", "Language", default="ar"),
        _row("end_group", "testimony_group"),
        _row("begin_repeat", "photo", "صورة", "Photo"),
        _row("image", "photo_file", "صورة أو وثيقة", "Photo or document"),
        _row("end_repeat", "photo"),
        _row("audio", "audio_file", "تسجيل صوتي", "Audio recording"),
    ]
    return rows


LANGUAGES = (
    ("ar", "العربية", "Arabic"),
    ("en", "الإنكليزية", "English"),
    ("ku", "الكردية", "Kurdish"),
    ("other", "أخرى", "Other"),
)


def choice_rows() -> list[dict[str, str]]:
    """Every choice list, taken from casebook.vocab (and the yes/no and language lists)."""
    rows = [
        {"list_name": "yes_no", "name": "yes", AR: "نعم", EN: "Yes"},
        {"list_name": "yes_no", "name": "no", AR: "لا", EN: "No"},
    ]
    for list_name, vocabulary in (
        ("sex", vocab.SEXES),
        ("governorate", vocab.GOVERNORATES),
        ("perpetrator", vocab.PERPETRATORS),
        ("status", vocab.STATUSES),
    ):
        rows += [
            {"list_name": list_name, "name": t.code, AR: t.ar, EN: t.en} for t in vocabulary.terms
        ]
    rows += [{"list_name": "language", "name": c, AR: ar, EN: en} for c, ar, en in LANGUAGES]
    return rows


def _digest() -> str:
    """A short digest of the form's content: a new version whenever a question or a
    vocabulary changes, so phones fetch the new form."""
    h = hashlib.sha256()
    for row in survey_rows() + choice_rows():
        h.update(repr(sorted(row.items())).encode())
    return h.hexdigest()[:8]


def version_serial(version: str | None) -> int | None:
    """The key serial of a version string this server could have served, else None."""
    pattern = rf"{re.escape(FORM_VERSION_PREFIX)}\.([1-9][0-9]{{0,5}})\.[0-9a-f]{{8}}"
    match = re.fullmatch(pattern, version or "")
    return int(match.group(1)) if match else None


def form_version(key_serial: int) -> str:
    """`1.<key serial>.<content digest>`: changes with the questions, the vocabularies and the
    RSA key, and stays the same otherwise."""
    return f"{FORM_VERSION_PREFIX}.{key_serial}.{_digest()}"


def settings_row(version: str, public_key: str) -> dict[str, str]:
    return {
        "form_title": "casebook",
        "form_id": FORM_ID,
        "version": version,
        "public_key": public_key,
        "default_language": "العربية (ar)",
        # No instance_name: ODK Collect keeps a submission's instance name unencrypted and
        # shows it in its lists of drafts and sent forms, so a name built from the answers
        # would put the person's name on the phone in clear. Collect shows the form title.
    }


def workbook(version: str, public_key: str) -> bytes:
    """The XLSForm as an .xlsx workbook (survey, choices, settings sheets)."""
    from openpyxl import Workbook

    wb = Workbook()
    sheets: list[tuple[str, list[str], list[dict[str, str]]]] = [
        ("survey", list(SURVEY_COLUMNS), survey_rows()),
        ("choices", ["list_name", "name", AR, EN], choice_rows()),
    ]
    settings = settings_row(version, public_key)
    sheets.append(("settings", list(settings), [settings]))
    first = True
    for title, columns, rows in sheets:
        ws: Any = wb.active if first else wb.create_sheet()
        first = False
        ws.title = title
        ws.append(columns)
        for row in rows:
            ws.append([row.get(c, "") for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class BuiltForm:
    form_id: str
    version: str
    xml: bytes

    @property
    def md5(self) -> str:
        return hashlib.md5(self.xml, usedforsecurity=False).hexdigest()  # OpenRosa's form hash


def build(version: str, public_key: str) -> BuiltForm:
    """The XForm, converted with pyxform from the workbook above."""
    from pyxform.xls2xform import convert

    result = convert(xlsform=io.BytesIO(workbook(version, public_key)), file_type=".xlsx")
    return BuiltForm(FORM_ID, version, result.xform.encode("utf-8"))
