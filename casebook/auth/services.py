"""Writes on accounts. Each flushes and records its audit entry; none commits."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from casebook.audit.services import Actor, Detail, audit_record
from casebook.auth import totp
from casebook.auth.models import ApiToken, RecoveryCode, RoleChangeRequest, User, WebSession
from casebook.auth.passwords import Passwords, password_problems
from casebook.auth.permissions import Role
from casebook.db import utcnow
from casebook.encrypted import Vault
from casebook.inputs import clean_text

RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud over a bad line
# a public prefix that makes leaked tokens greppable, not a secret (ruff S105, bandit B105)
TOKEN_PREFIX = "cbt_"  # noqa: S105  # nosec B105


class AccountError(Exception):
    """A refused account change; `problems` maps a field to its messages."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in problems.values() for m in ms))
        self.problems = problems


@dataclass(frozen=True)
class Enrolment:
    """What the new owner of a second factor must see exactly once."""

    secret: str
    uri: str
    recovery_codes: list[str]


# the browser's own rule for <input type="email"> (letters of any script in the domain): checked
# on the server too, since a form sent without the browser's check must be refused the same way
EMAIL = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+@[^\W_](?:[\w-]{0,61}[^\W_])?(?:\.[^\W_](?:[\w-]{0,61}[^\W_])?)*"
)


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().casefold()


def _vault(session: Session) -> Vault:
    vault = session.info["vault"]
    assert isinstance(vault, Vault)
    return vault


def email_hash(session: Session, email: str) -> str:
    return _vault(session).keyed_hash("email", normalise_email(email))


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(
        select(User).where(User.email_hash == email_hash(session, email))
    ).first()


def _check_new_user(
    session: Session, email: str, name: str, role: str, password: str, language: str
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    normal = normalise_email(email)
    if len(normal) > 254 or not EMAIL.fullmatch(normal):
        problems["email"] = ["Enter a valid email address."]
    elif user_by_email(session, normal) is not None:
        problems["email"] = ["An account with this email already exists."]
    if not name.strip() or len(name) > 120:
        problems["display_name"] = ["Enter a name of 1 to 120 characters."]
    if role not in {r.value for r in Role}:
        problems["role"] = ["Choose one of the four roles."]
    if language not in {"ar", "en"}:
        problems["language"] = ["Choose Arabic or English."]
    pw = password_problems(password, normal)
    if pw:
        problems["password"] = pw
    return problems


def user_create(
    session: Session,
    actor: Actor,
    passwords: Passwords,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
    language: str = "ar",
    must_change_password: bool = False,
) -> tuple[User, Enrolment]:
    """Create an account with its second factor ready; the enrolment is shown once.

    The display name is cleaned here, the one path every caller (form, command line, any API)
    takes: no control characters, bidi overrides or isolates, which would let one account
    render as another in pages and the role-change approval list."""
    display_name = clean_text(display_name).strip()
    problems = _check_new_user(session, email, display_name, role, password, language)
    if problems:
        raise AccountError(problems)
    user = User(
        id=uuid.uuid4(),
        email_hash=email_hash(session, email),
        role=role,
        language=language,
        password_hash=passwords.hash(password),
        must_change_password=must_change_password,
        email_enc=b"",
        name_enc=b"",
    )
    session.add(user)
    user.email = normalise_email(email)
    user.display_name = display_name.strip()
    enrolment = _new_second_factor(session, user)
    audit_record(
        session, actor, "user.create", object_type="user", object_id=user.id, details={"role": role}
    )
    return user, enrolment


def _new_second_factor(session: Session, user: User, with_codes: bool = True) -> Enrolment:
    secret = totp.new_secret()
    user.totp_secret = secret
    user.totp_confirmed_at = None
    user.totp_last_step = None
    codes = recovery_codes_replace(session, user) if with_codes else []
    return Enrolment(secret, totp.provisioning_uri(secret, user.email or ""), codes)


def recovery_codes_replace(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        codes.append(code)
        session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(session, code)))
    session.flush()
    return codes


def _code_hash(session: Session, code: str) -> str:
    return _vault(session).keyed_hash("recovery", code.strip().lower().replace(" ", ""))


def totp_begin_enrolment(session: Session, actor: Actor, user: User) -> Enrolment:
    """Forced enrolment at first login after a reset: a fresh secret until confirmed; the
    recovery codes are made and shown once at confirmation."""
    enrolment = _new_second_factor(session, user, with_codes=False)
    audit_record(session, actor, "user.2fa_enrol_start", object_type="user", object_id=user.id)
    return enrolment


def totp_claim_step(session: Session, user: User, step: int) -> bool:
    """Mark a code's time step used, atomically: only one of two concurrent requests with the
    same code wins. The conditional UPDATE re-checks the stored step under the row lock (on
    PostgreSQL a waiting UPDATE re-evaluates its WHERE against the committed row), so the
    loser's count is 0 whatever it read earlier."""
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def totp_confirm(session: Session, actor: Actor, user: User, code: str) -> bool:
    step = totp.match_step(user.totp_secret or "", code, user.totp_last_step)
    if step is not None and not totp_claim_step(session, user, step):
        step = None
    if step is None:
        audit_record(
            session,
            actor,
            "user.2fa_enrol",
            object_type="user",
            object_id=user.id,
            outcome="failure",
        )
        return False
    user.totp_confirmed_at = utcnow()
    audit_record(session, actor, "user.2fa_enrol", object_type="user", object_id=user.id)
    return True


# Wrong sign-in codes an account may send per window (seconds, most), counted in the database.
SECOND_FACTOR_WINDOWS = ((60, 5), (3600, 20), (86400, 100))
# The audit details of a wrong sign-in code (canonical JSON, exactly as stored).
SECOND_FACTOR_FAILURES = ('{"stage":"second_factor"}', '{"stage":"enrolment"}')


@dataclass(frozen=True)
class SecondFactorClaim:
    """Wrong codes already recorded for an account: in this pending sign-in, and whether any
    window of the account's throttle is full."""

    pending: int
    throttled: bool


def second_factor_claim(session: Session, user: User, pending_since: datetime) -> SecondFactorClaim:
    """Lock the account's row, then count its recorded wrong sign-in codes.

    Called BEFORE a code is checked: the row lock (PostgreSQL) or the write lock every writing
    request takes (SQLite, BEGIN IMMEDIATE) is held until the request commits the failure it
    records, so parallel requests, in any worker, each see the failures of the ones before and
    no more codes are checked than the limits allow. The counts come from the audit log's
    `login.failure` entries, which every wrong code writes in the same transaction.
    """
    from casebook.audit.models import AuditEntry

    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    now = datetime.now(UTC)
    longest = max(seconds for seconds, _ in SECOND_FACTOR_WINDOWS)
    start = (now - timedelta(seconds=longest)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamps = [
        datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        for at in session.scalars(
            select(AuditEntry.occurred_at).where(
                AuditEntry.action == "login.failure",
                AuditEntry.object_type == "user",
                AuditEntry.object_id == str(user.id),
                AuditEntry.details.in_(SECOND_FACTOR_FAILURES),
                AuditEntry.occurred_at >= start,
            )
        )
    ]
    throttled = any(
        sum(1 for at in stamps if at > now - timedelta(seconds=seconds)) >= most
        for seconds, most in SECOND_FACTOR_WINDOWS
    )
    pending = sum(1 for at in stamps if at >= pending_since)
    return SecondFactorClaim(pending=pending, throttled=throttled)


def second_factor_check(session: Session, user: User, code: str) -> str | None:
    """'totp' or 'recovery' when the code is good (and now spent), else None."""
    if user.totp_secret and user.totp_confirmed_at is not None:
        step = totp.match_step(user.totp_secret, code, user.totp_last_step)
        if step is not None and totp_claim_step(session, user, step):
            return "totp"
    spent = session.execute(  # conditional, like the TOTP step: a code is spent exactly once
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(session, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if int(getattr(spent, "rowcount", 0) or 0) == 1:
        return "recovery"
    return None


def totp_fresh_code(session: Session, user: User, code: str) -> bool:
    """A current authenticator code of `user`, spent now (recovery codes do not count: they
    are for signing in when the phone is lost, not for standing scripts)."""
    if not (user.totp_secret and user.totp_confirmed_at is not None):
        return False
    step = totp.match_step(user.totp_secret, code, user.totp_last_step)
    return step is not None and totp_claim_step(session, user, step)


def sessions_end_all(session: Session, user_id: uuid.UUID) -> int:
    """End every session of a user (logout everywhere, password change, disable, role change)."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def password_change(
    session: Session,
    actor: Actor,
    passwords: Passwords,
    user: User,
    current: str,
    new: str,
    confirm: str,
) -> None:
    problems: dict[str, list[str]] = {}
    if not passwords.verify(user.password_hash, current):
        problems["current_password"] = ["The current password is not right."]
    new_problems = password_problems(new, user.email)
    if new_problems:
        problems["new_password"] = new_problems
    if new != confirm:
        problems["confirm_password"] = ["The two new passwords differ."]
    if problems:
        audit_record(
            session,
            actor,
            "user.password_change",
            object_type="user",
            object_id=user.id,
            outcome="failure",
        )
        raise AccountError(problems)
    user.password_hash = passwords.hash(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    ended = sessions_end_all(session, user.id)
    revoked = _tokens_revoke_all(session, user)
    audit_record(
        session,
        actor,
        "user.password_change",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": ended, "tokens_revoked": revoked},
    )


def _tokens_revoke_all(session: Session, user: User) -> int:
    """A disabled account, a changed role, a new password or a reset second factor takes every
    live token of the user with it (a token stolen with the old credentials dies with them).
    Returns how many were revoked, for the audit entry."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def user_disable(session: Session, actor: Actor, user: User, disabled: bool = True) -> None:
    user.disabled = disabled
    ended = sessions_end_all(session, user.id) if disabled else 0
    details: dict[str, Detail] = {"sessions_ended": ended}
    if disabled:
        _tokens_revoke_all(session, user)
        # a role request waiting for a disabled account is withdrawn: no one approves a role
        # for an account that cannot sign in (enabling it again does not bring it back)
        withdrawn = []
        for waiting in session.scalars(
            select(RoleChangeRequest).where(
                RoleChangeRequest.user_id == user.id, RoleChangeRequest.decision.is_(None)
            )
        ):
            waiting.decision = "disabled"
            waiting.decided_by = uuid.UUID(actor.user_id) if actor.user_id else None
            waiting.decided_at = utcnow()
            withdrawn.append(str(waiting.id))
        if withdrawn:
            details["requests_withdrawn"] = ",".join(withdrawn)
    audit_record(
        session,
        actor,
        "user.disable" if disabled else "user.enable",
        object_type="user",
        object_id=user.id,
        details=details,
    )


# Roles that read case content or run the system: granting or removing them takes two admins.
GUARDED_ROLES = frozenset({Role.LAWYER.value, Role.ADMIN.value})


def needs_second_admin(old: str, new: str) -> bool:
    return old in GUARDED_ROLES or new in GUARDED_ROLES


def user_role_change(
    session: Session, actor: Actor, user: User, role: str
) -> RoleChangeRequest | None:
    """Change a role, or file it for a second admin when it is to or from lawyer or admin.

    No one changes their own role. The operator at the command line (no user id) changes any
    role at once: with shell access and the keyring they are outside the two-person rule
    anyway. Returns the pending request, or None when the change was made.
    """
    if role not in {r.value for r in Role}:
        raise AccountError({"role": ["Choose one of the four roles."]})
    if actor.user_id is not None and actor.user_id == str(user.id):
        raise AccountError({"role": ["No one can change their own role."]})
    if role == user.role:
        raise AccountError({"role": ["The account already has this role."]})
    if actor.user_id is None or not needs_second_admin(user.role, role):
        _role_apply(session, actor, user, role, {})
        return None
    waiting = session.scalars(
        select(RoleChangeRequest.id).where(
            RoleChangeRequest.user_id == user.id, RoleChangeRequest.decision.is_(None)
        )
    ).first()
    if waiting is not None:
        raise AccountError(
            {"role": ["A role change for this account is already waiting for approval."]}
        )
    request = RoleChangeRequest(
        id=uuid.uuid4(),
        user_id=user.id,
        from_role=user.role,
        to_role=role,
        requested_by=uuid.UUID(actor.user_id),
        requested_at=utcnow(),
    )
    session.add(request)
    session.flush()
    audit_record(
        session,
        actor,
        "user.role_change_request",
        object_type="user",
        object_id=user.id,
        details={"from": user.role, "to": role, "request": str(request.id)},
    )
    return request


def _role_apply(
    session: Session, actor: Actor, user: User, role: str, extra: dict[str, Detail]
) -> None:
    old = user.role
    user.role = role
    ended = sessions_end_all(session, user.id)
    _tokens_revoke_all(session, user)
    # a request still waiting for this account was about a role it no longer has: it lapses
    lapsed = 0
    for waiting in session.scalars(
        select(RoleChangeRequest).where(
            RoleChangeRequest.user_id == user.id, RoleChangeRequest.decision.is_(None)
        )
    ):
        waiting.decision = "lapsed"
        waiting.decided_at = utcnow()
        lapsed += 1
    if lapsed:
        extra = {**extra, "requests_lapsed": lapsed}
    audit_record(
        session,
        actor,
        "user.role_change",
        object_type="user",
        object_id=user.id,
        details={"from": old, "to": role, "sessions_ended": ended, **extra},
    )


def role_change_withdraw(session: Session, actor: Actor, request: RoleChangeRequest) -> None:
    """The administrator who asked for a role change takes the request back (audited)."""
    if request.decision is not None:
        raise AccountError({"request": ["This request was already decided."]})
    if actor.user_id is None or actor.user_id != str(request.requested_by):
        raise AccountError({"request": ["Only the administrator who asked can withdraw it."]})
    request.decision = "withdrawn"
    request.decided_by = uuid.UUID(actor.user_id)
    request.decided_at = utcnow()
    audit_record(
        session,
        actor,
        "user.role_change_withdraw",
        object_type="user",
        object_id=request.user_id,
        details={"from": request.from_role, "to": request.to_role, "request": str(request.id)},
    )


def role_change_decide(
    session: Session, actor: Actor, request: RoleChangeRequest, approve: bool
) -> None:
    """A second admin approves or rejects a pending role change (both audited)."""
    if request.decision is not None:
        raise AccountError({"request": ["This request was already decided."]})
    if actor.user_id is None or actor.user_id in (str(request.requested_by), str(request.user_id)):
        raise AccountError(
            {
                "request": [
                    "Another administrator must decide: not the one who asked, nor the "
                    "account it is about."
                ]
            }
        )
    user = session.get(User, request.user_id)
    if user is None:  # pragma: no cover (the request goes with its account)
        raise AccountError({"request": ["This account no longer exists."]})
    if user.disabled:
        raise AccountError({"request": ["The account is disabled: enable it and ask again."]})
    stale = user.role != request.from_role
    request.decision = "approved" if approve and not stale else "rejected"
    request.decided_by = uuid.UUID(actor.user_id)
    request.decided_at = utcnow()
    audit_record(
        session,
        actor,
        "user.role_change_approve" if request.decision == "approved" else "user.role_change_reject",
        object_type="user",
        object_id=user.id,
        outcome="success",
        details={
            "from": request.from_role,
            "to": request.to_role,
            "request": str(request.id),
            "requested_by": str(request.requested_by),
            "stale": stale,
        },
    )
    if stale:
        raise AccountError({"request": ["The account's role changed since; the request lapsed."]})
    if approve:
        _role_apply(
            session,
            actor,
            user,
            request.to_role,
            {"request": str(request.id), "requested_by": str(request.requested_by)},
        )


def user_2fa_reset(session: Session, actor: Actor, user: User) -> None:
    """Clear the second factor; the user enrols again at the next login."""
    user.totp_enc = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ended = sessions_end_all(session, user.id)
    revoked = _tokens_revoke_all(session, user)
    audit_record(
        session,
        actor,
        "user.2fa_reset",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": ended, "tokens_revoked": revoked},
    )


def token_issue(session: Session, actor: Actor, user: User, days: int) -> tuple[ApiToken, str]:
    """A token for `user`, minted by that user (or the operator at the command line, who holds
    the keyring anyway): nobody signed in may mint or see a token for someone else."""
    if actor.user_id is not None and actor.user_id != str(user.id):
        raise AccountError({"user": ["A token is issued only to its own user."]})
    if not 1 <= days <= 366:
        raise AccountError({"days": ["A token lasts 1 to 366 days."]})
    if user.disabled:
        raise AccountError({"user": ["This account is disabled."]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id=uuid.uuid4(),
        user_id=user.id,
        token_hash=_vault(session).keyed_hash("api-token", raw),
        expires_at=datetime.now(UTC) + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    audit_record(
        session,
        actor,
        "token.issue",
        object_type="api_token",
        object_id=token.id,
        details={"user": str(user.id), "days": days},
    )
    return token, raw


def token_revoke(session: Session, actor: Actor, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    audit_record(session, actor, "token.revoke", object_type="api_token", object_id=token.id)


# Built once: statement construction is a measurable part of every API request.
_TOKEN_USER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def token_user(session: Session, raw: str) -> User | None:
    """The live user a bearer token stands for (unexpired, unrevoked, account enabled)."""
    found = token_lookup(session, raw)
    return found[1] if found else None


def token_lookup(session: Session, raw: str) -> tuple[ApiToken, User] | None:
    """The live token and its user (unexpired, unrevoked, account enabled)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    found = session.execute(  # token and user in one round trip: this runs on every request
        _TOKEN_USER, {"token_hash": _vault(session).keyed_hash("api-token", raw)}
    ).first()
    now = datetime.now(UTC)
    if found is None:
        return None
    token, user = found
    if token.revoked_at is not None or token.expires_at <= now or user.disabled:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = now
    return token, user
