"""Printable WGEID/IIMP packets and case dossiers for lawyers, and the record of submissions
and replies (HTML and JSON). Every packet issued or refused, and every dossier shown, is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from casebook import db
from casebook.auth.permissions import Permission
from casebook.cases import selectors
from casebook.cases.api import case_json_action
from casebook.cases.models import Case
from casebook.cases.services import (
    MERGED_INTO_ANOTHER,
    case_viewed,
    submission_add,
    submission_reply,
)
from casebook.cases.views import case_form_action
from casebook.packets.services import (
    ELEMENT_LABELS,
    MECHANISMS,
    Packet,
    packet_build,
    packet_issued,
)
from casebook.web import current_actor, error_response, requires

bp = Blueprint("packets", __name__, url_prefix="/cases")
api = Blueprint("packets_api", __name__, url_prefix="/api/v1/cases")


def _mechanism(value: str) -> str:
    if value not in MECHANISMS:
        abort(404)
    return value


def _packet(case_id: str, mechanism: str) -> tuple[Case, Packet]:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    if case.erased_at is not None:
        abort(404)
    if case.merged_into is not None:  # a packet of a duplicate would report one person twice
        abort(error_response(409, MERGED_INTO_ANOTHER))
    photos = [
        a
        for a in selectors.attachments_of(s, case)
        if str((a.meta or {}).get("content_type", "")).startswith("image/")
    ]
    packet = packet_build(case, _mechanism(mechanism), photo_attached=bool(photos))
    packet_issued(s, current_actor(), case, packet)
    return case, packet


def _language() -> str:
    lang = request.args.get("lang", "")
    return lang if lang in ("ar", "en") else ""


@bp.get("/<case_id>/packet/<mechanism>")
@requires(Permission.CASE_PACKET)
def packet(case_id: str, mechanism: str) -> Any:
    case, built = _packet(case_id, mechanism)
    lang = _language()
    template = "packets/packet.html" if built.complete else "packets/refused.html"
    status = 200 if built.complete else 422

    def render() -> str:
        return render_template(
            template, case=case, packet=built, labels=ELEMENT_LABELS, lang=lang or None
        )

    if lang:
        with force_locale(lang):
            return render(), status
    return render(), status


@bp.post("/<case_id>/packet/<mechanism>/submitted")
@requires(Permission.CASE_PACKET)
def submitted(case_id: str, mechanism: str) -> Any:
    def act(s: Session, case: Case) -> None:
        submission_add(s, current_actor(), case, _mechanism(mechanism), request.form.to_dict())
        flash(_("The submission was recorded."))

    return case_form_action(case_id, act)


@bp.post("/<case_id>/submissions/<int:index>/reply")
@requires(Permission.CASE_PACKET)
def reply(case_id: str, index: int) -> Any:
    def act(s: Session, case: Case) -> None:
        date = request.form.get("date") or None
        submission_reply(s, current_actor(), case, index, request.form.get("reply", ""), date)
        flash(_("The reply was recorded."))

    return case_form_action(case_id, act)


@bp.get("/<case_id>/dossier")
@requires(Permission.CASE_PACKET)
def dossier(case_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    if case.erased_at is not None:
        abort(404)
    if case.merged_into is not None:  # a packet of a duplicate would report one person twice
        kept = selectors.reference_of(s, case.merged_into)
        abort(
            error_response(
                409,
                _(
                    "This case was merged into %(reference)s: print that case's dossier, or "
                    "undo the merge.",
                    reference=kept,
                ),
            )
        )
    doc = selectors.case_document(s, current_user, case)
    case_viewed(s, current_actor(), case, source="source" in doc, legal="legal_notes" in doc)
    timeline = sorted(
        [{"date": st.get("date") or "", "kind": "status", "item": st} for st in doc["status"]]
        + [{"date": a.get("date") or "", "kind": "arrest", "item": a} for a in doc["arrests"]]
        + [
            {"date": fa.get("date") or "", "kind": "family_action", "item": fa}
            for fa in doc["family_actions"]
        ],
        key=lambda e: e["date"] or "9999",
    )
    return render_template(
        "packets/dossier.html", case=case, doc=doc, timeline=timeline, now=datetime.now(UTC)
    )


# -- JSON ---------------------------------------------------------------------------------------


@api.get("/<case_id>/packets/<mechanism>")
@requires(Permission.CASE_PACKET)
def api_packet(case_id: str, mechanism: str) -> Any:
    """The packet's facts, or 422 naming every missing element."""
    _case, built = _packet(case_id, mechanism)
    if not built.complete:
        return error_response(
            422,
            _("The case is missing what this mechanism needs."),
            code="packet_incomplete",
            fields={code: [str(ELEMENT_LABELS[code])] for code in built.missing},
        )
    return {
        "mechanism": built.mechanism,
        "reference": built.reference,
        "person": built.person,
        "arrest": built.arrest,
        "detention": built.detention,
        "status": built.status,
        "current_status": built.current_status,
        "family_steps": built.family_steps,
        "source": built.source,
        "source_confidential": built.source_confidential,
        "photo_attached": built.photo_attached,
    }


@api.post("/<case_id>/packets/<mechanism>/submissions")
@requires(Permission.CASE_PACKET)
def api_submitted(case_id: str, mechanism: str) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        return {"index": submission_add(s, current_actor(), case, _mechanism(mechanism), data)}, 201

    return case_json_action(case_id, change)


@api.post("/<case_id>/submissions/<int:index>/reply")
@requires(Permission.CASE_PACKET)
def api_reply(case_id: str, index: int) -> Any:
    def change(s: Session, case: Case, data: dict[str, Any]) -> Any:
        reply_text, date = str(data.get("reply") or ""), data.get("date")
        submission_reply(s, current_actor(), case, index, reply_text, date)
        return {"index": index}, 200

    return case_json_action(case_id, change)
