"""Reads on accounts, for administrators (who see accounts, never case content)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casebook.auth.models import ApiToken, User, WebSession
from casebook.web import id_or_404


@dataclass(frozen=True)
class UserRow:
    user: User
    email: str
    name: str
    sessions: int


def users_list(session: Session) -> list[UserRow]:
    counts = dict(
        session.execute(
            select(WebSession.user_id, func.count())
            .where(WebSession.user_id.is_not(None))
            .group_by(WebSession.user_id)
        ).all()
    )
    users = session.scalars(select(User).order_by(User.created_at)).all()
    rows = [
        UserRow(u, u.email or "", u.display_name or "", int(counts.get(u.id, 0))) for u in users
    ]
    return sorted(rows, key=lambda r: r.email)


def user_or_404(session: Session, user_id: str) -> User:
    uid = id_or_404(user_id)
    user = session.get(User, uid)
    if user is None:
        abort(404)
    return user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def token_or_404(session: Session, user: User, token_id: str) -> ApiToken:
    tid = id_or_404(token_id)
    token = session.get(ApiToken, tid)
    if token is None or token.user_id != user.id:
        abort(404)
    return token


def is_live(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and token.expires_at > now
