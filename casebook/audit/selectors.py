"""Reads of the audit log for administrators: filtered, paged, in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from casebook.audit.models import AuditEntry
from casebook.cases.models import Case
from casebook.cases.selectors import parse_reference


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    object: str = ""
    date_from: str = ""  # YYYY-MM-DD, inclusive
    date_to: str = ""
    # the action is one the viewer's list offers (exactly it), not a prefix typed for a family
    # ("user.role" for every role change): "stats.release" is not "stats.release_cut_start"
    action_exact: bool = False

    def as_details(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v and isinstance(v, str)}


def with_case_reference(session: Session, f: AuditFilter) -> AuditFilter:
    """The filter with a case reference typed as its object (CB-2026-000201, as the case list
    accepts it) replaced by that case's id, which the entries carry. A reference no case has
    stays as typed and matches nothing."""
    reference = parse_reference(f.object)
    if reference is None:
        return f
    case_id = session.scalar(select(Case.id).where(Case.reference == reference))
    return replace(f, object=str(case_id)) if case_id else f


def case_references(session: Session, entries: Iterable[AuditEntry]) -> dict[str, str]:
    """{case id: reference} for the cases these entries are about (references are plaintext
    record-keeping, like the ids: no case content)."""
    ids = set()
    for entry in entries:
        if entry.object_type == "case" and entry.object_id:
            try:
                ids.add(uuid.UUID(entry.object_id))
            except ValueError:
                continue
    if not ids:
        return {}
    rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(ids)))
    return {str(case_id): str(reference) for case_id, reference in rows}


def _valid_date(value: str) -> bool:
    return (
        len(value) == 10
        and value[4] == "-"
        and value[7] == "-"
        and value.replace("-", "").isdigit()
    )


def _apply(query: Select[Any], f: AuditFilter) -> Select[Any]:
    if f.actor:
        query = query.where((AuditEntry.actor_id == f.actor) | (AuditEntry.actor == f.actor))
    if f.action and f.action_exact:
        query = query.where(AuditEntry.action == f.action)
    elif f.action:
        query = query.where(AuditEntry.action.startswith(f.action, autoescape=True))
    if f.object:
        query = query.where(
            (AuditEntry.object_id == f.object) | (AuditEntry.object_type == f.object)
        )
    if f.date_from and _valid_date(f.date_from):
        query = query.where(AuditEntry.occurred_at >= f.date_from)
    if f.date_to and _valid_date(f.date_to):
        query = query.where(AuditEntry.occurred_at < f.date_to + "T99")
    return query


def audit_page(
    session: Session, f: AuditFilter, page: int, per_page: int = 100
) -> tuple[list[AuditEntry], int]:
    base = _apply(select(AuditEntry), f)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(
        base.order_by(AuditEntry.seq.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), int(total)


def audit_all(session: Session, f: AuditFilter) -> list[AuditEntry]:
    return list(session.scalars(_apply(select(AuditEntry), f).order_by(AuditEntry.seq)))


def audit_after(session: Session, after: int, limit: int) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
        )
    )


def as_dict(entry: AuditEntry) -> dict[str, object]:
    return {
        "seq": entry.seq,
        "at": entry.occurred_at,
        "actor": entry.actor,
        "actor_id": entry.actor_id,
        "role": entry.role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "outcome": entry.outcome,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def role_controls_audit_log(session: Session) -> bool:
    """Whether the role casebook is connected as owns `audit_log` (or may act as its owner:
    a member of the owning role, or a superuser). Such a role can drop the triggers that make
    the log append-only and grant itself UPDATE and DELETE, so the log's protection then rests
    on nobody misusing it. The application should run as a role with only the grants
    SECURITY.md lists, and the owner should only migrate. Always False on SQLite (one file,
    no roles: whoever can write it can rewrite it; the signed checkpoints catch that)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(
        session.execute(
            text(
                "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c "
                "WHERE c.oid = to_regclass('public.audit_log')"
            )
        ).scalar()
    )


AUDIT_OWNER_WARNING = (
    "the database role casebook is connected as owns audit_log: it could drop the log's "
    "triggers and grant itself UPDATE and DELETE. Run migrations as the owner and serve "
    "casebook as an application role with only the grants in SECURITY.md (docs/deploy.md)."
)
