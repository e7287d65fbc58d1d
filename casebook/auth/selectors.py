"""Reads on accounts, for administrators (who see accounts, never case content)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casebook.auth.models import ApiToken, RoleChangeRequest, User, WebSession
from casebook.lookups import NotFoundError, parse_id


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
    uid = parse_id(user_id)
    user = session.get(User, uid)
    if user is None:
        raise NotFoundError("user")
    return user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def token_or_404(session: Session, user: User, token_id: str) -> ApiToken:
    tid = parse_id(token_id)
    token = session.get(ApiToken, tid)
    if token is None or token.user_id != user.id:
        raise NotFoundError("token")
    return token


def is_live(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and token.expires_at > now


@dataclass(frozen=True)
class RoleChangeRow:
    request: RoleChangeRequest
    email: str
    requested_by: str
    decided_by: str


def role_changes(
    session: Session, pending: bool, limit: int = 20, user_id: uuid.UUID | None = None
) -> list[RoleChangeRow]:
    """Role changes waiting for a second admin (pending) or the latest decided ones; with
    `user_id`, only those about that account."""
    query = select(RoleChangeRequest)
    if user_id is not None:
        query = query.where(RoleChangeRequest.user_id == user_id)
    if pending:
        query = query.where(RoleChangeRequest.decision.is_(None)).order_by(
            RoleChangeRequest.requested_at
        )
    else:
        query = query.where(RoleChangeRequest.decision.is_not(None)).order_by(
            RoleChangeRequest.decided_at.desc()
        )
    requests = list(session.scalars(query.limit(limit)))
    ids = {r.user_id for r in requests} | {r.requested_by for r in requests}
    ids |= {r.decided_by for r in requests if r.decided_by is not None}
    emails = {u.id: u.email or "" for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return [
        RoleChangeRow(
            r,
            emails.get(r.user_id, ""),
            emails.get(r.requested_by, ""),
            emails.get(r.decided_by, "") if r.decided_by else "",
        )
        for r in requests
    ]


def request_or_404(session: Session, request_id: str) -> RoleChangeRequest:
    found = session.get(RoleChangeRequest, parse_id(request_id))
    if found is None:
        raise NotFoundError("role change")
    return found


def active_admins(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).where(User.role == "admin", User.disabled.is_(False)))
        or 0
    )
