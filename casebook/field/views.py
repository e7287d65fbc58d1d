"""Pages of field collection: the documenter's devices (add one and scan its QR code into ODK
Collect or Tella, revoke it) and the field inbox (open a submission as a pre-filled new-case
form, correct and save it, or discard it)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from casebook import db
from casebook.auth.forms import EmptyForm
from casebook.auth.permissions import Permission
from casebook.cases import forms
from casebook.cases.api import possible_duplicates
from casebook.cases.services import CaseInputError, case_create
from casebook.cases.views import _form_page
from casebook.field import selectors
from casebook.field.services import (
    FieldInputError,
    device_create,
    device_revoke,
    submission_discard,
    submission_to_case,
)
from casebook.web import current_actor, error_response, requires

bp = Blueprint("field", __name__, url_prefix="/field")


def _instance() -> Path:
    return Path(current_app.config["CASEBOOK"].instance)


def collect_settings(server_url: str) -> str:
    """ODK Collect's settings QR payload: zlib-compressed JSON, base64-encoded."""
    payload = json.dumps(
        {"general": {"server_url": server_url, "protocol": "odk_default"}, "admin": {}},
        separators=(",", ":"),
    )
    return base64.b64encode(zlib.compress(payload.encode())).decode("ascii")


def qr_svg(text: str) -> str:
    """The QR code as inline SVG drawn on the server (no script, no inline style)."""
    svg: str = segno.make(text, error="l").svg_inline(scale=4, dark="#000", light="#fff")
    return svg


@bp.get("/devices")
@requires(Permission.FIELD_DEVICES)
def devices() -> Any:
    return render_template(
        "field/devices.html",
        devices=selectors.devices_of(db.session(), current_user),
        form=EmptyForm(),
        errors={},
    )


@bp.post("/devices")
@requires(Permission.FIELD_DEVICES)
def device_new() -> Any:
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    s = db.session()
    try:
        device, raw = device_create(s, current_actor(), current_user, request.form.get("label", ""))
    except FieldInputError as exc:
        return render_template(
            "field/devices.html",
            devices=selectors.devices_of(s, current_user),
            form=EmptyForm(),
            errors=forms.localise(exc.fields),
        ), 422
    server_url = request.url_root.rstrip("/") + f"/field/{raw}"
    return render_template(
        "field/device_new.html",
        device=device,
        server_url=server_url,
        qr=qr_svg(collect_settings(server_url)),
    )


@bp.post("/devices/<device_id>/revoke")
@requires(Permission.FIELD_DEVICES)
def device_revoke_view(device_id: str) -> Any:
    s = db.session()
    device = selectors.device_or_404(s, current_user, device_id)
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    device_revoke(s, current_actor(), device)
    flash(_("The device was revoked: it can no longer send forms."))
    return redirect(url_for(".devices"))


@bp.get("/inbox")
@requires(Permission.FIELD_DEVICES)
def inbox() -> Any:
    items = selectors.inbox_of(db.session(), current_user)
    rows = []
    for item in items:
        body = item.body or {}
        person = (body.get("data") or {}).get("person") or {}
        name = " ".join(
            person.get(k, "") for k in ("first_name", "father_name", "family_name")
        ).strip()
        rows.append(
            {
                "submission": item,
                "name": name,
                "problems": forms.localise(body.get("problems") or {}),
                "note": body.get("note"),
                "media": len(body.get("media") or []),
            }
        )
    return render_template("field/inbox.html", rows=rows, form=EmptyForm())


def _values(data: dict[str, Any]) -> dict[str, str]:
    data = dict(data)
    testimonies = data.pop("testimonies", None) or []
    values = forms.flatten(data)
    if testimonies:
        for k, v in forms.flatten(testimonies[0]).items():
            values[f"testimony.{k}"] = v
    values.setdefault("source.confidential", "yes")
    values.setdefault("person.sex", "unknown")
    return values


@bp.route("/inbox/<submission_id>", methods=["GET", "POST"])
@requires(Permission.FIELD_DEVICES)
def submission(submission_id: str) -> Any:
    s = db.session()
    item = selectors.submission_or_404(s, current_user, submission_id)
    body = item.body or {}
    context: dict[str, Any] = {
        "mode": "new",
        "form_action": url_for(".submission", submission_id=item.id),
        "field_submission": item,
        "field_note": body.get("note"),
        "field_media": body.get("media") or [],
    }
    if request.method == "GET":
        problems = body.get("problems") or {}
        return _form_page("cases/form.html", _values(body.get("data") or {}), problems, **context)
    if not current_user.can(Permission.CASE_CREATE):
        return error_response(403)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    if request.form.get("add"):
        return _form_page("cases/form.html", values, {}, **context)
    try:
        case = case_create(
            s, current_actor(), forms.parse(request.form), created_by=current_user.id
        )
    except CaseInputError as exc:
        return _form_page("cases/form.html", values, exc.fields, 422, **context)
    settings = current_app.config["CASEBOOK"]
    kept = submission_to_case(
        s,
        current_actor(),
        item,
        case,
        _instance() / "attachments",
        _instance() / "erasures.jsonl",
        settings.max_attachment_bytes,
        _instance() / "tmp",
        current_user.id,
    )
    flash(_("Case %(reference)s saved.", reference=case.reference))
    if kept:
        flash(_("%(n)s files from the phone were attached.", n=kept))
    if possible_duplicates(case).get("possible_duplicate"):
        flash(_("This person may already be in casebook: a lawyer will review."))
    return redirect(url_for("cases.show", case_id=case.id))


@bp.post("/inbox/<submission_id>/discard")
@requires(Permission.FIELD_DEVICES)
def discard(submission_id: str) -> Any:
    s = db.session()
    item = selectors.submission_or_404(s, current_user, submission_id)
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    try:
        submission_discard(
            s, current_actor(), item, _instance() / "attachments", _instance() / "erasures.jsonl"
        )
    except FieldInputError:
        return error_response(409)
    flash(_("The submission was discarded."))
    return redirect(url_for(".inbox"))
