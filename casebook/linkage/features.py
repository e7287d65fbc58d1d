"""What the linkage model compares: normalised Arabic names, Latin skeletons, birth year, the
year of the first arrest and its governorate. Built in memory from decrypted records and never
stored."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from casebook.cases.derived import birth_year
from casebook.cases.records import Arrest, ListPerson, Person
from casebook.names import family_skeleton, is_arabic, normalise, skeleton
from casebook.names.matching import heard, is_unknown, name_form, phones, usual_names

NAME_FIELDS = ("first", "father", "grandfather", "family", "mother")
COLUMNS = (
    "unique_id",
    *NAME_FIELDS,
    *(f"{n}_skel" for n in NAME_FIELDS),
    *(f"{n}_ph" for n in NAME_FIELDS),
    "birth_year",
    "birth_md",
    "arrest_year",
    "governorate",
)
INTEGER_COLUMNS = ("birth_year", "arrest_year")
BOOLEAN_COLUMNS = tuple(f"{n}_known" for n in NAME_FIELDS)  # added by model._table

Forms = tuple[str | None, str | None, str | None]
# One row of the linkage table: the columns of COLUMNS (names' forms, skeletons and phonetic
# sequences, years, governorate); computed names, so a plain dict of its cell types.
FeatureRow = dict[str, str | int | None]


_FULL_DATE = re.compile(r"\d{4}-(\d{2}-\d{2})")


def birth_month_day(birth: object) -> str | None:
    """ "MM-DD" of a full birth date; None for a year or a month alone, and for 1 January,
    which registers and families give for a year whose day nobody knows. Not in the model
    (it compares the year): the run tells two records with two birthdays apart by it."""
    found = _FULL_DATE.fullmatch(str(birth or ""))
    return found.group(1) if found and found.group(1) != "01-01" else None


YEARS_APART = 10  # birth years this far apart: two generations' namesakes, or a mistyped year


def two_births(
    year: int | None, month_day: str | None, other_year: int | None, other_month_day: str | None
) -> bool:
    """Whether two records' births say two people to a lawyer's eye, whatever the names say:
    full dates differing in both the month and the day (and not one date with its day and
    month swapped), or birth years YEARS_APART or more apart. A day or a month alone that
    differs, or a year or three, is a slip or a family's memory, and is left to the model
    (which compares the year only, and counts a year far off as no more than 5 bits against:
    two men of very common names born 45 years apart were proposed as one at 0.994)."""
    if year is not None and other_year is not None and abs(year - other_year) >= YEARS_APART:
        return True
    if not (month_day and other_month_day):
        return False
    swapped = f"{other_month_day[3:]}-{other_month_day[:2]}"
    return (
        month_day[:2] != other_month_day[:2]
        and month_day[3:] != other_month_day[3:]
        and month_day != swapped
    )


def _name(value: Any, *, family: bool = False) -> Forms:
    """(comparison form, skeleton for blocking, phonetic sequence); all None for no name.

    The comparison form is the canonical form (casebook.names.matching.name_form), marked
    with `~` when written in Latin letters so that it never equals an Arabic form: across
    scripts names are compared by their phonetic sequences (model._name_comparison)."""
    text = str(value or "").strip()
    if not text or is_unknown(text):  # "-", "غير معروف": no name, as an empty field
        return None, None, None
    form = name_form(text, family=family)
    skel: str | None = (
        family_skeleton(text) if family else skeleton(text.replace(" ", ""))
    ).replace(" ", "") or None
    sounds = "|".join(phones(text, family=family)) or None
    if not form:
        return None, skel, sounds
    if is_arabic(form):
        # from the form as heard: عبد الرحمن blocks with Abdul Rahman (bdrhmn, not bdlrhmn)
        skel = skeleton(heard(form)) or skel
    else:
        # the skeleton of the expanded form: Mhd blocks with محمد as Muhammad does
        skel = skeleton(form) or skel
        # and a usual spelling blocks as the name it is written for: Youcef (kf) with يوسف
        # (sf), Djamel with جمال (a French list's rows were never compared with the cases)
        usual = set() if family else {skeleton(heard(name)) for name in usual_names(text)}
        if len(usual) == 1:
            skel = usual.pop() or skel
        form = f"~{form}"
    return form, skel, sounds


NameForms = Callable[..., Forms]


def name_forms_memo() -> NameForms:
    """`_name` remembered for one run: a caseload repeats a few thousand names (every محمد),
    and normalising each occurrence again was half of a dedupe run's own time. Made per run
    and dropped with it, so no name outlives the run in a long-lived process."""
    return functools.lru_cache(maxsize=100_000)(_name)


def person_features(
    unique_id: str,
    person: Person | ListPerson,
    arrests: Sequence[Arrest] | None = None,
    forms: NameForms = _name,
) -> FeatureRow:
    """One row of the linkage table for a case (or a row of an outside list); `forms` may be
    a run's `name_forms_memo()`."""
    row: FeatureRow = {"unique_id": unique_id}
    first, family = person.get("first_name"), person.get("family_name")
    latin_name = person.get("latin_name")  # a record's; an outside list has none
    latin = normalise(latin_name).split() if isinstance(latin_name, str) and latin_name else []
    for field, value in (
        ("first", first),
        ("father", person.get("father_name")),
        ("grandfather", person.get("grandfather_name")),
        ("family", family),
        ("mother", person.get("mother_name")),
    ):
        form, skel, sounds = forms(value, family=field == "family")
        if form is None and field in ("first", "family") and len(latin) >= 2:
            word = latin[0] if field == "first" else latin[-1]
            form, skel, sounds = forms(word, family=field == "family")
        row[field] = form
        row[f"{field}_skel"] = skel
        row[f"{field}_ph"] = sounds
    year = birth_year(person)
    row["birth_year"] = int(year) if year else None
    row["birth_md"] = birth_month_day(person.get("birth_date"))
    governorate = next((a.get("governorate") for a in arrests or [] if a.get("governorate")), None)
    row["governorate"] = governorate
    # Families remember the year their person was taken: two reports of one arrest agree on
    # it far more often than two people who merely share a common name.
    arrest_date = next((str(a["date"]) for a in arrests or [] if a.get("date")), "")
    row["arrest_year"] = int(arrest_date[:4]) if arrest_date[:4].isdigit() else None
    return row


def feature_rows(records: list[dict[str, Any]]) -> list[FeatureRow]:
    """Rows for records shaped {"id", "person", "arrests"} (generators, benches, tests)."""
    forms = name_forms_memo()
    return [person_features(r["id"], r["person"], r.get("arrests"), forms) for r in records]
