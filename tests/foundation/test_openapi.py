"""The OpenAPI document tells the truth: it lists exactly the API's routes and methods, every
success response has a real schema, and real responses validate against it."""

from __future__ import annotations

import copy
import io
import re
from typing import Any

import jsonschema_rs
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import UserFixture, bearer, make_user, minimal_case

BINARY = {("/api/v1/cases/{case_id}/attachments/{attachment_id}", "get")}


def _document(client: FlaskClient) -> dict[str, Any]:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert isinstance(doc, dict)
    return doc


def _routes(app: Flask) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:  # type: ignore[operator]
            out.add((path, method.lower()))
    return out


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(p, m) for p, ops in doc["paths"].items() for m in ops if m in methods}


def test_the_document_lists_exactly_the_api_routes_and_methods(
    app: Flask, client: FlaskClient
) -> None:
    routes, documented = _routes(app), _documented(_document(client))
    assert sorted(routes - documented) == [], "routes the document does not describe"
    assert sorted(documented - routes) == [], "documented operations no route serves"


def test_every_success_response_has_a_real_schema(client: FlaskClient) -> None:
    doc = _document(client)
    bare = []
    for path, method in sorted(_documented(doc)):
        for code, response in doc["paths"][path][method]["responses"].items():
            if not code.startswith("2") or (path, method) in BINARY:
                continue
            schema = response["content"]["application/json"]["schema"]
            ref = schema.get("$ref", "")
            target = doc["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
            if not target.get("properties") or not target.get("required"):
                bare.append(f"{method.upper()} {path} {code}")
    assert bare == []


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema's type lists."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "$ref" in out or "allOf" in out:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _validator(doc: dict[str, Any], path: str, method: str, code: str) -> Any:
    schema = doc["paths"][path][method]["responses"][code]["content"]["application/json"]
    root = {
        "allOf": [copy.deepcopy(schema["schema"])],
        "components": {"schemas": _json_schema(doc["components"]["schemas"])},
    }
    return jsonschema_rs.Draft7Validator(root)


def test_real_responses_of_every_get_route_match_the_document(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    lawyer, admin = bearer(app, users["lawyer"]), bearer(app, users["admin"])
    created = client.post("/api/v1/cases", json=minimal_case(), headers=lawyer)
    assert created.status_code == 201
    case_id = created.get_json()["id"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    attached = client.post(
        f"/api/v1/cases/{case_id}/attachments",
        data={"file": (io.BytesIO(png), "photo.png")},
        headers=lawyer,
    )
    doc = _document(client)
    # every GET route, asked as a user who may, with the ids made above
    asks = {
        "/api/v1/cases": ("/api/v1/cases", lawyer),
        "/api/v1/cases/{case_id}": (f"/api/v1/cases/{case_id}", lawyer),
        "/api/v1/audit": ("/api/v1/audit?limit=5", admin),
        "/api/v1/stats/releases": ("/api/v1/stats/releases", lawyer),
        "/api/v1/linkage/candidates": ("/api/v1/linkage/candidates", lawyer),
        "/api/v1/linkage/runs/latest": ("/api/v1/linkage/runs/latest", lawyer),
        "/api/v1/openapi.json": ("/api/v1/openapi.json", {}),
    }
    if attached.status_code == 201:
        aid = attached.get_json()["id"]
        url = f"/api/v1/cases/{case_id}/attachments/{aid}"
        asks["/api/v1/cases/{case_id}/attachments/{attachment_id}"] = (url, lawyer)
    # routes whose success needs state this test does not build; their error answers are
    # checked against the Error schema instead (a published release, matched outside lists,
    # a case complete enough for a UN mechanism)
    not_built = {
        "/api/v1/stats",
        "/api/v1/stats/estimate",
        "/api/v1/cases/{case_id}/packets/{mechanism}",
    }
    gets = {p for p, m in _documented(doc) if m == "get"}
    assert gets - set(asks) - not_built == set()
    problems = []
    for path, (url, headers) in sorted(asks.items()):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, (url, resp.status_code)
        if (path, "get") in BINARY:
            assert resp.mimetype == "image/png" and resp.data == png
            continue
        validator = _validator(doc, path, "get", "200")
        problems += [f"{path}: {e.message}" for e in validator.iter_errors(resp.get_json())]
    error = jsonschema_rs.Draft7Validator(
        {"allOf": [{"$ref": "#/components/schemas/Error"}], "components": doc["components"]}
    )
    for url in ("/api/v1/stats?by=governorate", f"/api/v1/cases/{case_id}/packets/wgeid"):
        resp = client.get(url, headers=lawyer)
        assert resp.status_code in (404, 422)
        problems += [f"{url}: {e.message}" for e in error.iter_errors(resp.get_json())]
    assert problems == []


def test_the_case_list_documents_its_codes_and_refuses_what_it_does_not_list(
    app: Flask, client: FlaskClient
) -> None:
    """The list's status, governorate and verification filters carry their codes as enums (in
    the GET's parameters and the search body alike), so a client need not guess "Homs" for
    homs; a value outside them, or a birth year that is not a whole number, is refused with
    the field named rather than read as something else (1987.5 was read as 1987)."""
    from casebook.vocab import GOVERNORATES, STATUSES

    doc = _document(client)
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/cases"]["get"]["parameters"]}
    body = doc["components"]["schemas"]["ListQuery"]["properties"]
    for documented in (params, body):
        assert set(documented["status"]["enum"]) == set(STATUSES.codes)
        assert set(documented["governorate"]["enum"]) == set(GOVERNORATES.codes)
        assert "verified" in documented["verification"]["enum"]
        assert documented["birth_year"]["type"] == "integer"
    assert set(params) == set(body)
    assert doc["components"]["schemas"]["ListQuery"]["additionalProperties"] is False
    headers = bearer(app, make_user(app, "lawyer"))
    for sent, field in (
        ({"governorate": "Homs"}, "governorate"),
        ({"status": "missing"}, "status"),
        ({"q": "خالد الحموي", "birth_year": 1987.5}, "birth_year"),
    ):
        resp = client.post("/api/v1/cases/search", json=sent, headers=headers)
        assert resp.status_code == 422, (sent, resp.get_json())
        assert list(resp.get_json()["error"]["fields"]) == [field]
