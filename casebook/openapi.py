"""GET /api/v1/openapi.json: the API described with apispec from the marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify

from casebook import api_responses
from casebook.cases import schemas
from casebook.web import public

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}


# what each error answer means, for the document's readers (the body's `message` says more)
ERROR_MEANINGS = {
    400: "the body is not the JSON object expected",
    401: "no valid session or bearer token",
    403: "the caller's role may not do this",
    404: "no such thing, or not one the caller may see",
    409: "the current state refuses it (merged, verified, erased, already decided)",
    412: "If-Match does not name the case's current version: read it again",
    413: "the upload is larger than the limit",
    422: "fields need attention: `fields` lists every problem by path",
    429: "too many requests: wait and try again",
}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    out = dict(ok)
    for code in codes:
        out[str(code)] = {
            "description": ERROR_MEANINGS.get(code, "error"),
            "content": {"application/json": {"schema": ERROR}},
        }
    return out


def ok(schema: type[Any], description: str = "ok") -> dict[str, Any]:
    """A success response whose body is `schema` (from casebook.api_responses)."""
    ref = {"$ref": f"#/components/schemas/{schema.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _json_body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="casebook API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Encrypted case records. Bearer token (casebook user token) or "
            "session cookie with X-CSRFToken."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in (
        ("CaseIn", schemas.CaseInSchema),
        ("CasePatch", schemas.CasePatchSchema),
        ("StatusIn", schemas.StatusInSchema),
        ("TestimonyIn", schemas.TestimonyInSchema),
        ("Review", schemas.ReviewSchema),
        ("ConsentChange", schemas.ConsentChangeSchema),
        ("LegalNote", schemas.LegalNoteSchema),
        ("Erase", schemas.EraseSchema),
        ("Assign", schemas.AssignSchema),
        ("ListQuery", schemas.ListQuerySchema),
    ):
        if name not in spec.components.schemas:  # nested schemas register themselves by name
            spec.components.schema(name, schema=schema)
    for response in api_responses.RESPONSES:
        if response.__name__ not in spec.components.schemas:
            spec.components.schema(response.__name__, schema=response)
    spec.components.schema(
        "Error",
        {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                }
            },
        },
    )
    case_id = {
        "name": "case_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    if_match = {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "the ETag of the case as last read: the change is refused with 412 if "
        "the case was changed since (send it whenever you replace a list: status, arrests, "
        "family actions)",
        "schema": {"type": "string"},
    }
    version_header = {
        "ETag": {
            "description": "the case's version, for If-Match on a later change",
            "schema": {"type": "string"},
        }
    }
    att_id = {
        "name": "attachment_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    r = api_responses
    spec.path(
        "/api/v1/cases",
        operations={
            "post": {
                "summary": "Create a case",
                "requestBody": _json_body("CaseIn"),
                "responses": _responses(
                    {
                        "201": {
                            **ok(r.CaseCreated),
                            "headers": {
                                **version_header,
                                "Location": {
                                    "description": "the new case's URL",
                                    "schema": {"type": "string"},
                                },
                            },
                        }
                    },
                    400,
                    401,
                    403,
                    422,
                ),
            },
            "get": {
                "summary": "List or search cases visible to the caller",
                "description": "Newest first. `total` has one meaning on every path (plain "
                "list, name search, status or governorate filter) and is the same number the "
                "HTML case list shows: the cases the caller may see that match every filter, "
                "after the exact check on the decrypted record. Filters on encrypted fields "
                "check candidates newest first and stop once the page and one more match are "
                "found; when they stop before the last candidate, `total_is` is `at_least` "
                "(and `total_exact` false): `total` is then a lower bound, at least "
                "page x per_page + 1, and a later page reads on. Otherwise `total_is` is "
                "`exact`. A name in `q` or `mother` is in the URL, and so in any request log "
                "on its way: prefer `POST /api/v1/cases/search`. `partner=true` lists only "
                "cases a partner organisation's list also holds (their marks in use, with the "
                "family's consent to partner matching); lawyers only: 403 for others, or "
                "422 listing it with the query's other problems.",
                # from the schema that reads them: types, ranges and the status, governorate
                # and verification codes as enums
                "parameters": [{"in": "query", "schema": schemas.ListQuerySchema}],
                "responses": _responses({"200": ok(r.CaseList)}, 401, 403, 422),
            },
        },
    )
    spec.path(
        "/api/v1/cases/search",
        operations={
            "post": {
                "summary": "List or search cases, the query in the body (names stay out of URLs)",
                "description": "The same fields and answer as `GET /api/v1/cases`, sent as a "
                "JSON object: a name or mother's name in a GET's query string is written to "
                "every request log in its way (proxies, gunicorn's error log for a malformed "
                "request line); in a body it is not.",
                "requestBody": _json_body("ListQuery"),
                "responses": _responses({"200": ok(r.CaseList)}, 400, 401, 403, 422),
            }
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}",
        parameters=[case_id],
        operations={
            "get": {
                "summary": "A case as the caller may see it",
                "responses": _responses(
                    {"200": {**ok(r.CaseDocument), "headers": version_header}}, 401, 403, 404
                ),
            },
            "patch": {
                "summary": "Change a case",
                "parameters": [if_match],
                "requestBody": _json_body("CasePatch"),
                "responses": _responses(
                    {"200": {**ok(r.CaseDocument), "headers": version_header}},
                    400,
                    401,
                    403,
                    404,
                    409,
                    412,
                    422,
                ),
            },
        },
    )
    for path, body, summary, answer in (
        ("status", "StatusIn", "Add a status change", {"201": ok(r.StatusAdded)}),
        ("testimonies", "TestimonyIn", "Add a testimony", {"201": ok(r.Created)}),
        ("review", "Review", "Record a lawyer's review", {"200": ok(r.Reviewed)}),
        ("consent", "ConsentChange", "Grant or revoke consent", {"200": ok(r.ConsentChanged)}),
        ("legal-notes", "LegalNote", "Add a legal note", {"201": ok(r.NoteAdded)}),
        ("assign", "Assign", "Assign to a documenter", {"200": ok(r.Assigned)}),
        (
            "erase",
            "Erase",
            "Erase the case (crypto-shredding); with a bearer token, also send a current "
            "authenticator code of its user in the X-Casebook-OTP header",
            {"200": ok(r.Erased)},
        ),
    ):
        spec.path(
            f"/api/v1/cases/{{case_id}}/{path}",
            parameters=[case_id],
            operations={
                "post": {
                    "summary": summary,
                    "requestBody": _json_body(body),
                    **({} if path == "erase" else {"parameters": [if_match]}),
                    "responses": _responses(
                        answer
                        if path == "erase"
                        else {c: {**a, "headers": version_header} for c, a in answer.items()},
                        400,
                        401,
                        403,
                        404,
                        409,
                        *(() if path == "erase" else (412,)),
                        422,
                    ),
                }
            },
        )
    spec.path(
        "/api/v1/cases/{case_id}/attachments",
        parameters=[case_id],
        operations={
            "post": {
                "summary": "Attach a file (image, PDF, audio)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": _responses({"201": ok(r.AttachmentAdded)}, 401, 403, 404, 413, 422),
            }
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/attachments/{attachment_id}",
        parameters=[case_id, att_id],
        operations={
            "get": {
                "summary": "Download an attachment (decrypted)",
                "responses": _responses({"200": {"description": "the file"}}, 401, 403, 404),
            }
        },
    )
    spec.path(
        "/api/v1/audit",
        operations={
            "get": {
                "summary": "The audit log in order (admin)",
                "parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": _responses({"200": ok(r.AuditPage)}, 401, 403, 422),
            }
        },
    )
    spec.path(
        "/api/v1/openapi.json",
        operations={
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": ok(r.OpenAPIDocument)},
            }
        },
    )
    _more_paths(spec, case_id)
    doc = spec.to_dict()
    doc["security"] = [{"bearer": []}]
    # the search refuses a filter it does not have (the schema excludes unknowns only for the
    # HTML form, whose fields are its own); a birth year needs a name, mother's name or ID
    listed = doc["components"]["schemas"]["ListQuery"]
    listed["additionalProperties"] = False
    listed["properties"]["birth_year"]["description"] = (
        "narrows a search by name: refused (422) without q, mother or national_id; cases "
        "without a recorded birth year are then not listed"
    )
    return doc


def _object_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _more_paths(spec: APISpec, case_id: dict[str, Any]) -> None:
    """Statistics, import, packets and linkage."""
    r = api_responses
    text = {"type": "string"}
    mechanism = {
        "name": "mechanism",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["wgeid", "iimp"]},
    }
    index = {"name": "index", "in": "path", "required": True, "schema": {"type": "integer"}}
    query = [
        {"name": "by", "in": "query", "required": True, "schema": text},
        {"name": "k", "in": "query", "schema": {"type": "integer"}},
        {"name": "epsilon", "in": "query", "schema": {"type": "number"}},
        {"name": "verified", "in": "query", "schema": {"type": "boolean"}},
        {"name": "grouped", "in": "query", "schema": {"type": "boolean"}},
        {"name": "release", "in": "query", "schema": {"type": "integer"}},
    ]
    spec.path(
        "/api/v1/stats",
        operations={
            "get": {
                "summary": "A protected table of a statistics release (the latest by default): "
                "exact counts, small cells and their complements hidden; epsilon is refused",
                "parameters": query,
                "responses": _responses({"200": ok(r.StatsTable)}, 401, 403, 404, 422, 429),
            }
        },
    )
    spec.path(
        "/api/v1/stats/releases",
        operations={
            "get": {
                "summary": "The statistics releases, newest first (number, date, k, mode, scopes)",
                "responses": _responses({"200": ok(r.StatsReleases)}, 401, 403),
            }
        },
    )
    spec.path(
        "/api/v1/stats/estimate",
        operations={
            "get": {
                "summary": "A statistics release's estimated total from the overlap of lists "
                "(multiple systems estimation), with its interval and data date; or why the "
                "release has none. No count below k",
                "parameters": [
                    {"name": "release", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": _responses({"200": ok(r.Estimate)}, 401, 403, 404, 422, 429),
            }
        },
    )
    upload = {
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "dry_run": {"type": "boolean"},
            "skip_invalid": {"type": "boolean"},
        },
        "required": ["file"],
    }
    spec.path(
        "/api/v1/imports",
        operations={
            "post": {
                "summary": "Import cases from CSV, XLSX or JSON lines (row-by-row report)",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": upload}},
                },
                "responses": _responses(
                    {"200": ok(r.ImportReport), "201": ok(r.ImportReport)}, 401, 403, 413, 422
                ),
            }
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/packets/{mechanism}",
        parameters=[case_id, mechanism],
        operations={
            "get": {
                "summary": "A WGEID or IIMP packet, or 422 naming what is missing (lawyer)",
                "responses": _responses({"200": ok(r.Packet)}, 401, 403, 404, 422),
            }
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/packets/{mechanism}/submissions",
        parameters=[case_id, mechanism],
        operations={
            "post": {
                "summary": "Record a submission to the mechanism (a family action)",
                "requestBody": _object_body({"date": text, "reference": text, "note": text}, []),
                "responses": _responses(
                    {"201": ok(r.SubmissionIndex)}, 400, 401, 403, 404, 409, 422
                ),
            }
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/submissions/{index}/reply",
        parameters=[case_id, index],
        operations={
            "post": {
                "summary": "Record the mechanism's reply to a submission",
                "requestBody": _object_body({"reply": text, "date": text}, ["reply"]),
                "responses": _responses(
                    {"200": ok(r.SubmissionIndex)}, 400, 401, 403, 404, 409, 422
                ),
            }
        },
    )
    spec.path(
        "/api/v1/linkage/candidates",
        operations={
            "get": {
                "summary": "Open review items: possible duplicates and list matches (lawyer)",
                "parameters": [
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {
                        "name": "kind",
                        "in": "query",
                        "description": "only items of this kind (`held`: the pairs a run held "
                        "back as maybe two people); any other value is refused (422)",
                        "schema": {"type": "string", "enum": ["dedupe", "entry", "list", "held"]},
                    },
                ],
                "responses": _responses({"200": ok(r.Candidates)}, 401, 403),
            }
        },
    )
    spec.path(
        "/api/v1/linkage/runs",
        operations={
            "post": {
                "summary": "Start a deduplication run in the background (one at a time; lawyer)",
                "requestBody": _object_body({"threshold": {"type": "number"}}, []),
                "responses": _responses(
                    {"202": ok(r.RunState), "200": ok(r.RunState)}, 400, 401, 403, 409, 422
                ),
            }
        },
    )
    spec.path(
        "/api/v1/linkage/runs/latest",
        operations={
            "get": {
                "summary": "The running deduplication run, or the last: progress and summary",
                "responses": _responses({"200": ok(r.RunState)}, 401, 403),
            }
        },
    )
    spec.path(
        "/api/v1/linkage/merges/{case_id}/undo",
        parameters=[case_id],
        operations={
            "post": {
                "summary": "Undo the merge of this absorbed case (lawyer; confirm: true)",
                "requestBody": _object_body({"confirm": {"type": "boolean"}}, ["confirm"]),
                "responses": _responses({"200": ok(r.Undone)}, 400, 401, 403, 404, 409, 422),
            }
        },
    )
    candidate_id = {
        "name": "candidate_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    spec.path(
        "/api/v1/linkage/candidates/{candidate_id}/decision",
        parameters=[candidate_id],
        operations={
            "post": {
                "summary": "Decide: duplicate (merge; keep a or b), not_duplicate, match, no_match",
                "description": "An item already decided answers 422 with the field `decision`; "
                "a case that cannot be merged (already merged, or erased), or a merge of two "
                "different common first names without `different_first_names`, answers 409. "
                "A merge closes the other open pairs of the absorbed case; undoing it "
                "(`/api/v1/linkage/merges/{case_id}/undo`) opens them again.",
                "requestBody": _object_body(
                    {
                        "decision": {
                            "type": "string",
                            "enum": ["duplicate", "not_duplicate", "match", "no_match"],
                        },
                        "keep": {"type": "string", "enum": ["a", "b"], "default": "a"},
                        "different_first_names": {
                            "type": "boolean",
                            "default": False,
                            "description": "true to merge cases that give two different "
                            "common first names (most likely brothers): without it such a "
                            "merge answers 409",
                        },
                    },
                    ["decision"],
                ),
                "responses": _responses({"200": ok(r.Decided)}, 400, 401, 403, 404, 409, 422),
            }
        },
    )
    spec.path(
        "/api/v1/linkage/candidates/{candidate_id}/reopen",
        parameters=[candidate_id],
        operations={
            "post": {
                "summary": "Take back a decision of different people: the item is open again",
                "description": "Only `not_duplicate` and `no_match` (422 otherwise); a merge is "
                "taken back by undoing it. 409 when one of the cases has since been merged "
                "away or erased.",
                "responses": _responses({"200": ok(r.Decided)}, 401, 403, 404, 409, 422),
            }
        },
    )


@bp.get("/api/v1/openapi.json")
@public
def openapi() -> Any:
    """The API's description; it carries no data."""
    return jsonify(build_spec())
