"""One permission enum and one role → permissions table (design.md §1), tested as a matrix."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    DOCUMENTER = "documenter"
    LAWYER = "lawyer"
    ADVOCATE = "advocate"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    ACCOUNT = "account"  # one's own account: password, 2FA, sign out
    CASE_CREATE = "case_create"
    CASE_READ = "case_read"  # scoped by selectors: documenters own + assigned
    CASE_READ_ALL = "case_read_all"
    CASE_EDIT = "case_edit"
    SOURCE_READ = "source_read"
    CASE_REVIEW = "case_review"
    CASE_ERASE = "case_erase"
    LEGAL_NOTES = "legal_notes"
    CASE_PACKET = "case_packet"
    STATS_READ = "stats_read"
    STATS_RELEASE = "stats_release"  # cut a statistics release (lawyers and admins)
    USERS_MANAGE = "users_manage"
    AUDIT_READ = "audit_read"
    KEYS_MANAGE = "keys_manage"
    FIELD_DEVICES = "field_devices"  # field devices (ODK Collect, Tella) and the field inbox
    SEAL = "seal"  # drop every key from memory at once (admins and lawyers)


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DOCUMENTER: frozenset(
        {P.ACCOUNT, P.CASE_CREATE, P.CASE_READ, P.CASE_EDIT, P.SOURCE_READ, P.FIELD_DEVICES}
    ),
    Role.LAWYER: frozenset(
        {
            P.ACCOUNT,
            P.CASE_CREATE,
            P.CASE_READ,
            P.CASE_READ_ALL,
            P.CASE_EDIT,
            P.SOURCE_READ,
            P.CASE_REVIEW,
            P.CASE_ERASE,
            P.LEGAL_NOTES,
            P.CASE_PACKET,
            P.STATS_READ,
            P.STATS_RELEASE,
            P.FIELD_DEVICES,
            P.SEAL,
        }
    ),
    Role.ADVOCATE: frozenset({P.ACCOUNT, P.STATS_READ}),
    Role.ADMIN: frozenset(
        {P.ACCOUNT, P.USERS_MANAGE, P.AUDIT_READ, P.KEYS_MANAGE, P.STATS_RELEASE, P.SEAL}
    ),
}


def role_allows(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
