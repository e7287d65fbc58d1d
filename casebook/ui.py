"""What every page shares when it shows a value: bidirectional isolation, sizes and times for
people, and the error summary's data. Registered as Jinja filters by `install`.

Arabic pages are right-to-left and most values people type are mixed: a Latin name, a phone
number, a date or a reference on an Arabic page (or an Arabic testimony on an English page)
reorders its neighbours unless it is isolated. Every user-entered or mixed-direction value goes
through the one `bidi` filter: free text is isolated with its own direction found from its first
strong letter (`<bdi>`, `dir="auto"`), dates, ids, references and phone numbers are always
left-to-right. An isolate also contains any bidi control character a value carries, so an
override typed into a name cannot flip the rest of the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from babel import dates as babel_dates
from flask import Flask, current_app
from flask_babel import format_decimal, get_timezone, gettext, to_user_timezone
from flask_babel import lazy_gettext as _l
from jinja2 import Undefined
from markupsafe import Markup, escape

from casebook.vocab import VERIFICATION

DIRECTIONS = ("auto", "ltr", "rtl")


def bidi(value: Any, direction: str = "auto", block: bool = False) -> Markup:
    """`value` escaped and isolated: `<bdi>` inline, `<div>` for a block of text (testimonies,
    notes). `direction` is "auto" for free text and "ltr" for dates, ids, references, phones."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    if value is None or value == "" or isinstance(value, Undefined):
        return Markup("")  # empty, so that `value | bidi or '—'` shows the dash
    tag = "div" if block else "bdi"
    return Markup('<{0} dir="{1}">{2}</{0}>').format(tag, direction, escape(str(value)))


def ltr(value: Any) -> Markup:
    """Dates, ids, references, phone numbers: always left to right, isolated."""
    return bidi(value, "ltr")


# A range of numbers ("18–29", "2011 – 2013", "18–29 – 30–44"): neutral dashes between digits,
# which a right-to-left paragraph lays out as "29–18" unless the range is isolated.
NUMBER_RANGE = re.compile(r"\d+(?:\s*[–-]\s*\d+)+")


def ranges(value: Any) -> Markup:
    """A label of the page's own (a statistics category: "18–29", "60 فأكثر"), escaped, with
    each range of numbers in it isolated left to right so that it reads low–high on an Arabic
    page as on an English one."""
    if value is None or isinstance(value, Undefined):
        return Markup("")
    text = str(value)
    out, last = [], 0
    for match in NUMBER_RANGE.finditer(text):
        out += [escape(text[last : match.start()]), ltr(match.group())]
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def filesize(size: Any) -> str:
    """A byte count for people: "12 KB", "3.4 MB" (1024-based, as file managers show)."""
    try:
        n = int(size)
    except (TypeError, ValueError):
        return ""
    if n < 1024:
        return str(gettext("%(n)s bytes", n=format_decimal(n)))
    for unit in ("KB", "MB", "GB"):
        n_units = n / 1024
        if n_units < 1024 or unit == "GB":
            shown = str(format_decimal(round(n_units, 1 if n_units < 10 else 0)))
            return str(
                {
                    "KB": gettext("%(n)s KB", n=shown),
                    "MB": gettext("%(n)s MB", n=shown),
                    "GB": gettext("%(n)s GB", n=shown),
                }[unit]
            )
        n = int(n_units)
    return ""  # pragma: no cover - the loop always returns


def _stored_time(value: Any) -> datetime | str:
    """A stored UTC time (datetime or ISO text) as an aware datetime, or the text to show as
    it is when it is none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return str(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def when(value: Any) -> str:
    """A stored UTC time (datetime or ISO text) as a local date and time in the page's language."""
    value = _stored_time(value)
    if isinstance(value, str):
        return value
    # one style on every page: the day, the month's name and the year, then a 24-hour time
    # (no ambiguous 03/12, no AM/PM letter to reorder on an Arabic page) and its zone: the
    # server keeps UTC, three hours behind Damascus, and a time without it reads as local
    pattern = "d MMMM y، HH:mm z" if _arabic() else "d MMMM y, HH:mm z"
    return str(babel_dates.format_datetime(value, pattern, get_timezone(), _date_locale()))


def iso_day(value: Any) -> str:
    """A stored UTC time as the local day in ISO form (2024-05-01), as dates typed into a case
    are shown."""
    value = _stored_time(value)
    if isinstance(value, str):
        return value
    local: datetime = to_user_timezone(value)
    return local.date().isoformat()


def day(value: Any) -> str:
    """A stored date or time as a date alone, in the same style as `when`."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(babel_dates.format_datetime(value, "d MMMM y", get_timezone(), _date_locale()))
    if isinstance(value, date):
        return str(babel_dates.format_date(value, "d MMMM y", _date_locale()))
    return str(value)


def month_label(year: int, month: int) -> str:
    """A month of a year in words in the reader's language ("December 2016")."""
    return str(babel_dates.format_date(date(year, month, 1), "LLLL y", _date_locale()))


def _arabic() -> bool:
    from flask_babel import get_locale

    return str(get_locale() or "").startswith("ar")


def _date_locale() -> str:
    """The locale whose month names a page uses: in Arabic the Levantine names Syrians use
    (كانون الأول, not ديسمبر), from Babel's Syrian Arabic data."""
    from flask_babel import get_locale

    return "ar_SY" if _arabic() else str(get_locale() or "en")


ROLE_LABELS = {
    "documenter": _l("Documenter"),
    "lawyer": _l("Lawyer"),
    "advocate": _l("Advocate"),
    "admin": _l("Administrator"),
}

OUTCOME_LABELS = {
    "success": _l("done"),
    "failure": _l("failed"),
    "checked": _l("checked"),
    "denied": _l("access denied"),
    "refused": _l("refused"),  # asked for, not allowed by a rule (a release with too few changes)
}

ACTION_LABELS = {
    "audit.checkpoint": _l("Audit checkpoint signed"),
    "audit.export": _l("Audit log downloaded"),
    "audit.read": _l("Audit log read"),
    "audit.verify": _l("Audit chain verified"),
    "backup.create": _l("Backup made"),
    "service.seal": _l("Service sealed"),
    "service.unseal": _l("Service unsealed"),
    "backup.restore": _l("Backup restored"),
    "case.assign": _l("Case assigned"),
    "case.attachment_add": _l("File attached"),
    "case.attachment_download": _l("File downloaded"),
    "case.consent_grant": _l("Consent recorded"),
    "case.create": _l("Case created"),
    "case.erase": _l("Case erased"),
    "case.erase_reapplied": _l("Erasure applied again after a restore"),
    "case.import": _l("Case imported"),
    "case.legal_note": _l("Legal note added"),
    "case.list": _l("Case list or search"),
    "case.merge": _l("Cases merged"),
    "case.merge_undo": _l("Merge undone"),
    "case.read": _l("Case opened"),
    "case.review": _l("Case reviewed"),
    "case.status_add": _l("Status added"),
    "case.testimony_add": _l("Testimony added"),
    "case.update": _l("Case edited"),
    "cases.reindex": _l("Search indexes computed again"),
    "crypto.decrypt_failure": _l("A record could not be decrypted"),
    "import.run": _l("Import run"),
    "keys.destroy": _l("Case key destroyed"),
    "keys.retire": _l("Key generation retired"),
    "keys.rewrap": _l("Keys re-wrapped"),
    "keys.rotate": _l("Keys rotated"),
    "linkage.decide": _l("Duplicate decision"),
    "linkage.reopen": _l("Duplicate decision taken back"),
    "linkage.dedupe": _l("Duplicate search run"),
    "linkage.run_start": _l("Duplicate search started from the web"),
    "linkage.run_end": _l("Duplicate search finished"),
    "linkage.entry_warning": _l("Possible duplicate at entry"),
    "linkage.list_match": _l("Outside list matched"),
    "login.failure": _l("Sign-in failed"),
    "login.password": _l("Password accepted, second step pending"),
    "login.success": _l("Signed in"),
    "packet.refused": _l("Packet refused: elements missing"),
    "packet.reply": _l("Reply recorded"),
    "packet.submitted": _l("Submission recorded"),
    "packet.wgeid": _l("WGEID packet made"),
    "packet.iimp": _l("IIMP packet made"),
    "stats.export": _l("Statistics exported"),
    "token.issue": _l("API token issued"),
    "token.revoke": _l("API token revoked"),
    "user.create": _l("User created"),
    "user.disable": _l("User disabled"),
    "user.enable": _l("User enabled"),
    "user.password_change": _l("Password changed"),
    "user.reauth": _l("Identity confirmed again"),
    "user.role_change": _l("Role changed"),
    "case.access_denied": _l("Refused: case not available to this account"),
    "attachment.access_denied": _l("Refused: file not available to this account"),
    "import.access_denied": _l("Refused: import report not available to this account"),
    "case.consent_revoke": _l("Consent withdrawn"),
    "keys.create": _l("Keys created"),
    "login.locked": _l("Sign-in stopped after wrong codes"),
    "partners.compare": _l("Partner lists compared"),
    "partners.export": _l("Encodings exported for partner matching"),
    "stats.estimate": _l("Estimate of the total produced"),
    "stats.release_estimate": _l("Estimate of the total made with a release"),
    "stats.release": _l("Statistics release published"),
    "stats.release_cut_start": _l("Release cut started from the web"),
    "stats.release_cut_end": _l("Release cut finished"),
    "token.second_factor": _l("Second factor checked for a token request"),
    "logout": _l("Signed out"),
    "user.2fa_enrol_start": _l("Two-step sign-in setup started"),
    "user.2fa_enrol": _l("Two-step sign-in set up"),
    "user.2fa_reset": _l("Two-step sign-in reset"),  # an admin's reset of another's
    "user.role_change_request": _l("Role change requested"),
    "user.role_change_approve": _l("Role change approved"),
    "user.role_change_reject": _l("Role change rejected"),
    "user.role_change_withdraw": _l("Role change request withdrawn"),
    "field.device_create": _l("Field device added"),
    "field.device_revoke": _l("Field device revoked"),
    "field.key_create": _l("Field form key pair created"),
    "field.submission_receive": _l("Field submission received"),
    "field.submission_save": _l("Field submission saved as a case"),
    "field.submission_discard": _l("Field submission discarded"),
    "field.submission_expire": _l("Unfinished field submission expired"),
    "field_device.access_denied": _l("Refused: field device not available to this account"),
    "field_submission.access_denied": _l("Refused: field submission not available to this account"),
}


OBJECT_LABELS = {
    "case": _l("Case"),
    "service": _l("The service"),
    "linkage_run": _l("Duplicate search"),
    "stats_release": _l("Statistics release"),
    "stats_release_cut": _l("Release cut"),
    "partner_export": _l("Partner matching export"),
    "user": _l("User"),
    "attachment": _l("Attachment"),
    "kek": _l("Key-encryption key"),
    "token": _l("API token"),
    "api_token": _l("API token"),
    "import": _l("Import"),
    "instance": _l("The whole instance"),
    "linkage": _l("Duplicate search"),
    "match_candidate": _l("Possible duplicate"),
    "match_list": _l("Outside list"),
    "field_device": _l("Field device"),
    "field_key": _l("Field form key pair"),
    "field_submission": _l("Field submission"),
}


KEK_STATES = {"primary": _l("current"), "active": _l("readable"), "retired": _l("retired")}


def _label(labels: dict[str, Any], code: Any) -> str:
    """A code's words in the page's language; a code without words yet shows itself."""
    label = labels.get(str(code or ""))
    return str(label) if label is not None else str(code or "")


def kek_state(code: Any) -> str:
    return _label(KEK_STATES, code)


def object_label(code: Any) -> str:
    return _label(OBJECT_LABELS, code)


def role_label(code: Any) -> str:
    """A role for people ("Lawyer", "محامٍ"), never its code."""
    return _label(ROLE_LABELS, code)


def action_words(code: Any) -> str:
    """An audit action in words; an action without words yet shows its code."""
    return _label(ACTION_LABELS, code)


def outcome_label(code: Any) -> str:
    return _label(OUTCOME_LABELS, code)


DETAIL_LABELS = {
    "seq": _l("Entry number"),
    "erasures_reapplied": _l("Erasures applied again"),
    "current_ledger": _l("Current erasure ledger"),
    "media": _l("Media files"),
    "problems": _l("Problems"),
    "older_version": _l("Older form version"),
    "partial": _l("Partly saved"),
    "case": _l("Case"),
    "new_review_items": _l("New in the review queue"),
    "already_decided": _l("Already decided by a lawyer, not raised again"),
    "held_back": _l("Pairs held back (may join two brothers)"),
    "review_items_reopened": _l("Review items reopened"),
    "different_first_names": _l(
        "Two different common first names, taken for one person on the lawyer's word"
    ),
    "model": _l("Model"),
    "prior": _l("Prior match probability"),
    "compared": _l("Pairs compared"),
    "expected_pairs": _l("Expected matching pairs"),
    "rows_fitting_several": _l("Rows fitting several cases"),
    "testimony": _l("Testimony"),
    "index": _l("Position"),
    "by_reference": _l("By reference"),
    "partner": _l("Only cases partner organisations also document"),
    "attempts": _l("Attempts"),
    "estimate_lists": _l("Outside lists for the estimate"),
    "estimate_by": _l("Estimate also by"),
    "skip_invalid": _l("Invalid rows skipped"),
    "outcome": _l("Outcome"),
    "imported": _l("Imported"),
    "already_imported": _l("Already imported"),
    "rejected": _l("Rejected"),
    "no_consent": _l("Without consent"),
    "unreadable": _l("Unreadable"),
    "ours_matched": _l("Our cases matched"),
    "marks_added": _l("Marks added"),
    "estimated": _l("Counts estimated"),
    "overlaps_matched": _l("Shared people matched, per pair of lists"),
    "overlaps_counted": _l("Shared people counted, per pair of lists"),
    "left_out": _l("Our records left out"),
    "warnings": _l("Warnings"),
    "partner_exports": _l("Partners' export ids"),
    "refused": _l("Refused because"),
    "erasures_completed": _l("Erasures completed"),
    "kek": _l("Key-encryption key"),
    "rewrapped": _l("Keys re-wrapped"),
    "absorbed": _l("Absorbed case"),
    "absorbed_reference": _l("Absorbed case"),
    "after": _l("After entry"),
    "already_sealed": _l("Already sealed"),
    "attachment": _l("Attachment"),
    "attachments": _l("Attachments"),
    "by": _l("Counted by"),
    "by_name": _l("By name"),
    "cases": _l("Cases"),
    "changes": _l("Changes"),
    "column": _l("Field"),
    "content_type": _l("File type"),
    "created_at": _l("Created"),
    "days": _l("Days"),
    "decision": _l("Decision"),
    "device": _l("Device"),
    "dry_run": _l("Check only"),
    "duplicate": _l("Duplicate"),
    "duplicate_of": _l("Duplicate of"),
    "endpoint": _l("Page"),
    "entries": _l("Entries"),
    "estimable": _l("Estimate possible"),
    "exported": _l("Exported"),
    "factor": _l("Second factor"),
    "files": _l("Files"),
    "first_bad": _l("First damaged entry"),
    "format": _l("Format"),
    "from": _l("From"),
    "governorate": _l("Governorate"),
    "grouped": _l("Coarser categories"),
    "k": _l("Smallest number shown (k)"),
    "kept": _l("Kept case"),
    "kind": _l("Kind"),
    "legal_notes": _l("Legal notes"),
    "lists": _l("Lists"),
    "matches": _l("Matches"),
    "mechanism": _l("Mechanism"),
    "method": _l("Method"),
    "number": _l("Number"),
    "page": _l("Page"),
    "pairs": _l("Pairs"),
    "possible_duplicates": _l("Possible duplicates"),
    "queued": _l("New in the review queue"),
    "reason": _l("Reason"),
    "records": _l("Records"),
    "reference": _l("Reference"),
    "results": _l("Results"),
    "missing": _l("Missing"),
    "requests_lapsed": _l("Waiting requests lapsed"),
    "release": _l("Release"),
    "request": _l("Request"),
    "requested_by": _l("Requested by"),
    "role": _l("Role"),
    "rows": _l("Rows"),
    "scope": _l("Scope"),
    "score": _l("Score"),
    "sections": _l("Sections"),
    "sessions_ended": _l("Sessions ended"),
    "size": _l("Size"),
    "source": _l("Source"),
    "stage": _l("Stage"),
    "stale": _l("Role changed since the request"),
    "state": _l("State"),
    "status": _l("Status"),
    "testimonies": _l("Testimonies"),
    "threshold": _l("Lowest score to review"),
    "to": _l("To"),
    "tokens_revoked": _l("API tokens revoked"),
    "user": _l("User"),
    "via_token": _l("Through an API token"),
    "verification": _l("Verification"),
    "verified_only": _l("Verified cases only"),
    "via": _l("Through"),
    "view": _l("Page"),
}

VIEW_LABELS = {
    "user": _l("a user’s page"),
    "keys": _l("the key status page"),
    "audit": _l("the audit log"),
}

VIA_LABELS = {"web": _l("the web page"), "cli": _l("the command line")}


# codes that audit details carry as values, in words (a code without words shows itself;
# verification states read from their vocabulary, _value_label)
VALUE_LABELS = {
    "done": _l("done"),
    "refused": _l("refused"),
    "failed": _l("failed"),
    "running": _l("running"),
    "password": _l("password"),
    "totp": _l("authenticator code"),
    "recovery": _l("recovery code"),
    "enrolment": _l("setting up the second step"),
    "api": _l("the API"),
    "csv": "CSV",
    "json": "JSON",
    "page": _l("the page"),
    "brief": _l("the printable brief"),
    "no_lists": _l("no outside list"),
    # why a partner comparison was refused
    "unusable_file": _l("a file that cannot be used"),
    "schemas_differ": _l("files of different schemas"),
    "secrets_differ": _l("files of different secrets"),
    "list_given_twice": _l("one list given twice"),
    "labels_alike": _l("two lists labelled alike"),
    "our_export_as_partner": _l("our own export given as a partner's"),
}
# codes whose words depend on the detail they are the value of (a review item's kind, a
# decision, a duplicate run's model, the step of a failed sign-in)
KEYED_VALUE_LABELS = {
    "kind": {
        "dedupe": _l("a duplicate run"),
        "entry": _l("the check at entry"),
        "list": _l("an outside list"),
        "held": _l("held back for a lawyer"),
    },
    "decision": {
        "not_duplicate": _l("different people"),
        "match": _l("the listed person"),
        "no_match": _l("not the listed person"),
    },
    "model": {"shipped": _l("shipped"), "refined": _l("refined on this caseload")},
    "stage": {"second_factor": _l("the second step")},
}
# details whose value is an account's id: shown as the person's name where it is known
PERSON_KEYS = frozenset({"user", "requested_by", "via_token_user"})


def _value_label(code: str) -> str:
    """A code an audit detail carries, in words: a verification state as its vocabulary
    names it, another known code from VALUE_LABELS, else the code itself."""
    term = VERIFICATION.get(code)
    if term is not None:
        return term.label("ar" if _arabic() else "en")
    return str(VALUE_LABELS.get(code, code))


def _detail_value(key: str, value: Any, people: Mapping[str, Any] | None = None) -> str:
    import json

    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(gettext("yes") if value else gettext("no"))
    if people and key in PERSON_KEYS and str(value) in people:
        person = people[str(value)]
        return str(person[0] if isinstance(person, tuple | list) else person)
    keyed = KEYED_VALUE_LABELS.get(key, {})
    if isinstance(value, str) and value in keyed:
        return str(keyed[value])
    if isinstance(value, str) and (value in VALUE_LABELS or value in VERIFICATION):
        return _value_label(value)
    if key in ("from", "to", "role") and str(value) in ROLE_LABELS:
        return role_label(value)
    if key == "view":
        return _label(VIEW_LABELS, value)
    if key == "via":
        return _label(VIA_LABELS, value)
    if isinstance(value, list):
        return ", ".join(_value_label(v) if isinstance(v, str) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(format_decimal(value))
    return str(value)


def details_items(
    details: Any, people: Mapping[str, Any] | None = None
) -> list[tuple[str | Markup, str]]:
    """An audit entry's details (JSON text or a dict) as (label, value) pairs to list: each key
    in words in the page's language, roles, pages and yes/no in words too."""
    import json

    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return [("", details)]
    if not isinstance(details, dict):
        return [] if details in (None, "") else [("", str(details))]
    return [(_detail_label(str(k)), _detail_value(str(k), v, people)) for k, v in details.items()]


def _detail_label(key: str) -> str | Markup:
    """A detail's key in words; a key without words yet is shown as the code it is."""
    label = DETAIL_LABELS.get(key)
    if label is not None:
        return str(label)
    return Markup('<code dir="ltr">{}</code>').format(key)


def entry_words(action: Any, details: Any) -> str:
    """An audit entry's action in words, told apart by its details where one action covers
    several pages (opening a user's page is recorded as reading the audit trail of that user)."""
    import json

    if str(action) == "audit.read":
        if isinstance(details, str):
            try:
                details = json.loads(details)
            except ValueError:
                details = {}
        view = details.get("view") if isinstance(details, dict) else None
        if view == "user":
            return str(gettext("User page opened"))
        if view == "keys":
            return str(gettext("Key status read"))
    return action_words(action)


def method_sentence(release: Any) -> str:
    """How a statistics release was protected, in the page's language."""
    if getattr(release, "epsilon", None):
        return str(
            gettext(
                "Differentially private counts (discrete Laplace noise, epsilon %(e)s, one "
                "person per case); noisy counts of 1 to %(k)s withheld.",
                e=format_decimal(release.epsilon),
                k=format_decimal(release.k - 1),
            )
        )
    return str(
        gettext(
            "Exact counts of consenting cases; numbers of 1 to %(low)s are hidden, with further "
            "cells hidden so that no hidden number can be narrowed to fewer than %(k)s values "
            "by combining any tables of this release or of any other release.",
            low=format_decimal(release.k - 1),
            k=format_decimal(release.k),
        )
    )


IMPORT_OUTCOMES = {
    "imported": _l("imported"),
    "refused": _l("refused: nothing imported"),
    "checked": _l("checked, nothing imported"),
}


def import_outcome(code: Any) -> str:
    label = IMPORT_OUTCOMES.get(str(code or ""))
    return str(label) if label is not None else str(code or "")


def import_summary(run: Any) -> str:
    """A run in one line. A check-only run imported nothing: it gives its valid and refused
    rows, never a count of "imported" cases."""
    if run.outcome == "checked" or run.dry_run:
        return str(
            gettext(
                "checked, nothing imported: %(valid)s valid rows, %(refused)s refused",
                valid=format_decimal(run.rows - run.rejected),
                refused=format_decimal(run.rejected),
            )
        )
    if run.outcome == "refused":
        return str(
            gettext(
                "refused, nothing imported: %(valid)s valid rows, %(refused)s refused",
                valid=format_decimal(run.rows - run.rejected),
                refused=format_decimal(run.rejected),
            )
        )
    return str(
        gettext(
            "imported %(imported)s cases; %(refused)s rows refused",
            imported=format_decimal(run.imported),
            refused=format_decimal(run.rejected),
        )
    )


def upload_limit() -> str:
    """The largest file a person may attach, as they read sizes ("50 MB")."""
    return filesize(current_app.config["CASEBOOK"].max_attachment_bytes)


FIELD_PAGES = frozenset({"devices", "inbox"})


def language_next(full_path: str) -> str:
    """Where the language switch returns to: the page itself with its query (the table a
    reader chose, a page of the audit log), except under /field/ where a path other than the
    documenter's pages may carry a device token (a credential), which no page repeats. No
    page takes personal data in its query (searches are posted)."""
    path, _, query = full_path.partition("?")
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "field" and parts[2] not in FIELD_PAGES:
        return "/"
    return f"{path}?{query}" if query else path


def install(app: Flask) -> None:
    from casebook.messages import localise_fields, localise_message

    app.jinja_env.filters.update(
        bidi=bidi,
        ltr=ltr,
        ranges=ranges,
        filesize=filesize,
        when=when,
        day=day,
        iso_day=iso_day,
        msg=localise_message,
        msgs=localise_fields,
    )
    app.jinja_env.globals.update(
        upload_limit=upload_limit,
        language_next=language_next,
        method_sentence=method_sentence,
        import_outcome=import_outcome,
        import_summary=import_summary,
        role_label=role_label,
        action_words=action_words,
        object_label=object_label,
        kek_state=kek_state,
        action_codes=lambda: sorted(ACTION_LABELS, key=action_words),
        outcome_label=outcome_label,
        details_items=details_items,
        entry_words=entry_words,
    )
