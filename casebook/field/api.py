"""The OpenRosa server for phones (ODK Collect, KoboCollect, Tella): form list, form download and
submission under a per-device URL, `/field/<device token>/…`, as ODK Central's app users.

The token in the path is the only credential (phones cannot keep a session); it is checked
before anything else, a revoked or unknown one is answered 401. These endpoints are exempt from
CSRF (a forged cross-site request would need the token, which is the credential itself) and
answer in OpenRosa's XML, never with a page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from xml.sax.saxutils import escape  # nosec B406 - escapes what we write; parses nothing

from flask import Blueprint, Response, current_app, g, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from casebook import db
from casebook.audit.services import Actor, audit_record
from casebook.field import xlsform
from casebook.field.services import (
    SubmissionError,
    current_form,
    device_lookup,
    device_throttled,
    submission_receive,
    submissions_expire_partial,
)
from casebook.messages import localise_message
from casebook.uploads import MAX_PARTS, EncryptedSpool, TooManyParts

bp = Blueprint("field_device", __name__, url_prefix="/field/<token>")
F = TypeVar("F", bound=Callable[..., Any])
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
RESPONSE_NS = "http://openrosa.org/http/response"


def submission_limit() -> int:
    """The largest submission body taken in one request (X-OpenRosa-Accept-Content-Length)."""
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def _headers(resp: Response) -> Response:
    resp.headers["X-OpenRosa-Version"] = "1.0"
    resp.headers["X-OpenRosa-Accept-Content-Length"] = str(submission_limit())
    return resp


def openrosa_response(status: int, message: str, *, nature: str | None = None) -> Response:
    """`<OpenRosaResponse><message>…</message></OpenRosaResponse>` with the OpenRosa headers;
    the message is escaped (it never carries what the device sent)."""
    attr = f' nature="{nature}"' if nature else ""
    body = (
        "<?xml version='1.0' encoding='UTF-8' ?>\n"
        f'<OpenRosaResponse xmlns="{RESPONSE_NS}"><message{attr}>{escape(message)}</message>'
        "</OpenRosaResponse>"
    )
    return _headers(Response(body, status=status, mimetype="text/xml"))


def device_only(view: F) -> F:
    """The view answers a field device: the path's token must name a live device (else 401),
    whose device and owner are then in `g.field_device` and `g.field_owner`."""

    @wraps(view)
    def wrapped(*args: Any, token: str, **kwargs: Any) -> Any:
        s = db.session()
        found = device_lookup(s, token)
        if found is None:
            return openrosa_response(
                401,
                _("This device is not (or no longer) allowed to send forms here."),
                nature="error",
            )
        g.field_device, g.field_owner = found
        if request.method == "POST":
            # The lookup's transaction (on SQLite the single write lock) ends here, before the
            # body is read: a phone on a slow line, or one sending a byte a second, would
            # otherwise hold it for as long as it likes and every other request would wait.
            # The request's own transaction begins after the body is in (casebook.db, rule 7).
            throttled = device_throttled(s, g.field_device)
            s.commit()
            if throttled:
                return _throttled()
        return view(*args, **kwargs)

    wrapped.casebook_device = True  # type: ignore[attr-defined]
    return cast(F, wrapped)


def _device_actor() -> Actor:
    device = g.field_device
    return Actor(label=f"device:{device.id}", user_id=str(device.owner_id), role=None)


@bp.get("/formList")
@device_only
def form_list() -> Any:
    form = current_form(db.session(), _device_actor())
    url = url_for(
        "field_device.form_download",
        token=request.view_args["token"] if request.view_args else "",
        form_id=form.form_id,
        _external=True,
    )
    body = (
        "<?xml version='1.0' encoding='UTF-8' ?>\n"
        f'<xforms xmlns="{XFORMS_LIST_NS}"><xform>'
        f"<formID>{escape(form.form_id)}</formID>"
        f"<name>{escape(_('casebook case'))}</name>"
        f"<version>{escape(form.version)}</version>"
        f"<hash>md5:{form.md5}</hash>"
        f"<downloadUrl>{escape(url)}</downloadUrl>"
        "</xform></xforms>"
    )
    return _headers(Response(body, mimetype="text/xml"))


@bp.get("/forms/<form_id>.xml")
@device_only
def form_download(form_id: str) -> Any:
    if form_id != xlsform.FORM_ID:
        return openrosa_response(404, _("This server does not serve that form."), nature="error")
    form = current_form(db.session(), _device_actor())
    return _headers(Response(form.xml, mimetype="text/xml"))


@bp.route("/submission", methods=["HEAD", "POST"])
@device_only
def submission() -> Any:
    if request.method == "HEAD":
        return _headers(Response(status=204))
    if (request.content_length or 0) > submission_limit():
        return _refused(413, "too_large", _too_large())
    request.max_form_parts = MAX_PARTS + 10  # the files, and a few fields besides
    g.max_file_parts = MAX_PARTS
    try:
        files = request.files
        form = request.form
    except TooManyParts:
        return _refused(413, "too_many_parts", _too_many_parts())
    except RequestEntityTooLarge:
        return _refused(413, "too_large", _too_large())
    # The body is in (parsed into encrypted spools): the request's transaction begins now, and
    # the device's refusals are counted again under its lock.
    if device_throttled(db.session(), g.field_device, lock=True):
        return _throttled()
    manifest = files.get("xml_submission_file")
    if manifest is None or not isinstance(manifest.stream, EncryptedSpool):
        return _refused(400, "manifest", _("The submission has no xml_submission_file part."))
    parts: dict[str, EncryptedSpool] = {}
    for name, upload in files.items(multi=True):
        if name == "xml_submission_file" or not isinstance(upload.stream, EncryptedSpool):
            continue
        parts[upload.filename or name] = upload.stream
    manifest_xml = b"".join(manifest.stream.chunks())
    settings = current_app.config["CASEBOOK"]
    instance = Path(settings.instance)
    # Housekeeping, as sign-in purges sessions: split submissions abandoned mid-way are
    # shredded (one indexed query when there are none).
    submissions_expire_partial(
        db.session(),
        Actor(label="housekeeping"),
        instance / "attachments",
        instance / "erasures.jsonl",
    )
    try:
        received = submission_receive(
            db.session(),
            g.field_device,
            manifest_xml,
            parts,
            Path(settings.instance) / "attachments",
            incomplete=(form.get("*isIncomplete*") or "").lower() == "yes",
        )
    except SubmissionError as exc:
        if exc.reason in ("old_version", "unknown_version"):
            message = (
                _(
                    "This version of the form is no longer served, and the submission does "
                    "not pass the case rules (%(fields)s). Download the form again.",
                    fields=", ".join(exc.fields),
                )
                if exc.reason == "old_version"
                else _(
                    "This server does not know this version of the form, and the submission "
                    "does not pass the case rules (%(fields)s). Download the form again.",
                    fields=", ".join(exc.fields),
                )
            )
            return _refused(exc.status, exc.reason, message)
        return _refused(exc.status, exc.reason, localise_message(exc.message))
    if received.status == 202:
        return openrosa_response(202, _("This submission was already received."))
    if received.submission.state == "partial":
        return openrosa_response(201, _("Part received; waiting for the rest of the submission."))
    return openrosa_response(201, _("Received: it is waiting in your field inbox."))


def _too_many_parts() -> str:
    return str(
        _(
            "The submission has too many files: up to %(count)s can be sent in one request.",
            count=MAX_PARTS,
        )
    )


def _throttled() -> Response:
    """429 in OpenRosa's form: too many of this device's submissions were refused lately."""
    s = db.session()
    s.rollback()
    audit_record(
        s,
        _device_actor(),
        "field.submission_receive",
        object_type="field_device",
        object_id=g.field_device.id,
        outcome="denied",
        details={"reason": "throttled", "status": 429},
    )
    resp = openrosa_response(
        429,
        _(
            "Too many submissions from this device were refused. Wait an hour before sending "
            "again, and ask the person who manages casebook if this goes on."
        ),
        nature="error",
    )
    resp.headers["Retry-After"] = "3600"
    return resp


def _too_large() -> str:
    from casebook.ui import upload_limit

    return str(_("The submission is too large: up to %(limit)s can be sent.", limit=upload_limit()))


def _refused(status: int, reason: str, message: str) -> Response:
    """Refuse in OpenRosa's form; the refusal is audited (reason code only) after the
    request's own work has been rolled back."""
    s = db.session()
    s.rollback()
    device = g.get("field_device")
    audit_record(
        s,
        _device_actor() if device is not None else Actor.anonymous(),
        "field.submission_receive",
        object_type="field_device",
        object_id=device.id if device is not None else None,
        outcome="failure",
        details={"reason": reason, "status": status},
    )
    return openrosa_response(status, message, nature="error")
