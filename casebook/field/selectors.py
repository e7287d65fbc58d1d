"""Reads of field collection, scoped to the signed-in user: their own devices and inbox only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebook.field.models import FieldDevice, FieldSubmission
from casebook.lookups import NotFoundError, parse_id
from casebook.web import denied


def devices_of(session: Session, user: Any) -> list[FieldDevice]:
    return list(
        session.scalars(
            select(FieldDevice)
            .where(FieldDevice.owner_id == user.id)
            .order_by(FieldDevice.created_at.desc())
        )
    )


def device_or_404(session: Session, user: Any, device_id: str) -> FieldDevice:
    """The user's own device; anyone else's answers 404 (and the refusal is audited)."""
    did = parse_id(device_id, "field_device")
    device = session.get(FieldDevice, did)
    if device is None or device.owner_id != user.id:
        denied("field_device", did)
        raise NotFoundError("field_device")
    return device


def inbox_of(session: Session, user: Any) -> list[FieldSubmission]:
    return list(
        session.scalars(
            select(FieldSubmission)
            .where(FieldSubmission.owner_id == user.id, FieldSubmission.state == "inbox")
            .order_by(FieldSubmission.received_at.desc())
        )
    )


def submission_or_404(session: Session, user: Any, submission_id: str) -> FieldSubmission:
    """A submission still in the user's own inbox; any other answers 404 (audited)."""
    sid = parse_id(submission_id, "field_submission")
    submission = session.get(FieldSubmission, sid)
    if submission is None or submission.owner_id != user.id or submission.state != "inbox":
        denied("field_submission", sid)
        raise NotFoundError("field_submission")
    return submission


def partials_of(session: Session, user: Any) -> list[FieldSubmission]:
    """Split submissions still arriving from the user's phones (their first parts are in)."""
    return list(
        session.scalars(
            select(FieldSubmission)
            .where(FieldSubmission.owner_id == user.id, FieldSubmission.state == "partial")
            .order_by(FieldSubmission.received_at.desc())
        )
    )
