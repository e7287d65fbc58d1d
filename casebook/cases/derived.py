"""Search keys and statistics facets derived from a record (pure functions, no I/O)."""

from __future__ import annotations

from casebook.cases.records import Arrest, CaseRecord, Consent, Facets, ListPerson, Person
from casebook.cases.schemas import partial_bounds
from casebook.names.matching import common_names, is_unknown, name_form, usual_names
from casebook.names.search import record_keys
from casebook.vocab import perpetrator_group

# index name -> parts (all normalised). Low-cardinality values (sex, governorate, year) appear
# only inside compounds, never alone (CipherSweet's rule).
INDEXES = ("name", "family", "family_year", "mother", "latin", "nid", "kin")


def birth_year(person: Person | ListPerson) -> int | None:
    birth = person.get("birth_date")
    return partial_bounds(birth)[0].year if birth else None


def index_keys(person: Person | None) -> list[tuple[str, tuple[str, ...]]]:
    """Every (index, parts) a person's record is findable by (casebook.names.search)."""
    if not person:
        return []
    return record_keys(person, birth_year(person))


def family_name_known(person: Person | ListPerson | None) -> bool:
    """Whether the record gives a family name, not a blank or a word for "not known"."""
    return bool(person) and not is_unknown(str((person or {}).get("family_name") or ""))


def display_name(person: Person | None) -> str:
    """The name a list or a heading shows: first, father's and family name; where the family
    name is not known, first, father's and grandfather's (the three-part name people give in
    its place), so that a father's name is never read as the family name."""
    if not person:
        return ""
    last = "family_name" if family_name_known(person) else "grandfather_name"
    return _joined(person, ("first_name", "father_name", last))


def full_name(person: Person | None) -> str:
    """Every name part a record gives, in order, leaving out a family name written as "not
    known" (a packet read abroad must not take "غير معروف" or "-" for a family name)."""
    if not person:
        return ""
    family = ("family_name",) if family_name_known(person) else ()
    return _joined(person, ("first_name", "father_name", "grandfather_name", *family))


def _joined(person: Person, fields: tuple[str, ...]) -> str:
    return " ".join(str(value) for f in fields if (value := person.get(f)))


def consents_to(consent: Consent | None, scope: str) -> bool:
    """Whether the family's consent to this scope is given now (not withdrawn, not absent)."""
    entry = consent.get(scope) if consent else None
    return isinstance(entry, dict) and entry.get("granted") is True


def record_person(record: CaseRecord | None) -> Person | None:
    """The person of a record, None for none (an erased case has no record)."""
    return record.get("person") if record else None


def current_status(record: CaseRecord) -> str:
    history = record.get("status") or []
    return str(history[-1]["status"]) if history else "unknown"


def age_band(person: Person | None, arrest_date: str | None) -> str:
    if not person or not person.get("birth_date") or not arrest_date:
        return "unknown"
    born = partial_bounds(person["birth_date"])
    arrested = partial_bounds(arrest_date)
    mid_born = born[0].toordinal() + (born[1].toordinal() - born[0].toordinal()) // 2
    mid_arrest = arrested[0].toordinal() + (arrested[1].toordinal() - arrested[0].toordinal()) // 2
    age = (mid_arrest - mid_born) / 365.2425
    if age < 18:
        return "under_18"
    if age < 30:
        return "18_29"
    if age < 45:
        return "30_44"
    if age < 60:
        return "45_59"
    return "60_plus"


def facets(record: CaseRecord, consent: Consent) -> Facets:
    """The statistics dimensions of design.md §8 for one case (first arrest, current status)."""
    person = record.get("person")
    arrests = record.get("arrests") or []
    first: Arrest = arrests[0] if arrests else {}
    date = first.get("date")
    places = (record.get("detention") or {}).get("places") or []
    facility = next((p.get("facility") for p in places if p.get("facility")), None)
    if facility is None and places:
        facility = "other"  # described in free text, not one of the listed facilities
    statistics = consent.get("statistics")
    return {
        "arrest_year": partial_bounds(date)[0].year if date else None,
        "arrest_month": date[:7] if date and len(date) >= 7 else None,
        "governorate": first.get("governorate") or "unknown",
        "sex": (person.get("sex") if person else None) or "unknown",
        "age_band": age_band(person, date),
        "perpetrator": perpetrator_group(first["perpetrator"])
        if first.get("perpetrator")
        else "unknown",
        "facility": facility or "unknown",
        "status": current_status(record),
        "statistics_consent": bool(statistics and statistics.get("granted")),
    }


def known_first_names(record: CaseRecord | None) -> set[str]:
    """The common first names a case gives: its own and those of the cases merged into it,
    a name in Latin letters read as the common names it is a usual spelling of (Said is
    سعيد: merged into سعد's case, it makes two brothers one just as سعيد would)."""
    if record is None:
        return set()
    given: list[object] = [(record.get("person") or {}).get("first_name")]
    given += [(m.get("person") or {}).get("first_name") for m in record.get("merged") or []]
    common = common_names()
    known: set[str] = set()
    for name in (str(n) for n in given if n):
        form = name_form(name)
        known |= {form} & common or usual_names(name) & common
    return known


def first_names_differ(one: CaseRecord | None, other: CaseRecord | None) -> bool:
    """Whether taking two cases for one person would make one of two different common first
    names (حسن and حسين): most likely brothers. A merge, and a review marking one case a
    duplicate of the other, need the lawyer's word for it."""
    ours, theirs = known_first_names(one), known_first_names(other)
    return bool(ours and theirs and not ours & theirs)
