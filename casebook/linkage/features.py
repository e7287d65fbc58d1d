"""What the linkage model compares: normalised Arabic names, Latin skeletons, birth year, the
year of the first arrest and its governorate. Built in memory from decrypted records and never
stored."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from casebook.cases.keys import birth_year
from casebook.names import family_skeleton, is_arabic, normalise, normalise_family, skeleton

NAME_FIELDS = ("first", "father", "grandfather", "family", "mother")
COLUMNS = (
    "unique_id",
    *NAME_FIELDS,
    *(f"{n}_skel" for n in NAME_FIELDS),
    "birth_year",
    "arrest_year",
    "governorate",
)
INTEGER_COLUMNS = ("birth_year", "arrest_year")


def _name(value: Any, *, family: bool = False) -> tuple[str | None, str | None]:
    """(comparison form, Latin-comparable skeleton); both None for an empty name.

    The comparison form is the normalised Arabic name, or for a name written in Latin letters
    `~` and its skeleton: comparing Latin letters with Arabic ones would count as disagreement,
    so across scripts only the skeletons are compared (see model._name_comparison)."""
    text = str(value or "").strip()
    if not text:
        return None, None
    arabic = normalise_family(text) if family else normalise(text)
    skel: str | None = (
        family_skeleton(text) if family else skeleton(text.replace(" ", ""))
    ).replace(" ", "") or None
    if not is_arabic(text):
        # a Latin spelling stands in by its skeleton, marked so it never equals an Arabic form
        return (f"~{skel}" if skel else None), skel
    return arabic.replace(" ", "") or None, skel


NameForms = Callable[..., tuple[str | None, str | None]]


def name_forms_memo() -> NameForms:
    """`_name` remembered for one run: a caseload repeats a few thousand names (every محمد),
    and normalising each occurrence again was half of a dedupe run's own time. Made per run
    and dropped with it, so no name outlives the run in a long-lived process."""
    return functools.lru_cache(maxsize=100_000)(_name)


def person_features(
    unique_id: str,
    person: dict[str, Any],
    arrests: list[dict[str, Any]] | None = None,
    forms: NameForms = _name,
) -> dict[str, Any]:
    """One row of the linkage table for a case (or a row of an outside list); `forms` may be
    a run's `name_forms_memo()`."""
    row: dict[str, Any] = {"unique_id": unique_id}
    first, family = person.get("first_name"), person.get("family_name")
    latin_name = person.get("latin_name")
    latin = normalise(latin_name).split() if latin_name else []
    for field, value in (
        ("first", first),
        ("father", person.get("father_name")),
        ("grandfather", person.get("grandfather_name")),
        ("family", family),
        ("mother", person.get("mother_name")),
    ):
        arabic, skel = forms(value, family=field == "family")
        if skel is None and field in ("first", "family") and len(latin) >= 2:
            _, skel = forms(latin[0] if field == "first" else latin[-1], family=field == "family")
        row[field] = arabic
        row[f"{field}_skel"] = skel
    year = birth_year(person)
    row["birth_year"] = int(year) if year else None
    governorate = next((a.get("governorate") for a in arrests or [] if a.get("governorate")), None)
    row["governorate"] = governorate
    # Families remember the year their person was taken: two reports of one arrest agree on
    # it far more often than two people who merely share a common name.
    arrest_date = next((str(a["date"]) for a in arrests or [] if a.get("date")), "")
    row["arrest_year"] = int(arrest_date[:4]) if arrest_date[:4].isdigit() else None
    return row


def feature_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for records shaped {"id", "person", "arrests"} (generators, benches, tests)."""
    forms = name_forms_memo()
    return [person_features(r["id"], r["person"], r.get("arrests"), forms) for r in records]
