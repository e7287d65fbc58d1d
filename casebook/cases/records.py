"""The shape of a case record, as the schemas of `casebook.cases.schemas` produce it.

These are types only (no runtime check, no change to what is stored): marshmallow validates,
and these say to mypy what a validated value holds. A key is required where the schema always
produces it (`required=True`, or a `load_default`); every other key is `NotRequired`, since
marshmallow leaves a field that was not given out of the result. A nested section whose
`load_default` is an empty dict (detention, source) is stored as `{}` when left out, so all of
its keys are optional too.

Stored names are the schema's attribute names, not its data keys: a detention place keeps
`date_from`/`date_to` (the API reads and writes "from"/"to").
"""

from __future__ import annotations

from typing import Any, NotRequired, Required, TypedDict


class Person(TypedDict):
    """PersonSchema."""

    first_name: str
    sex: str  # load_default "unknown"
    family_name: NotRequired[str]  # missing where the family or a list does not know it
    father_name: NotRequired[str]
    grandfather_name: NotRequired[str]
    mother_name: NotRequired[str]
    latin_name: NotRequired[str]
    other_names: NotRequired[list[str]]
    birth_date: NotRequired[str]  # a partial ISO date: 1985, 1985-03 or 1985-03-14
    birth_place: NotRequired[str]
    nationality: NotRequired[str]
    national_id: NotRequired[str]
    occupation: NotRequired[str]
    civil_status: NotRequired[str]
    dependants: NotRequired[int]
    address: NotRequired[str]
    description: NotRequired[str]


class Arrest(TypedDict, total=False):
    """ArrestSchema (no key is required)."""

    merged_from: str  # the reference of the case it came from, after a merge
    date: str
    governorate: str
    place: str
    perpetrator: str
    unit: str
    circumstances: str
    reason_given: str
    witnesses: str


class DetentionPlace(TypedDict, total=False):
    """DetentionSchema.places (a facility or a place is required, by a schema rule)."""

    merged_from: str
    facility: str
    place: str
    date_from: str  # "from" in the API
    date_to: str  # "to" in the API
    note: str


class Detention(TypedDict, total=False):
    """DetentionSchema; `{}` when the section was left out."""

    places: list[DetentionPlace]
    transfers: str
    court: str
    charge: str


class StatusEntry(TypedDict):
    """StatusSchema: one change of the person's status (the last is the current one)."""

    status: str
    merged_from: NotRequired[str]
    date: NotRequired[str]
    source: NotRequired[str]
    note: NotRequired[str]


class FamilyAction(TypedDict):
    """FamilyActionSchema; a submission to a mechanism is type "submission" with `body`."""

    type: str
    merged_from: NotRequired[str]
    date: NotRequired[str]
    body: NotRequired[str]
    reference: NotRequired[str]
    reply: NotRequired[str]
    reply_date: NotRequired[str]
    amount: NotRequired[str]
    note: NotRequired[str]


class Source(TypedDict, total=False):
    """SourceSchema, sealed on its own (`Case.source`); `{}` when the section was left out."""

    name: str
    relationship: str
    contact: str
    language: str
    reliability: str  # load_default "unknown" when the section is given
    confidential: bool  # load_default True when the section is given


class ConsentState(TypedDict):
    """A consent scope's grant and date without its history: an earlier state, kept in the
    history when it changes (`consent_change`), and what the API shows of each scope."""

    granted: bool | None
    date: str | None


class ConsentEntry(TypedDict):
    """ConsentEntrySchema (a schema rule requires the date), and the history of changes."""

    granted: bool
    date: str
    history: NotRequired[list[ConsentState]]


# Consent scope code (casebook.vocab.CONSENT_SCOPES) -> its entry; sealed as `Case.consent`.
Consent = dict[str, ConsentEntry]


class MergedCase(TypedDict):
    """A case absorbed into this one by a merge (linkage.services.case_merge): what its undo
    needs to give the absorbed case back as it was."""

    reference: str
    case_id: str
    at: str
    by: str
    source: Source
    person: Person
    verification: str
    duplicate_of: str | None
    testimonies: list[str]
    attachments: list[str]


class CaseRecord(TypedDict):
    """The sealed `Case.record`: every section of the case but its source and consent."""

    person: Person
    arrests: list[Arrest]
    detention: Detention
    status: list[StatusEntry]
    family_actions: list[FamilyAction]
    merged: NotRequired[list[MergedCase]]


class TestimonyIn(TypedDict):
    """TestimonyInSchema."""

    text: str
    language: str  # load_default "ar"
    date: NotRequired[str]


class TestimonyBody(TypedDict):
    """The sealed `Testimony.body`."""

    text: str
    date: str | None
    language: str
    merged_from: NotRequired[str]  # the reference of the case it came from, after a merge


class CaseIn(TypedDict):
    """CaseInSchema: a whole new case (API, form, import, field submission)."""

    person: Person
    arrests: list[Arrest]
    detention: Detention
    status: list[StatusEntry]
    family_actions: list[FamilyAction]
    source: Source
    consent: Consent
    testimonies: list[TestimonyIn]


class CasePatch(TypedDict, total=False):
    """CasePatchSchema: the sections a PATCH changes. Lists are checked here and replace the
    stored ones; person, detention and source are any JSON objects until they are merged with
    the stored section and loaded by its own schema (cases.services.case_update)."""

    person: dict[str, Any]
    arrests: list[Arrest]
    detention: dict[str, Any]
    status: list[StatusEntry]
    family_actions: list[FamilyAction]
    source: dict[str, Any]
    consent: Consent


class ConsentChangeIn(TypedDict):
    """ConsentChangeSchema: one scope granted or withdrawn, with its date."""

    scope: str
    granted: bool
    date: str


class ReviewIn(TypedDict):
    """ReviewSchema: a lawyer's decision on a case."""

    verification: str
    duplicate_of: NotRequired[str | None]
    different_first_names: bool
    note: NotRequired[str]


class CaseSummary(TypedDict):
    """One line of a case list (cases.selectors.summary; the API's list items)."""

    id: str
    reference: str
    name: str  # cases.derived.display_name
    family_name_known: bool
    mother_name: str | None
    birth_date: str | None
    status: str | None
    governorate: str | None
    arrest_date: str | None
    verification: str
    created_at: str
    updated_at: str


class LegalNote(TypedDict):
    """One of the sealed `Case.legal_notes` (lawyers only)."""

    text: str
    by: str | None
    at: str


class Facets(TypedDict):
    """The sealed `Case.facets` (cases.derived.facets): the statistics dimensions of one case,
    under the facets key so that counting never unwraps a case's data key."""

    arrest_year: int | None
    arrest_month: str | None
    governorate: str
    sex: str
    age_band: str
    perpetrator: str
    facility: str
    status: str
    statistics_consent: bool


class ListPerson(TypedDict, total=False):
    """A person as a row of an outside list gives them (linkage.lists): names split from a
    full name or given in columns, a birth year, and a place with its governorate code when
    one is recognised. Not a record: every key may be missing."""

    first_name: str
    father_name: str
    grandfather_name: str
    family_name: str
    mother_name: str
    birth_date: str  # a year
    place: str
    governorate: str


class ListRow(ListPerson, total=False):
    """A matched row of an outside list, sealed with its review item (`MatchCandidate.row`)."""

    row: Required[int]  # its row number, as the list's user sees it
    fits: int  # set when the row fits several cases: how many (each its own review item)
