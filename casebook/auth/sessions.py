"""Server-side sessions in the database.

Hand-written because the server must be able to end every session of one user at once
(logout everywhere, password change, disable, role change) and Flask-Session keys its stores by
session id only. The cookie carries a 256-bit random id; the table keeps its SHA-256, so a copy
of the table cannot be replayed. Idle and absolute timeouts are enforced here.

Only sessions that stand for someone are stored: a signed-in user or a pending sign-in. An
anonymous visitor carries nothing worth a row (a CSRF token, a language, a flashed message), so
that state travels in the same cookie, signed and time-limited (as Flask's own sessions do):
requests from anonymous visitors, however many, write nothing to the database. Expired rows are
deleted by `sessions_purge` (at each password sign-in and by `casebook sessions purge`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import CallbackDict

from casebook.auth.models import WebSession
from casebook.config import Settings
from casebook.db import Database


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(
        self, initial: dict[str, Any] | None = None, sid: str | None = None, expired: bool = False
    ) -> None:
        def on_update(_self: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.new = sid is None
        self.modified = False
        self.expired = expired
        self.rotate = False

    def regenerate(self) -> None:
        """Give this session a new id at the next save (at login: no session fixation)."""
        self.rotate = True
        self.modified = True


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


# Keys whose presence makes a session worth a row: someone signed in, or half-way through.
STORED_KEYS = ("_user_id", "pending_user")
ANONYMOUS_COOKIE_MAX = 3000  # a CSRF token, a language and a few flashed messages


def _stored(session: Mapping[str, Any]) -> bool:
    return any(session.get(k) for k in STORED_KEYS)


def sessions_purge(session: Session | Connection, settings: Settings) -> int:
    """Delete every session past its idle or absolute timeout; returns how many."""
    now = datetime.now(UTC)
    result = session.execute(
        delete(WebSession).where(
            or_(
                WebSession.last_seen_at < now - settings.session_idle,
                WebSession.created_at < now - settings.session_absolute,
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.cookie_name = "__Host-casebook" if settings.production else "casebook_session"
        self.secure = settings.production
        self.anonymous = URLSafeTimedSerializer(
            settings.secret_key, salt="casebook.anonymous-session"
        )

    def _open_anonymous(self, value: str) -> ServerSession:
        """A signed cookie of an anonymous visitor (server ids have no '.')."""
        if len(value) > ANONYMOUS_COOKIE_MAX:
            return ServerSession()
        try:
            data = self.anonymous.loads(
                value, max_age=int(self.settings.session_idle.total_seconds())
            )
        except BadSignature:  # includes expired signatures
            return ServerSession()
        if not isinstance(data, dict) or _stored(data):
            return ServerSession()  # never let a signed cookie stand for a user
        session = ServerSession(data)
        session.anonymous_cookie = True  # type: ignore[attr-defined]
        return session

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.cookie_name)
        if sid and "." in sid:
            return self._open_anonymous(sid)
        if not sid or len(sid) > 64:
            return ServerSession()
        now = datetime.now(UTC)
        with self.db.engine.begin() as conn:
            row = conn.execute(
                select(WebSession.data, WebSession.created_at, WebSession.last_seen_at).where(
                    WebSession.id_hash == _hash(sid)
                )
            ).first()
            if row is None:
                return ServerSession(expired=True)
            created = row.created_at.replace(tzinfo=UTC)
            seen = row.last_seen_at.replace(tzinfo=UTC)
            if (
                now - seen > self.settings.session_idle
                or now - created > self.settings.session_absolute
            ):
                conn.execute(delete(WebSession).where(WebSession.id_hash == _hash(sid)))
                return ServerSession(expired=True)
        data = json.loads(row.data)
        session = ServerSession(data, sid)
        # Refresh the idle clock at most once a minute: one write per request would serialise
        # every read on SQLite.
        session.touch = (now - seen).total_seconds() > 60  # type: ignore[attr-defined]
        return session

    def _set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.cookie_name, value, httponly=True, secure=self.secure, samesite="Strict", path="/"
        )

    def _delete_cookie(self, response: Response) -> None:
        response.delete_cookie(
            self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Strict"
        )

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        now = datetime.now(UTC)
        if session.expired and not session:
            self._delete_cookie(response)
        if not session.modified and not getattr(session, "touch", False):
            return
        if not _stored(session):
            self._save_anonymous(session, response)
            return
        data = json.dumps(dict(session), separators=(",", ":"))
        user_id = session.get("_user_id") or session.get("pending_user")
        with self.db.engine.begin() as conn:
            if session.sid and (session.rotate or not session):
                conn.execute(delete(WebSession).where(WebSession.id_hash == _hash(session.sid)))
                if not session:
                    session.sid = None
            if not session:  # pragma: no cover (an empty session is anonymous, saved above)
                self._delete_cookie(response)
                return
            if session.sid is None or session.rotate:
                session.sid = secrets.token_urlsafe(32)
                conn.execute(
                    insert(WebSession).values(
                        id_hash=_hash(session.sid),
                        user_id=_uuid_or_none(user_id),
                        data=data,
                        created_at=now,
                        last_seen_at=now,
                    )
                )
            else:
                conn.execute(
                    update(WebSession)
                    .where(WebSession.id_hash == _hash(session.sid))
                    .values(data=data, user_id=_uuid_or_none(user_id), last_seen_at=now)
                )
        self._set_cookie(response, session.sid)

    def _save_anonymous(self, session: ServerSession, response: Response) -> None:
        """No row for an anonymous visitor: end any stored session (after sign-out) and keep
        what is left (CSRF token, language, messages) in the signed cookie, or nothing."""
        if session.sid:
            with self.db.engine.begin() as conn:
                conn.execute(delete(WebSession).where(WebSession.id_hash == _hash(session.sid)))
            session.sid = None
        if not session:
            if session.expired or getattr(session, "anonymous_cookie", False) or session.modified:
                self._delete_cookie(response)
            return
        value = self.anonymous.dumps(dict(session))
        if len(value) > ANONYMOUS_COOKIE_MAX:  # pragma: no cover (nothing anonymous is that big)
            raise RuntimeError("anonymous session too large for its cookie")
        self._set_cookie(response, value)


def _uuid_or_none(value: object) -> Any:
    import uuid

    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
