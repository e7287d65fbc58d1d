"""How a case search read its query, and what to try next, in the reader's language: the same
words under the HTML list and in the API's answer (`read_as`, `hint`)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from casebook.cases.selectors import Query


def read_as(query: Query) -> str | None:
    """What the name field was searched as: `reference`, `family_name`, `first_name_with_mother`
    (one word with the mother's name: the first or the family name), `first_and_family_name`,
    or None (no name words)."""
    if query.reference:
        return "reference"
    words = query.names().words
    if len(words) >= 2:
        return "first_and_family_name"
    if len(words) == 1:
        return "first_name_with_mother" if query.mother else "family_name"
    return None


def search_hint(query: Query, total: int) -> str | None:
    """What the reader should know about this search: how one word was read (even when it found
    cases: محمد alone finds the family المحمد), or what to add when it found nothing."""
    message = _hint(query, total)
    return str(message) if message else None


def _hint(query: Query, total: int) -> Any:
    if query.birth_year and not query.by_name:
        return _("The birth year narrows a search by name: add a name.")
    names = query.names()
    words = names.words
    if query.reference:
        # the same words whether the case does not exist or is not the reader's to see
        return None if total else _("No case you can see has this reference, with these filters.")
    if len(words) == 1 and not query.mother:
        if total:
            return _(
                "One word is searched as a family name: these are the cases with that family "
                "name. To find a first name, add the family name after it, or write the "
                "mother's name in its own field."
            )
        if not names.arabic:
            return _(
                "A family name in Latin letters alone is compared letter for letter with the "
                "family name as the case records it, usually in Arabic letters. Write it in "
                'Arabic letters, or add the first name before it ("Mohammad Halabi").'
            )
        return _(
            "One word is searched as a family name. If it is a first name, add the family name "
            "after it (or the father's name, where the family name is not known), or write the "
            "mother's name in its own field."
        )
    if total:
        return None
    if query.mother and not words:
        return _(
            "The mother's name is searched together with the person's first or family name: "
            "write one of them in the Name field too."
        )
    if query.mother and len(words) == 1:
        return _(
            "No case has this first or family name with this mother's name. Check how the "
            "mother's first name is written, or search without it."
        )
    if len(words) >= 2 and (query.birth_year or query.national_id or _filtered(query)):
        # the name may well be recorded: what excluded it is another field, and the reader
        # should not be told the person is not in the database
        return _(
            "No case has this name with the other fields of the search (birth year, national "
            "ID, status, governorate, verification or partner organisations). The case may "
            "record them otherwise: search by the name alone."
        )
    if len(words) >= 2:
        return _(
            "No case has this first and family name. Try the name as written on the ID, the "
            "name in Latin letters, or the family name alone; where the family name is not "
            "known, the first name with the father's or grandfather's name."
        )
    if query.national_id and not words:
        return _("No case has this national ID number. Check it, or search by name.")
    return None


def _filtered(query: Query) -> bool:
    """Whether a filter besides the name fields narrowed the search."""
    return bool(query.status or query.governorate or query.verification or query.partner)
