"""Imports every model so that Base.metadata knows every table (migrations, schema tests)."""

from casebook.audit.models import AuditEntry
from casebook.auth.models import ApiToken, RecoveryCode, User, WebSession
from casebook.keys.models import CaseKey, KeyErasure

__all__ = ["ApiToken", "AuditEntry", "CaseKey", "KeyErasure", "RecoveryCode", "User", "WebSession"]
