"""Imports every model so that Base.metadata knows every table (migrations, schema tests)."""

from casebook.audit.models import AuditEntry
from casebook.auth.models import ApiToken, RecoveryCode, RoleChangeRequest, User, WebSession
from casebook.cases.models import (
    Attachment,
    Case,
    CaseAssignment,
    CaseCounter,
    CaseIndex,
    Testimony,
)
from casebook.field.models import FieldDevice, FieldKey, FieldSubmission
from casebook.imports.models import ImportFingerprint, ImportRun
from casebook.keys.models import CaseKey, KeyErasure
from casebook.linkage.models import MatchCandidate, MatchList
from casebook.partners.models import PartnerExport, PartnerMark, PartnerRecord
from casebook.seal.models import SealState
from casebook.stats.models import DpRelease, StatsEpoch, StatsRelease, StatsReleaseTable

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "Case",
    "CaseAssignment",
    "CaseCounter",
    "CaseIndex",
    "CaseKey",
    "DpRelease",
    "FieldDevice",
    "FieldKey",
    "FieldSubmission",
    "ImportFingerprint",
    "ImportRun",
    "KeyErasure",
    "MatchCandidate",
    "MatchList",
    "PartnerExport",
    "PartnerMark",
    "PartnerRecord",
    "RecoveryCode",
    "RoleChangeRequest",
    "SealState",
    "StatsEpoch",
    "StatsRelease",
    "StatsReleaseTable",
    "Testimony",
    "User",
    "WebSession",
]
