"""The shapes of the API's success responses, for the OpenAPI document (apispec turns these
marshmallow schemas into JSON Schema). They describe what the views return; nothing dumps
through them. tests/foundation/test_openapi.py validates real responses against the document.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from marshmallow.validate import OneOf

Str, Int, Bool, Num = fields.String, fields.Integer, fields.Boolean, fields.Float


def _req(field: type[fields.Field[Any]], **kw: object) -> fields.Field[Any]:
    return field(required=True, **kw)  # type: ignore[arg-type]


def _opt(field: type[fields.Field[Any]], **kw: object) -> fields.Field[Any]:
    return field(required=True, allow_none=True, **kw)  # type: ignore[arg-type]


def _objects() -> fields.Field[Any]:
    return fields.List(fields.Dict(), required=True)


class CaseCreated(Schema):
    id = _req(fields.UUID)
    reference = _req(Str)
    possible_duplicate = _req(Bool)
    # only with a possible duplicate: that a lawyer will review, and (to those who may read
    # every case) the references of the cases it may duplicate
    message = Str()
    possible_duplicates = fields.List(Str())
    searchable_by_name = _req(
        Bool,
        metadata={
            "description": "false when no name search can find the case (a first name alone, "
            "with no family, father's, grandfather's or mother's name): `notice` says so"
        },
    )
    notice = Str()


class CaseSummary(Schema):
    id = _req(fields.UUID)
    reference = _req(Str)
    name = _opt(
        Str,
        metadata={
            "description": "First, father's and family name; where the family name is not "
            "known (missing, or a word for 'not known'), first, father's and grandfather's."
        },
    )
    family_name_known = _req(
        Bool, metadata={"description": "False where `name` ends with the grandfather's name."}
    )
    mother_name = _opt(Str)
    birth_date = _opt(Str)
    arrest_date = _opt(Str)
    governorate = _opt(Str)
    status = _opt(Str)
    verification = _req(Str)
    created_at = _req(Str)
    updated_at = _req(Str)


class CaseList(Schema):
    """One page of the cases the caller may see that match the query, newest first."""

    items = fields.List(fields.Nested(CaseSummary), required=True)
    page = _req(Int)
    per_page = _req(Int)
    total = _req(
        Int,
        metadata={
            "description": "The number of cases the caller may see that match every filter, "
            "after the exact check on the decrypted record. A lower bound when `total_is` is "
            "`at_least`."
        },
    )
    total_exact = _req(
        Bool, metadata={"description": "`total` is exact (the same as `total_is` = `exact`)."}
    )
    total_is = _req(
        Str,
        validate=OneOf(("exact", "at_least")),
        metadata={
            "description": "`exact`: every candidate was checked. `at_least`: the search "
            "stopped once this page and one more match were found, so at least `total` cases "
            "match and there is a next page."
        },
    )
    read_as = fields.String(
        required=True,
        allow_none=True,
        validate=OneOf(
            ("reference", "family_name", "first_name_with_mother", "first_and_family_name")
        ),
        metadata={
            "description": "What `q` was searched as: a case reference, one word as a family "
            "name, one word as the first or the family name (with `mother`: the value keeps its "
            "older name), or the first and family name; "
            "null without name words."
        },
    )
    hint = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "What to know about this search or to try next, in the language "
            "of Accept-Language (the sentence the HTML list shows), or null."
        },
    )


class CaseDocument(Schema):
    """A case as the caller may see it (the source only with the right to read it)."""

    id = _req(fields.UUID)
    reference = _req(Str)
    verification = _req(Str)
    current_status = _opt(Str)
    person = _req(fields.Dict)
    arrests = _objects()
    status = _objects()
    detention = _req(fields.Dict)
    family_actions = _objects()
    consent = _req(fields.Dict)
    testimonies = _objects()
    attachments = _objects()
    legal_notes = _objects()
    partner_marks = fields.List(
        fields.Dict(),
        metadata={
            "description": "Lawyers only: the partner organisations whose lists hold this person "
            '("also documented by"), each {"label", "date"}, oldest first; empty while the '
            "family's consent to partner matching is withdrawn. A mark made before the family "
            "last withdrew that consent and shown again since it gave it again also carries "
            '"consent_withdrawn" and "consent_given_again" (the two dates).'
        },
    )
    duplicate_of = _opt(fields.UUID)
    merged_into = _opt(Str)
    can_edit = _req(Bool)
    created_at = _req(Str)
    updated_at = _req(Str)
    source = fields.Dict()


class StatusAdded(Schema):
    current_status = _opt(Str)


class Created(Schema):
    id = _req(fields.UUID)


class Reviewed(Schema):
    verification = _req(Str)
    duplicate_of = _opt(fields.UUID)


class ConsentChanged(Schema):
    consent = _req(fields.Dict)


class NoteAdded(Schema):
    legal_notes = _req(Int)


class Assigned(Schema):
    assigned = _req(fields.UUID)


class Erased(Schema):
    reference = _req(Str)
    erased_at = _req(Str)


class AttachmentAdded(Schema):
    id = _req(fields.UUID)
    filename = _req(Str)
    sha256 = _req(Str)
    size = _req(Int)
    content_type = _req(Str)


class AuditEntryOut(Schema):
    seq = _req(Int)
    at = _req(Str)
    actor = _req(Str)
    actor_id = _opt(Str)
    role = _opt(Str)
    action = _req(Str)
    object_type = _opt(Str)
    object_id = _opt(Str)
    outcome = _req(Str)
    details = _opt(Str)
    prev_hash = _req(Str)
    hash = _req(Str)


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntryOut), required=True)
    next_after = _req(Int)


class StatsTable(Schema):
    dimensions = fields.List(Str(), required=True)
    k = _req(Int)
    epsilon = _opt(Num)
    verified_only = _req(Bool)
    release = _req(fields.Dict)
    grouped = _req(Bool)
    cells = _objects()
    total = _opt(Int)
    method = _req(Str)
    groups = fields.Dict()
    margins = fields.Dict()


class StatsReleaseOut(Schema):
    number = _req(Int)
    date = _req(Str)
    k = _req(Int)
    mode = _req(Str)
    scopes = _req(fields.Raw)
    cases = _req(Int)


class StatsReleases(Schema):
    items = fields.List(fields.Nested(StatsReleaseOut), required=True)


class ReleaseRef(Schema):
    number = _req(Int)
    date = _req(Str)


class Estimate(Schema):
    """A release's stored estimate: the figures when `estimable`, else the `reason` code."""

    release = fields.Nested(ReleaseRef, required=True)
    data_as_of = _req(Str)
    k = _req(Int)
    sources = _opt(Int)
    by = _opt(Str)
    estimable = _req(Bool)
    reason = Str()
    method = Str()
    estimate = Num()
    interval = fields.List(Num())
    level = Num()
    loglinear = fields.Dict()
    observed = Int(allow_none=True)
    samples = Int()
    seed = Int()
    warnings = fields.List(Str())
    strata = fields.List(fields.Dict())


class ImportReport(Schema):
    id = _req(fields.UUID)
    kind = _req(Str)
    encoding = _opt(Str)
    dry_run = _req(Bool)
    outcome = _req(Str)
    rows = _req(Int)
    imported = _req(Int)
    already_imported = _req(Int)
    rejected = _req(Int)
    problems = _objects()
    already_imported_rows = fields.List(Int(), required=True)
    repeated_rows = _objects()


class Packet(Schema):
    mechanism = _req(Str)
    reference = _req(Str)
    person = _req(fields.Dict)
    arrest = _opt(fields.Dict)
    detention = _opt(fields.Raw)
    status = _opt(fields.Raw)
    current_status = _opt(Str)
    family_steps = _opt(fields.Raw)
    source = _opt(fields.Raw)
    source_confidential = _req(Bool)
    photo_attached = _req(Bool)


class SubmissionIndex(Schema):
    index = _req(Int)


class Candidate(Schema):
    id = _req(fields.UUID)
    kind = _req(
        Str,
        validate=OneOf(("dedupe", "entry", "list", "held")),
        metadata={
            "description": "What raised it: `dedupe` (a run), `entry` (the check at entry), "
            "`list` (an outside list's row), `held` (a run held it back as maybe two people: "
            "proposing it beside another pair would make two people with different first "
            "names, most likely brothers, one person through one report, or the two cases' "
            "dates of birth differ in both month and day or by ten years or more; a lawyer "
            "decides)."
        },
    )
    score = _req(Num)
    a = _opt(Str)
    b = _opt(Str)
    list_row = _opt(fields.Raw)


class Candidates(Schema):
    items = fields.List(fields.Nested(Candidate), required=True)
    page = _req(Int)
    per_page = _req(Int)
    total = _req(Int)


class Decided(Schema):
    status = _req(Str)
    kept = _opt(Str)


class RunOut(Schema):
    id = _req(fields.UUID)
    state = _req(Str)
    started_at = _req(Str)
    finished_at = _opt(Str)
    threshold = _opt(Num)
    cases = _opt(Int)
    read = _opt(Int)
    model = _opt(fields.Raw)
    compared = _opt(Int)
    expected_pairs = _opt(Num)
    pairs = _opt(Int)
    queued = _opt(Int)
    held = _opt(
        Int, metadata={"description": "pairs held back (may be two people) queued or marked so"}
    )
    decided = _opt(
        Int,
        metadata={
            "description": "pairs at or above the score a lawyer had already decided (or a "
            "merge closed): not raised again"
        },
    )
    summary = _opt(fields.Raw)
    error = _opt(Str)


class RunState(Schema):
    run = fields.Nested(RunOut, required=True, allow_none=True)
    message = Str()


class Undone(Schema):
    restored = _req(Str)
    kept = _req(Str)


class OpenAPIDocument(Schema):
    openapi = _req(Str)
    info = _req(fields.Dict)
    paths = _req(fields.Dict)
    components = _req(fields.Dict)
    security = fields.List(fields.Dict())


RESPONSES: tuple[type[Schema], ...] = (
    CaseCreated,
    CaseList,
    CaseDocument,
    StatusAdded,
    Created,
    Reviewed,
    ConsentChanged,
    NoteAdded,
    Assigned,
    Erased,
    AttachmentAdded,
    AuditPage,
    StatsTable,
    StatsReleases,
    Estimate,
    ImportReport,
    Packet,
    SubmissionIndex,
    Candidates,
    Decided,
    RunState,
    Undone,
    OpenAPIDocument,
)
