"""Seal and unseal: the flag, the audit entries, and ending every session and token.

The services only write (flush and audit, never commit). Dropping the keys from memory is the
caller's step after the commit (`casebook.seal.guard`), so that the seal entry is in the chain
before any key is gone, and the unseal entry is written only once the unlock secret has given
the keys back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.auth.models import ApiToken, WebSession
from casebook.db import utcnow
from casebook.seal.models import SealState


@dataclass(frozen=True)
class SealOutcome:
    already: bool
    sessions_ended: int
    tokens_revoked: int


def _state(session: Session) -> SealState:
    state = session.get(SealState, 1, with_for_update=True)
    if state is None:
        state = SealState(id=1, sealed=False, epoch=0, changed_at=utcnow())
        session.add(state)
        session.flush()
    return state


def service_seal(session: Session, actor: Actor, via: str) -> SealOutcome:
    """Set the flag, end every web session and revoke every API token, in one transaction with
    its audit entry. Sealing a sealed service ends whatever sessions and tokens appeared since
    and is recorded too."""
    state = _state(session)
    already = state.sealed
    now = utcnow()
    sessions = session.execute(delete(WebSession))
    tokens = session.execute(
        update(ApiToken)
        .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .values(revoked_at=now)
    )
    outcome = SealOutcome(
        already=already,
        sessions_ended=int(getattr(sessions, "rowcount", 0) or 0),
        tokens_revoked=int(getattr(tokens, "rowcount", 0) or 0),
    )
    audit_record(
        session,
        actor,
        "service.seal",
        object_type="service",
        details={
            "via": via,
            "already_sealed": already,
            "sessions_ended": outcome.sessions_ended,
            "tokens_revoked": outcome.tokens_revoked,
        },
    )
    state.sealed = True
    state.epoch += 1
    state.changed_at = now
    session.flush()
    return outcome


def service_unseal(session: Session, actor: Actor, via: str) -> bool:
    """Clear the flag (the caller has already loaded the keys with the unlock secret); False
    when the service was not sealed (nothing is written then)."""
    state = _state(session)
    if not state.sealed:
        return False
    state.sealed = False
    state.epoch += 1
    state.changed_at = utcnow()
    audit_record(session, actor, "service.unseal", object_type="service", details={"via": via})
    session.flush()
    return True


__all__ = ["SealOutcome", "service_seal", "service_unseal"]
