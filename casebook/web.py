"""The request boundary: permissions declared on every view, one commit per request, security
headers on every response, errors as JSON under /api/ and as pages elsewhere."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, NotFound

from casebook import db
from casebook.audit.services import Actor, audit_record
from casebook.auth.permissions import Permission
from casebook.encrypted import EncryptedValueError
from casebook.inputs import JSONInputError, loads_checked
from casebook.lookups import NotFoundError

log = logging.getLogger("casebook.request")
F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}

ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "server_error",
}


PASSWORD_CHANGE_ALLOWED = frozenset({"auth.password", "auth.logout", "auth.language"})


# -- permissions --------------------------------------------------------------------------------


def requires(permission: Permission) -> Callable[[F], F]:
    """Allow the view to users whose role grants `permission`; everyone else is refused.

    Example::

        @bp.get("/admin/users")
        @requires(Permission.USERS_MANAGE)
        def users(): ...

    Anonymous callers are sent to the login page (401 JSON under /api/); signed-in users without
    the permission get 403. Objects a user may not see answer 404 (see `load_or_404` helpers).
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if (
                current_user.must_change_password
                and g.get("auth_via") != "token"
                and request.endpoint not in PASSWORD_CHANGE_ALLOWED
            ):
                return redirect(url_for("auth.password"))
            if not current_user.can(permission):
                case_id = (request.view_args or {}).get("case_id")
                try:
                    denied("case", uuid.UUID(str(case_id)))
                except ValueError:
                    pass  # not a case, or not an id: nothing to name
                else:
                    _audit_denial(403)
                return error_response(403)
            return view(*args, **kwargs)

        wrapped.casebook_permission = permission  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def public(view: F) -> F:
    """Mark a view as open to anyone (login, health, language). Keep this list short."""
    view.casebook_public = True  # type: ignore[attr-defined]
    return view


def recent_auth(view: F) -> F:
    """Sensitive actions need a password and second factor within the re-authentication window.

    Bearer tokens count as fresh: each is issued by its own user after re-authentication and
    carries exactly that user's role. The gravest actions (erasure, minting tokens, admin
    changes) use `casebook.auth.guards` instead, which ask more of a token.
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("auth_via") == "token":
            return view(*args, **kwargs)
        stamp = session.get("reauth_at")
        window = current_app.config["CASEBOOK"].reauth_window.total_seconds()
        if stamp is None or time.time() - float(stamp) > window:
            if is_api():
                return error_response(
                    401, "Confirm your password and code again.", code="reauth_required"
                )
            return redirect(url_for("auth.reauth", next=safe_next(request.full_path)))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def enforce_declared_permissions(app: Flask) -> None:
    """Refuse to start when a view declares neither a permission nor `@public`."""
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if not (
            getattr(view, "casebook_permission", None)
            or getattr(view, "casebook_public", False)
            or getattr(view, "casebook_device", False)  # a field device's token (field/api.py)
        )
    ]
    if undeclared:
        raise RuntimeError(
            "these endpoints declare no permission (use @requires, @public or @device_only): "
            + ", ".join(sorted(undeclared))
        )


def id_or_404(text: str) -> uuid.UUID:
    """An id from a URL; anything that is not a UUID is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        abort(404)


def denied(object_type: str, object_id: uuid.UUID) -> None:
    """Note the object a request is refused (404/403) so the refusal is audited: a colleague
    probing case ids shows up in the audit log. Ids that exist nowhere are recorded alike (the
    entry must not tell whether the id exists); the first refusal of a request is the one kept,
    and it is written once the request's work has been rolled back (`_audit_denial`)."""
    if "denied" not in g:
        g.denied = (object_type, object_id)


def _audit_denial(status: int) -> None:
    target = g.pop("denied", None)
    if target is None or status not in (403, 404):
        return
    object_type, object_id = target
    audit_record(
        db.session(),
        current_actor(),
        f"{object_type}.access_denied",
        object_type=object_type,
        object_id=object_id,
        outcome="denied",
        details={"endpoint": request.endpoint, "method": request.method, "status": status},
    )


def current_actor() -> Actor:
    if current_user and current_user.is_authenticated:
        return Actor.user(str(current_user.id), current_user.role, g.get("token_id"))
    return Actor.anonymous()


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login or re-authentication."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target.rstrip("?")


def is_api() -> bool:
    return request.path.startswith("/api/")


# -- errors -------------------------------------------------------------------------------------


class InvalidJSON(BadRequest):
    """A request body that parses as JSON but cannot be taken (too deep, lone surrogates)."""


class CheckedJSONProvider(DefaultJSONProvider):
    """Request bodies parse through `loads_checked`. Its refusals are raised as an HTTP 400
    rather than a ValueError, so that they pass through `get_json(silent=True)` and every JSON
    endpoint answers them alike, after its permission check (the parse happens in the view)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return loads_checked(s)
        except JSONInputError as exc:
            raise InvalidJSON(str(exc)) from None


def error_response(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    fields: dict[str, list[str]] | None = None,
) -> Response:
    from flask_babel import gettext

    from casebook.ui import upload_limit

    default_messages = {
        400: gettext("The request could not be understood."),
        401: gettext("Please sign in."),
        403: gettext("You do not have permission to do this."),
        404: gettext("Not found."),
        405: gettext("This method is not allowed here."),
        409: gettext("This conflicts with the current state."),
        413: gettext(
            "The file is too large: files of up to %(limit)s can be attached.",
            limit=upload_limit(),
        ),
        415: gettext("This type of content is not accepted."),
        422: gettext("Some fields need attention."),
        429: gettext("Too many attempts. Wait a moment and try again."),
        500: gettext("Something went wrong on our side. Nothing you entered was saved."),
    }
    from casebook.messages import localise_fields, localise_message

    text = localise_message(message) if message else None
    text = text or default_messages.get(status, gettext("Something went wrong."))
    fields = localise_fields(fields) if fields else fields
    if is_api():
        body: dict[str, Any] = {"code": code or ERROR_CODES.get(status, "error"), "message": text}
        if fields:
            body["fields"] = fields
        resp = jsonify({"error": body})
        resp.status_code = status
        return resp
    html = render_template("errors/error.html", status=status, message=text)
    return Response(html, status=status, mimetype="text/html")


def _handle_http(exc: HTTPException) -> Response:
    db.session().rollback()
    status = exc.code or 500
    _audit_denial(status)
    if isinstance(exc, InvalidJSON):
        return error_response(400, exc.description, code="invalid_json")
    if isinstance(exc, CSRFError):
        return error_response(
            400,
            "The form expired or was sent from elsewhere. Reload and try again.",
            code="csrf_failed",
        )
    if status == 413 and not is_api() and request.endpoint == "cases.add_attachment":
        # a file over the limit on the case page: back to the case with the limit stated beside
        # the upload field (the case page itself checks who may see it)
        from flask import flash
        from flask_babel import gettext

        from casebook.ui import upload_limit

        flash(
            gettext(
                "The file is too large: files of up to %(limit)s can be attached.",
                limit=upload_limit(),
            ),
            "field:file",
        )
        case_id = (request.view_args or {}).get("case_id", "")
        return cast(
            Response, redirect(url_for("cases.show", case_id=case_id, _anchor="attach-file"), 303)
        )
    resp = error_response(status)
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return resp


def _handle_not_found(exc: NotFoundError) -> Response:
    """A selector found nothing the user may see: the same 404 as an unknown URL."""
    return _handle_http(NotFound())


def _handle_decrypt(exc: EncryptedValueError) -> Response:
    """A ciphertext failed to authenticate: roll back, record the failure, say so plainly."""
    s = db.session()
    s.rollback()
    log.error("decryption failure", extra={"event": "decrypt_failure"})
    audit_record(
        s,
        current_actor(),
        "crypto.decrypt_failure",
        object_type=exc.table,
        object_id=exc.row_id,
        outcome="failure",
        details={"column": exc.column},
    )
    return error_response(
        500,
        "A stored record could not be decrypted. The failure has been "
        "recorded for the administrator.",
        code="decryption_failed",
    )


def _handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    db.session().rollback()
    log.error("unhandled error", exc_info=exc, extra={"event": "error"})
    return error_response(500)


# -- wiring -------------------------------------------------------------------------------------


def _start_request() -> None:
    g.request_id = secrets.token_hex(8)
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    """The request's one commit; error handlers have already rolled back their failed work."""
    s = g.get("db_session")
    if s is not None and s.is_active:
        try:
            s.commit()
        except Exception:
            s.rollback()
            raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Cache-Control"] = "no-store"
    if response.mimetype == "text/html" and "charset" not in response.headers.get(
        "Content-Type", ""
    ):
        response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers.pop("Server", None)
    log.info(
        "request",
        extra={
            "request_id": g.get("request_id"),
            "method": request.method,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": round(
                (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
            ),
        },
    )
    return response


def install(app: Flask) -> None:
    from casebook.seal import views as seal_views

    app.before_request(_start_request)
    seal_views.install(app)  # before anything loads a user or a key
    app.after_request(_finish_request)
    app.teardown_appcontext(db.close_session)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(EncryptedValueError, _handle_decrypt)
    app.register_error_handler(NotFoundError, _handle_not_found)
    app.register_error_handler(Exception, _handle_unexpected)
    app.register_error_handler(InternalServerError, _handle_unexpected)
