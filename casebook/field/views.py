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
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from casebook import db, vocab
from casebook.auth.forms import EmptyForm
from casebook.auth.permissions import Permission
from casebook.cases import forms
from casebook.cases.api import possible_duplicates
from casebook.cases.services import CaseInputError, case_create
from casebook.cases.views import _form_page
from casebook.field import selectors
from casebook.field.services import (
    PARTIAL_KEPT_FOR,
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
        {
            # delete_send: Collect deletes a form from the phone once the server has it
            "general": {"server_url": server_url, "protocol": "odk_default", "delete_send": True},
            "admin": {},
        },
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
    device_revoke(
        s, current_actor(), device, _instance() / "attachments", _instance() / "erasures.jsonl"
    )
    flash(_("The device was revoked: it can no longer send forms."))
    return redirect(url_for(".devices"))


# The case form's labels (the same words, so the same translations) for the fields a phone's
# submission fills, to name a problem in the page's language rather than by its path.
_LABELS: dict[str, Any] = {
    "person": _l("The person"),
    "person.first_name": _l("First name"),
    "person.father_name": _l("Father's name"),
    "person.grandfather_name": _l("Grandfather's name"),
    "person.family_name": _l("Family name"),
    "person.mother_name": _l("Mother's name"),
    "person.latin_name": _l("Name in Latin letters"),
    "person.sex": _l("Sex"),
    "person.birth_date": _l("Date of birth"),
    "person.birth_place": _l("Place of birth"),
    "person.nationality": _l("Nationality"),
    "person.national_id": _l("National ID number"),
    "person.occupation": _l("Occupation"),
    "person.civil_status": _l("Civil status"),
    "person.address": _l("Address"),
    "person.description": _l("Physical description"),
    "arrests": _l("Arrests"),
    "arrests.date": _l("Date of arrest"),
    "arrests.governorate": _l("Governorate"),
    "arrests.place": _l("Place (area, street, checkpoint)"),
    "arrests.perpetrator": _l("Forces believed responsible"),
    "arrests.unit": _l("Branch or unit"),
    "arrests.circumstances": _l("Circumstances"),
    "status": _l("Status"),
    "status.status": _l("Status"),
    "status.date": _l("Since"),
    "status.source": _l("Source of this information"),
    "source.name": _l("Name"),
    "source.relationship": _l("Relationship to the person"),
    "source.contact": _l("How to reach them"),
    "source.confidential": _l("Keep the source confidential"),
    "testimony.text": _l("What the family said"),
    "testimony.date": _l("Date of the interview"),
    "testimony.language": _l("Language"),
    "consent": _l("Consent of the family"),
    "attachments": _l("Files"),
}
_ROWS = {"arrests": _l("Arrest"), "status": _l("Status")}


def field_label(path: str) -> str:
    """A problem's field as the case form names it (`Arrest 1: Governorate`); a path the form
    has no label for is shown as it is."""
    parts = path.split(".")
    if parts[0] == "consent" and len(parts) > 1:
        scopes = dict(vocab.CONSENT_SCOPES.choices(get_locale_language()))
        return f"{_LABELS['consent']}: {scopes.get(parts[1], parts[1])}"
    if parts[0] in _ROWS and len(parts) > 1 and parts[1].isdigit():
        row = f"{_ROWS[parts[0]]} {int(parts[1]) + 1}"
        rest = ".".join([parts[0], *parts[2:]])
        return f"{row}: {_LABELS[rest]}" if len(parts) > 2 and rest in _LABELS else row
    label = _LABELS.get(path)
    return str(label) if label is not None else path


def get_locale_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale is not None else "en"


def _labelled(problems: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    placed = forms.localise(forms.place(problems))
    return [(field_label(path), messages) for path, messages in placed.items()]


def _device_labels() -> dict[Any, str]:
    return {d.id: d.label or "" for d in selectors.devices_of(db.session(), current_user)}


@bp.get("/inbox")
@requires(Permission.FIELD_DEVICES)
def inbox() -> Any:
    s = db.session()
    items = selectors.inbox_of(s, current_user)
    devices = _device_labels()
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
                "device": devices.get(item.device_id, ""),
                "problems": _labelled(body.get("problems") or {}),
                "note": body.get("note"),
                "media": len(body.get("media") or []),
            }
        )
    arriving = selectors.partials_of(s, current_user)
    return render_template(
        "field/inbox.html",
        rows=rows,
        form=EmptyForm(),
        arriving=len(arriving),
        arriving_latest=max((p.received_at for p in arriving), default=None),
        kept_hours=int(PARTIAL_KEPT_FOR.total_seconds() // 3600),
    )


CHOOSE_LISTED = "Choose one of the listed values."


def _with_sent_values(
    problems: dict[str, list[str]], values: dict[str, str]
) -> dict[str, list[str]]:
    """An answer outside a list shows as a blank choice in the form: say what the phone sent
    (shown escaped, like every value on the page)."""
    out: dict[str, list[str]] = {}
    for path, messages in problems.items():
        out[path] = list(messages)
        sent = values.get(path.replace("testimonies.0.", "testimony."), "")
        if CHOOSE_LISTED in messages and sent:
            out[path].append(_("The phone sent: %(value)s", value=sent[:200]))
    return out


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
    media = body.get("media") or []
    context: dict[str, Any] = {
        "mode": "new",
        "form_action": url_for(".submission", submission_id=item.id),
        "field_submission": item,
        "field_note": body.get("note"),
        "field_media": [m for m in media if m.get("content_type") is not None],
        "field_refused": [m for m in media if m.get("content_type") is None],
        "field_device": _device_labels().get(item.device_id, ""),
    }
    if request.method == "GET":
        values = _values(body.get("data") or {})
        problems = _with_sent_values(body.get("problems") or {}, values)
        return _form_page("cases/form.html", values, problems, **context)
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
    refused = context["field_refused"]
    if refused:
        flash(
            _(
                "%(n)s files from the phone were not attached (type not accepted): %(names)s",
                n=len(refused),
                names=", ".join(m.get("name") or "?" for m in refused),
            )
        )
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
