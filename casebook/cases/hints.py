"""How a case search read its query, and what to try next, in the reader's language: the same
words under the HTML list and in the API's answer (`read_as`, `hint`)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from casebook.auth.models import User
from casebook.cases.selectors import Query, search
from casebook.encrypted import Vault


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


def search_hint(session: Session, vault: Vault, user: User, query: Query, total: int) -> str | None:
    """What the reader should know about this search: how one word was read (even when it found
    cases: محمد alone finds the family المحمد), or what to add when it found nothing. When a
    name search with other fields found nothing, the name alone is searched too (among the
    cases this reader may see), so that a person kept out by another field is not said to be
    missing: the reader would stop looking, or enter them again."""
    alone = _name_alone(query) if not total else None
    found_alone = search(session, vault, user, alone).total if alone else 0
    message = _hint(query, total, found_alone)
    return str(message) if message else None


def _name_alone(query: Query) -> Query | None:
    """The same search with its name fields only (the name or the reference; with one word,
    the mother's name that makes it a first name), or None where it has no other field."""
    words = query.names().words
    if not (query.reference or words):
        return None
    mother = query.mother if len(words) == 1 and not query.reference else ""
    others = (
        query.birth_year,
        query.national_id,
        query.status,
        query.governorate,
        query.verification,
        query.partner,
        query.mother != mother,
    )
    return Query(q=query.q, mother=mother, per_page=1) if any(others) else None


def _hint(query: Query, total: int, found_alone: int) -> Any:
    names = query.names()
    words = names.words
    if query.reference:
        # the same words whether the case does not exist or is not the reader's to see
        if total:
            return None
        if found_alone:
            return _(
                "The case with this reference does not match the other fields of the search: "
                "search by the reference alone to see it."
            )
        return _("No case you can see has this reference, with these filters.")
    if found_alone:  # found nothing, but not for want of the name
        return _(
            "Cases you can see have this name, but none with the other fields of the search "
            "(%(fields)s): search by the name alone to see them.",
            fields=_(", ").join(_other_fields(query, words)),
        )
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
        notes = [note for note in (_words_between(words), _left_out(query, words)) if note]
        return " ".join(str(note) for note in notes) or None
    if query.mother and not words:
        return _(
            "The mother's name is searched together with the person's first or family name: "
            "write one of them in the Name field too."
        )
    if query.mother and len(words) == 1:
        return _(
            "No case you can see has this first or family name with this mother's name. Check "
            "how the mother's first name is written, or search without it."
        )
    if len(words) >= 2:
        return _(
            "No case you can see has this first and family name. Try the name as written on "
            "the ID, the name in Latin letters, or the family name alone; where the family name "
            "is not known, the first name with the father's or grandfather's name."
        )
    if query.national_id and not words:
        return _("No case has this national ID number. Check it, or search by name.")
    return None


def _words_between(words: tuple[str, ...]) -> Any:
    """Three words or more are read as the first and the family name: the words between are
    not compared (a father's name spelt otherwise would hide the person), which a reader who
    typed the father's name would not guess when a case of another father is listed."""
    if len(words) < 3:
        return None
    return _(
        "Only the first and the last word are compared, as the first and the family name; the "
        "words between (a father's or grandfather's name) are not: check them in the list."
    )


def _left_out(query: Query, words: tuple[str, ...]) -> Any:
    """The birth year and (beside a first and family name) the mother's name are checked
    against the record, and a record without them cannot agree: said, or a reader takes the
    list for every case of the name and enters the person again."""
    mother = bool(query.mother) and len(words) >= 2
    if query.birth_year and mother:
        return _(
            "Cases whose birth year or mother's name is not recorded are not listed when these "
            "are given: search without them to see them too."
        )
    if mother:
        return _(
            "Cases whose mother's name is not recorded are not listed when a mother's name is "
            "given: search without it to see them too."
        )
    if query.birth_year:
        return _(
            "Cases whose birth year is not recorded are not listed when a birth year is given: "
            "search without the year to see them too."
        )
    return None


def _other_fields(query: Query, words: tuple[str, ...]) -> list[str]:
    """The fields besides the name this search was given, named as the form names them: the
    hint names those that may have kept a case out, not every filter the list has (a
    documenter's form has no partner filter)."""
    given = [
        (bool(query.mother) and len(words) != 1, _("mother's name")),
        (bool(query.birth_year), _("birth year")),
        (bool(query.national_id), _("national ID")),
        (bool(query.status), _("status")),
        (bool(query.governorate), _("governorate")),
        (bool(query.verification), _("verification")),
        (query.partner, _("partner organisations")),
    ]
    return [label for present, label in given if present]
