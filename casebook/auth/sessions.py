"""Server-side sessions in the database.

Hand-written because the server must be able to end every session of one user at once
(logout everywhere, password change, disable, role change) and Flask-Session keys its stores by
session id only. The cookie carries a 256-bit random id; the table keeps its SHA-256, so a copy
of the table cannot be replayed. Idle and absolute timeouts are enforced here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, insert, select, update
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


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.cookie_name = "__Host-casebook" if settings.production else "casebook_session"
        self.secure = settings.production

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.cookie_name)
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

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        now = datetime.now(UTC)
        if session.expired and not session:
            response.delete_cookie(
                self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Strict"
            )
        if not session.modified and not getattr(session, "touch", False):
            return
        data = json.dumps(dict(session), separators=(",", ":"))
        user_id = session.get("_user_id") or session.get("pending_user")
        with self.db.engine.begin() as conn:
            if session.sid and (session.rotate or not session):
                conn.execute(delete(WebSession).where(WebSession.id_hash == _hash(session.sid)))
                if not session:
                    session.sid = None
            if not session:
                response.delete_cookie(
                    self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Strict"
                )
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
        response.set_cookie(
            self.cookie_name,
            session.sid,
            httponly=True,
            secure=self.secure,
            samesite="Strict",
            path="/",
        )


def _uuid_or_none(value: object) -> Any:
    import uuid

    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
