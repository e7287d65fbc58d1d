"""JSON API v1 for cases (design.md §8). Errors: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, make_response, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from casebook import db
from casebook.auth.guards import fresh_factor
from casebook.auth.permissions import Permission
from casebook.cases import derived, hints, selectors
from casebook.cases.attachments import (
    attachment_chunks,
    attachment_downloaded,
    attachment_store,
    clean_filename,
)
from casebook.cases.models import Case
from casebook.cases.schemas import (
    AssignSchema,
    EraseSchema,
    ListQuerySchema,
    filters_given_twice,
    flatten_errors,
)
from casebook.cases.services import (
    MERGED_INTO_ANOTHER,
    CaseInputError,
    CaseStateError,
    case_assign,
    case_create,
    case_erase,
    case_lock,
    case_review,
    case_update,
    case_viewed,
    consent_change,
    legal_note_add,
    status_add,
    testimony_add,
)
from casebook.encrypted import Vault
from casebook.events import case_entered, send_required
from casebook.names.search import record_keys
from casebook.partners.services import marks_of
from casebook.web import current_actor, error_response, requires

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1/cases")


def _vault() -> Vault:
    v: Vault = current_app.extensions["casebook.vault"]
    return v


def _instance() -> Path:
    return Path(current_app.config["CASEBOOK"].instance)


def _json() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        return None
    return data


def invalid(fields: dict[str, list[str]]) -> Response:
    return error_response(422, "The case was not saved: correct the fields listed.", fields=fields)


def _body_or_error() -> tuple[Any, Response | None]:
    data = _json()
    if not isinstance(data, dict):
        return None, error_response(400, "Send a JSON object (Content-Type: application/json).")
    return data, None


@bp.post("")
@requires(Permission.CASE_CREATE)
def create() -> Any:
    data, err = _body_or_error()
    if err:
        return err
    try:
        case = case_create(db.session(), current_actor(), data, created_by=current_user.id)
    except CaseInputError as exc:
        return invalid(exc.fields)
    body: dict[str, Any] = {"id": str(case.id), "reference": case.reference}
    body.update(possible_duplicates(case))
    body.update(name_search_notice(case))
    response = make_response(jsonify(body), 201)
    response.headers["Location"] = url_for(".show", case_id=str(case.id))
    return _with_version(response, case)  # a first change may name the version it created


def name_search_notice(case: Case) -> dict[str, Any]:
    """Whether a name search can find the case just entered. A first name alone (وليد, no
    other name) is in no blind index, as no first name is: such a case is found only by its
    reference, and the next documenter who searches for the person would enter them again."""
    person = derived.record_person(case.record)
    keys = record_keys(person, derived.birth_year(person)) if person else []
    if any(name != "nid" for name, _ in keys):
        return {"searchable_by_name": True}
    return {
        "searchable_by_name": False,
        "notice": gettext(
            "No name search can find %(reference)s: it gives no family, father's, "
            "grandfather's or mother's name with the first name. Add one when the family "
            "knows it; until then the case is found by its reference.",
            reference=case.reference,
        ),
    }


def possible_duplicates(case: Case) -> dict[str, Any]:
    """The check at entry, as the person entering may hear it: everyone learns that a lawyer
    will review a possible duplicate; only those who may read every case learn which."""
    answers = send_required(case_entered, db.session(), actor=current_actor(), case=case)
    similar = [c for answer in answers for c in answer]
    if not similar:
        return {"possible_duplicate": False}
    out: dict[str, Any] = {
        "possible_duplicate": True,
        "message": gettext("This person may already be in casebook: a lawyer will review."),
    }
    if current_user.can(Permission.CASE_READ_ALL):
        references = [c.reference for c in similar]
        out["possible_duplicates"] = references
        out["message"] = ngettext(
            "This person may already be in casebook as %(references)s: the pair is in the "
            "Duplicates review queue.",
            "This person may already be in casebook as one of %(references)s: the pairs are "
            "in the Duplicates review queue.",
            len(references),
            references=gettext(", ").join(references),
        )
    return out


@bp.get("")
@requires(Permission.CASE_READ)
def index() -> Any:
    return _search(request.args)


@bp.post("/search")
@requires(Permission.CASE_READ)
def search() -> Any:
    """The list and search of `GET /api/v1/cases` with the query in a JSON body: names and
    mothers' names typed into a search stay out of the URL, and so out of every proxy's and
    server's request log (a GET's query string is logged wherever access logs are on)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object (Content-Type: application/json).")
    return _search(data)


def _search(args: Mapping[str, Any]) -> Any:
    schema = ListQuerySchema()
    # a filter this list does not have (a misspelt one, say) is refused, not ignored: ignored,
    # it answers every case as if filtered (the schema excludes unknowns for the HTML list,
    # whose form sends its own fields)
    unknown = {key: ["This list has no such filter."] for key in args if key not in schema.fields}
    unknown |= filters_given_twice(args)
    try:
        params = schema.load(args)
    except ValidationError as exc:
        # every problem at once: a filter refused to this role beside the unreadable ones
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        refused = selectors.refused_filters(current_user, valid)
        errors = flatten_errors(exc.messages) | unknown | refused
        return error_response(422, "The query has problems.", fields=errors)
    refused = selectors.refused_filters(current_user, params)
    if unknown:
        return error_response(422, "The query has problems.", fields=unknown | refused)
    if refused:
        # the query is well formed and only the role stands in the way: 403, as for any
        # other thing this role may not do, still naming the filter and why
        return error_response(403, fields=refused)
    query = selectors.Query(**params)
    s = db.session()
    found = selectors.search(s, _vault(), current_user, query)
    from casebook.audit.services import audit_record

    # The query text is personal data: the log records which filters were used, not values.
    audit_record(
        s,
        current_actor(),
        "case.list",
        details={
            "by_name": query.by_name and not query.reference,
            "by_reference": bool(query.reference),
            "status": query.status,
            "governorate": query.governorate,
            "verification": query.verification,
            "partner": query.partner,
            "results": found.total,
            "page": query.page,
        },
    )
    return jsonify(
        {
            "items": [selectors.summary(c) for c in found.items],
            "page": query.page,
            "per_page": query.per_page,
            "total": found.total,
            "total_exact": found.total_exact,
            "total_is": "exact" if found.total_exact else "at_least",
            "read_as": hints.read_as(query),
            "hint": hints.search_hint(s, _vault(), current_user, query, found.total),
        }
    )


@bp.get("/<case_id>")
@requires(Permission.CASE_READ)
def show(case_id: str) -> Any:
    s = db.session()
    case, doc = selectors.case_page(s, current_user, case_id)
    if current_user.can(Permission.CASE_REVIEW):
        # lawyers read which partner organisations also document this person, as on the page
        doc["partner_marks"] = [
            {"label": m.get("label", ""), "date": m.get("date")}
            | {k: m[k] for k in ("consent_withdrawn", "consent_given_again") if k in m}
            for m in marks_of(s, case.id, case.consent)
        ]
    case_viewed(s, current_actor(), case, source="source" in doc, legal="legal_notes" in doc)
    return _with_version(jsonify(doc), case)


def _with_version(response: Response, case: Case) -> Response:
    """The case's version as the response's ETag: sent back in If-Match, a change made on an
    older copy is refused (412) rather than saved over what was written since."""
    response.set_etag(selectors.case_version(case))
    return response


STALE_COPY = (
    "If-Match does not name this case's version: the case was changed after it was read, "
    "or the value is not an ETag this server sent (weak W/ tags never match). Read the "
    "case again, apply your change to what it holds now, and send it with the new ETag."
)


def case_json_action(
    case_id: str, change: Callable[[Session, Case, dict[str, Any]], Any], *, edit: bool = False
) -> Any:
    """Read the JSON body, load-then-authorise and lock the case, apply one service; every
    refusal becomes the API's error shape (404 unseen, 409 state, 400 body, 412 a stale
    If-Match, 422 fields)."""
    s = db.session()
    data, err = _body_or_error()  # read before the case is locked: a slow sender holds no lock
    case = selectors.case_or_404(s, current_user, case_id)
    case_lock(s, case)  # a verification or merge committed meanwhile is seen before deciding
    if case.merged_into is not None:  # sealed by a merge: nothing changes it but an undo
        return error_response(409, MERGED_INTO_ANOTHER, code="conflict")
    if edit and not selectors.may_edit(current_user, case):
        return error_response(
            409,
            "This case can no longer be edited by you (it is verified, "
            "or not yours). Ask a lawyer.",
            code="conflict",
        )
    if err:
        return err
    if request.if_match and not request.if_match.contains(selectors.case_version(case)):
        return _with_version(error_response(412, STALE_COPY, code="precondition_failed"), case)
    try:
        # every answer carries the case's version after the change, for the next If-Match
        return _with_version(make_response(change(s, case, data)), case)
    except CaseInputError as exc:
        return invalid(exc.fields)
    except ValidationError as exc:
        return invalid(flatten_errors(exc.messages))
    except CaseStateError as exc:
        return error_response(409, str(exc))


@bp.patch("/<case_id>")
@requires(Permission.CASE_EDIT)
def patch(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        case_update(s, current_actor(), case, data)
        return jsonify(selectors.case_document(s, current_user, case))

    return case_json_action(case_id, change, edit=True)


@bp.post("/<case_id>/status")
@requires(Permission.CASE_EDIT)
def add_status(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        status_add(s, current_actor(), case, data)
        facets = case.facets
        return jsonify({"current_status": facets.get("status") if facets else None}), 201

    return case_json_action(case_id, change, edit=True)


@bp.post("/<case_id>/testimonies")
@requires(Permission.CASE_CREATE)
def add_testimony(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        testimony = testimony_add(s, current_actor(), case, data, current_user.id)
        return jsonify({"id": str(testimony.id)}), 201

    return case_json_action(case_id, change)


def receive_upload(case: Any) -> tuple[Any, str | None]:
    """Keep the multipart "file" part of this (already authorised) request."""
    from casebook.uploads import EncryptedSpool

    upload = request.files.get("file")
    if upload is None or not isinstance(upload.stream, EncryptedSpool):
        return None, "Send the file in a multipart field named 'file'."
    settings = current_app.config["CASEBOOK"]
    result = attachment_store(
        db.session(),
        current_actor(),
        case,
        upload.stream,
        upload.filename or "",
        _instance() / "attachments",
        settings.max_attachment_bytes,
        current_user.id,
    )
    if isinstance(result, str):
        return None, result
    return result, None


@bp.post("/<case_id>/attachments")
@requires(Permission.CASE_CREATE)
def add_attachment(case_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    if case.erased_at is not None:
        return error_response(409)
    attachment, problem = receive_upload(case)
    if problem:
        return error_response(422, problem, fields={"file": [problem]})
    meta = attachment.meta or {}
    return jsonify(
        {
            "id": str(attachment.id),
            "filename": meta.get("filename"),
            "sha256": meta.get("sha256"),
            "size": meta.get("size"),
            "content_type": meta.get("content_type"),
        }
    ), 201


@bp.get("/<case_id>/attachments/<attachment_id>")
@requires(Permission.CASE_READ)
def get_attachment(case_id: str, attachment_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    attachment = selectors.attachment_or_404(s, case, attachment_id)
    return download_response(attachment)


def download_response(attachment: Any) -> Response:
    s = db.session()
    meta = attachment.meta or {}
    chunks = attachment_chunks(_vault(), s, attachment, _instance() / "attachments")
    first = next(chunks, b"")  # fail before any byte is sent if the key or file is wrong
    # Recorded in this request's one commit, which happens before the body is streamed.
    attachment_downloaded(s, current_actor(), attachment)

    def body() -> Any:
        yield first
        yield from chunks

    # cleaned again: names kept before intake cleaned them may hold controls or bidi overrides
    filename = clean_filename(str(meta.get("filename") or ""), meta.get("content_type"))
    from urllib.parse import quote

    return Response(
        body(),
        mimetype=str(meta.get("content_type") or "application/octet-stream"),
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Content-Length": str(meta.get("size", "")),
        },
    )


@bp.post("/<case_id>/review")
@requires(Permission.CASE_REVIEW)
def review(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        case_review(s, current_actor(), case, data)
        return jsonify(
            {
                "verification": case.verification,
                "duplicate_of": str(case.duplicate_of) if case.duplicate_of else None,
            }
        )

    return case_json_action(case_id, change)


@bp.post("/<case_id>/consent")
@requires(Permission.CASE_EDIT)
def consent(case_id: str) -> Any:
    """Consent decides what leaves casebook (packets, statistics): only who may edit the case
    changes it (its author until it is verified, or a lawyer), never a documenter it is only
    assigned to."""

    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        consent_change(s, current_actor(), case, data)
        return jsonify({"consent": selectors.consent_summary(case)})

    return case_json_action(case_id, change, edit=True)


@bp.post("/<case_id>/legal-notes")
@requires(Permission.LEGAL_NOTES)
def legal_note(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        legal_note_add(s, current_actor(), case, str(data.get("text", "")))
        return jsonify({"legal_notes": len(case.legal_notes or [])}), 201

    return case_json_action(case_id, change)


@bp.post("/<case_id>/assign")
@requires(Permission.CASE_REVIEW)
def assign(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        user_id = AssignSchema().load(data)["user_id"]
        case_assign(s, current_actor(), case, user_id)
        return jsonify({"assigned": str(user_id)})

    return case_json_action(case_id, change)


@bp.post("/<case_id>/erase")
@requires(Permission.CASE_ERASE)
@fresh_factor
def erase(case_id: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        confirm = EraseSchema().load(data)["confirm"]
        case_erase(
            s,
            current_actor(),
            case,
            confirm,
            _instance() / "attachments",
            _instance() / "erasures.jsonl",
        )
        erased = case.erased_at.isoformat() if case.erased_at else None
        return jsonify({"reference": case.reference, "erased_at": erased})

    return case_json_action(case_id, change)
