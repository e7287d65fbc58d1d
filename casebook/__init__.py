"""casebook: an encrypted case database for documenting detention and enforced disappearance."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from casebook.config import Settings
from casebook.db import Database
from casebook.encrypted import Vault, key_source_from_setting
from casebook.logs import configure_logging
from casebook.resources import resource_dir

LANGUAGES = ("ar", "en")


class CasebookFlask(Flask):
    """Flask, with reading requests on SQLite retried when their snapshot went stale."""

    def dispatch_request(self) -> Any:
        from casebook import db

        return db.dispatch_reading(super().dispatch_request, request.method)


def _no_passphrase() -> str:
    from casebook.encrypted import KeySourceError

    raise KeySourceError(
        "the unlock passphrase is needed: set CASEBOOK_KEK_PASSPHRASE_FILE or start with "
        "'casebook serve', which asks for it"
    )


def create_app(settings: Settings | None = None, vault: Vault | None = None) -> Flask:
    """Wire the application. No migrations, no prompts, no writes: `casebook init` does those.

    The keyring is loaded when first needed; `casebook serve` and `wsgi.py` load it at start
    so that a server without its key refuses to start.
    """
    settings = settings or Settings.from_env()
    configure_logging()
    app = CasebookFlask(
        "casebook",
        template_folder=str(resource_dir("templates")),
        static_folder=None,  # added by _wire_static so that the route declares @public
        instance_path=str(settings.instance),
        instance_relative_config=False,
    )
    from casebook.uploads import CasebookRequest, close_spools

    app.request_class = CasebookRequest
    if settings.trusted_proxies:
        # Behind nginx every request comes from 127.0.0.1: without this, one client's failed
        # sign-ins would throttle everyone. Only the given number of hops is believed, so a
        # client cannot choose its own address by sending X-Forwarded-For.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    app.teardown_request(close_spools)
    _wire_static(app)
    app.config.update(
        CASEBOOK=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "testing",
        MAX_CONTENT_LENGTH=settings.max_attachment_bytes + 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=2 * 1024 * 1024,
        WTF_CSRF_ENABLED=settings.csrf_enabled,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in before_request so bearer-token calls skip it
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        WTF_CSRF_SSL_STRICT=settings.production,
        PERMANENT_SESSION_LIFETIME=settings.session_absolute,
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=False,
        BABEL_TRANSLATION_DIRECTORIES=str(resource_dir("translations")),
        BABEL_DEFAULT_LOCALE="ar",
        JSON_SORT_KEYS=False,
    )
    from casebook.web import CheckedJSONProvider

    app.json = CheckedJSONProvider(app)
    app.json.ensure_ascii = False

    if vault is None:
        source = key_source_from_setting(
            settings.kek_source, settings.instance, _passphrase_reader(settings)
        )
        vault = Vault(source, settings.expected_cases)
    database = Database(settings.database_url, vault)
    app.extensions["casebook.vault"] = vault
    app.extensions["casebook.db"] = database
    from casebook.seal.guard import SealGuard

    app.extensions["casebook.seal"] = SealGuard(database, vault)

    from casebook.auth.passwords import Passwords
    from casebook.auth.sessions import DatabaseSessionInterface

    app.extensions["casebook.passwords"] = Passwords(settings.password_hashing)
    app.session_interface = DatabaseSessionInterface(database, settings)

    from casebook import web
    from casebook.auth.limits import limiter

    web.install(app)
    csrf = CSRFProtect(app)
    Babel(app, locale_selector=_select_locale)
    _wire_login(app, csrf)
    limiter.init_app(app)
    _register_blueprints(app)
    from casebook.events import connect_receivers

    connect_receivers()
    from casebook.auth.permissions import Permission

    app.jinja_env.globals.update(
        text_direction=_text_direction, languages=LANGUAGES, Permission=Permission
    )
    from casebook import ui

    ui.install(app)
    app.jinja_env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}
    web.enforce_declared_permissions(app)
    logging.getLogger("casebook").debug("app wired", extra={"event": "startup"})
    return app


def _passphrase_reader(settings: Settings) -> Any:
    path = settings.kek_passphrase_file
    if path is None:
        return _no_passphrase

    def read() -> str:
        from casebook.encrypted import KeySourceError

        try:
            return path.read_text().rstrip("\n")
        except OSError:
            raise KeySourceError(f"the passphrase file {path} cannot be read") from None

    return read


def _wire_static(app: Flask) -> None:
    from casebook.web import public

    app.static_folder = str(resource_dir("static"))
    app.static_url_path = "/static"

    @public
    def static(filename: str) -> Any:
        return app.send_static_file(filename)

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=static)


def _select_locale() -> str:
    from flask_login import current_user

    if not has_request_context():
        return "en"  # a command's output (casebook stats …) is in English, as its messages are
    if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
        # a script says which language it reads; the account's language is for pages
        asked = request.accept_languages.best_match(LANGUAGES)
        if asked:
            return str(asked)
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return str(current_user.language)
    if session.get("pending_lang") in LANGUAGES:  # signed in by password, second step to go
        return str(session["pending_lang"])
    return request.accept_languages.best_match(LANGUAGES) or "ar"


def _text_direction() -> str:
    from flask_babel import get_locale

    return "rtl" if str(get_locale()) == "ar" else "ltr"


def _wire_login(app: Flask, csrf: CSRFProtect) -> None:
    from flask_login import current_user

    from casebook import db
    from casebook.auth.models import User
    from casebook.auth.services import token_lookup
    from casebook.web import error_response, is_api

    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.session_protection = None  # sessions are server-side, regenerated at login

    def load_user(user_id: str) -> User | None:
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return None  # a bearer request is the token's alone (it also skipped CSRF)
        try:
            uid = uuid.UUID(user_id)
        except ValueError:
            return None
        user = db.session().get(User, uid)
        if user is None or user.disabled:
            return None
        g.auth_via = "session"
        return user

    def load_from_token(req: Any) -> User | None:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        found = token_lookup(db.session(), header.removeprefix("Bearer ").strip())
        if found is None:
            return None
        token, user = found
        g.auth_via = "token"
        g.token_id = str(token.id)  # recorded in the audit entries this request makes
        return user

    def unauthorized() -> Any:
        if is_api():
            return error_response(401)
        from flask import flash, redirect, url_for
        from flask_babel import gettext

        if getattr(session, "expired", False):
            flash(gettext("Your session ended. Please sign in again."))

        from casebook.web import safe_next

        return redirect(url_for("auth.login", next=safe_next(request.full_path)))

    manager.user_loader(load_user)
    manager.request_loader(load_from_token)
    manager.unauthorized_handler(unauthorized)

    @app.before_request
    def csrf_unless_bearer() -> None:
        if not app.config["WTF_CSRF_ENABLED"] or request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return  # a cross-site page cannot set this header; the token itself is checked
        view = app.view_functions.get(request.endpoint or "")
        if getattr(view, "casebook_device", False):
            return  # a field device: the token in the path is the credential (field/api.py)
        if is_api() and not current_user.is_authenticated:
            # Neither a session nor a token: there is nothing for a forged request to ride on,
            # and the caller is told what is missing (401 from @requires), not "csrf_failed".
            return
        csrf.protect()


def _register_blueprints(app: Flask) -> None:
    from casebook.admin.views import bp as admin_bp
    from casebook.audit.api import bp as audit_api
    from casebook.audit.views import bp as audit_bp
    from casebook.auth.views import bp as auth_bp
    from casebook.cases.api import bp as cases_api
    from casebook.cases.views import bp as cases_bp
    from casebook.estimate.api import api as estimate_api
    from casebook.field.api import bp as field_device_bp
    from casebook.field.views import bp as field_bp
    from casebook.home import bp as home_bp
    from casebook.imports.views import api as imports_api
    from casebook.imports.views import bp as imports_bp
    from casebook.keys.views import bp as keys_bp
    from casebook.linkage.views import api as linkage_api
    from casebook.linkage.views import bp as linkage_bp
    from casebook.openapi import bp as openapi_bp
    from casebook.packets.views import api as packets_api
    from casebook.packets.views import bp as packets_bp
    from casebook.seal.views import bp as seal_bp
    from casebook.stats.views import api as stats_api
    from casebook.stats.views import bp as stats_bp

    for bp in (
        home_bp,
        auth_bp,
        admin_bp,
        audit_bp,
        audit_api,
        cases_api,
        cases_bp,
        imports_bp,
        imports_api,
        keys_bp,
        linkage_bp,
        linkage_api,
        openapi_bp,
        packets_bp,
        packets_api,
        seal_bp,
        stats_bp,
        stats_api,
        estimate_api,
        field_bp,
        field_device_bp,
    ):
        app.register_blueprint(bp)
