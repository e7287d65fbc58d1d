"""Writes on cases. Each flushes and writes its audit entry; none commits (the request does).

Details in audit entries are codes, counts and ids only — never a name or a free-text value.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from casebook import db
from casebook.audit.services import Actor, Detail, audit_record, audit_record_many
from casebook.cases import derived
from casebook.cases.models import (
    Attachment,
    Case,
    CaseAssignment,
    CaseCounter,
    CaseIndex,
    Testimony,
)
from casebook.cases.records import (
    CaseIn,
    CasePatch,
    CaseRecord,
    Consent,
    ConsentChangeIn,
    ConsentState,
    Detention,
    FamilyAction,
    Person,
    ReviewIn,
    Source,
    StatusEntry,
    TestimonyBody,
    TestimonyIn,
)
from casebook.cases.schemas import (
    CaseInSchema,
    CasePatchSchema,
    ConsentChangeSchema,
    DetentionSchema,
    FamilyActionSchema,
    PartialDate,
    PersonSchema,
    ReviewSchema,
    SourceSchema,
    StatusInSchema,
    TestimonyInSchema,
    chronology_errors,
    flatten_errors,
    load_as,
)
from casebook.encrypted import Vault, seal_json
from casebook.events import case_counts_changed, case_erased, send_required
from casebook.inputs import clean_text
from casebook.keys.models import CaseKey
from casebook.keys.services import data_key_destroy

_INDEX_TABLE: Table = CaseIndex.__table__  # type: ignore[assignment]
# Schema instances are reused: building one builds every nested schema again (about 3 ms).
_CASE_IN = CaseInSchema()
_PATCH = CasePatchSchema()
T = TypeVar("T")


class CaseInputError(Exception):
    """Input refused whole; `fields` maps a field path to its messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(f"{len(fields)} fields need attention")
        self.fields = fields


class CaseStateError(Exception):
    """The case's state forbids this change (verified, erased); answered with 409."""


def _vault(session: Session) -> Vault:
    vault = session.info["vault"]
    assert isinstance(vault, Vault)
    return vault


def _load(schema: Schema, data: Any, shape: type[T]) -> T:
    try:
        return load_as(schema, data, shape)
    except ValidationError as exc:
        raise CaseInputError(flatten_errors(exc.messages)) from None


def _record(case: Case) -> CaseRecord:
    """A copy of a live case's record, to change. Only an erased case has none (`_live`
    refuses those before)."""
    record = case.record
    if record is None:
        raise CaseStateError("This case was erased.")
    return copy.deepcopy(record)


def _reindex(session: Session, case: Case, person: Person | None, *, new: bool = False) -> None:
    vault = _vault(session)
    if not new:
        session.execute(delete(CaseIndex).where(CaseIndex.case_id == case.id))
    rows = [
        {"case_id": case.id, "name": name, "value": vault.blind_index(name).value(*parts)}
        for name, parts in derived.index_keys(person)
    ]
    if rows:  # plain Core insert: no identity map for rows that are never loaded as objects
        session.execute(_INDEX_TABLE.insert(), rows)


def cases_reindex(
    factory: Callable[[], Session],
    actor: Actor,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Compute every live case's blind indexes again from its record, one committed batch at
    a time (each audited): after the name rules gain an index, or `CASEBOOK_EXPECTED_CASES`
    changes the index width. Records, versions and timestamps are left as they are; a crash
    leaves the batches done, and a rerun starts over (it is idempotent)."""
    done = 0
    after: uuid.UUID | None = None
    while True:
        with factory() as session, session.begin():
            # locked (PostgreSQL) so that an edit saved meanwhile cannot be indexed as it was
            page = (
                select(Case)
                .where(Case.erased_at.is_(None))
                .order_by(Case.id)
                .limit(batch)
                .with_for_update()
            )
            cases = list(session.scalars(page if after is None else page.where(Case.id > after)))
            if not cases:
                break
            _vault(session).prefetch(session, [c.id for c in cases])
            for case in cases:
                _reindex(session, case, derived.record_person(case.record))
            audit_record(
                session, actor, "cases.reindex", object_type="case", details={"cases": len(cases)}
            )
        after = cases[-1].id
        done += len(cases)
        if progress is not None:
            progress(len(cases))
    return done


def _seal(
    session: Session,
    case: Case,
    record: CaseRecord,
    consent: Consent,
    *,
    new: bool = False,
) -> None:
    send_required(case_counts_changed, session)  # the facets change: cached statistics are stale
    case.record = record
    case.consent = consent
    case.facets = derived.facets(record, consent)
    _reindex(session, case, record.get("person"), new=new)


def case_record_store(session: Session, case: Case, record: CaseRecord) -> None:
    """Seal a new record for a case with everything derived from it (facets, blind indexes,
    the statistics epoch): for services of other domains (a merge) that rewrite a record."""
    _seal(session, case, record, case.consent or {})


def case_create(session: Session, actor: Actor, data: Any, *, created_by: uuid.UUID | None) -> Case:
    """Store a whole case, or nothing: every problem is reported at once."""
    created = case_create_many(session, actor, [data], created_by=created_by)
    case = session.get(Case, created[0][0])
    assert case is not None
    return case


def case_create_many(
    session: Session,
    actor: Actor,
    items: list[Any],
    *,
    created_by: uuid.UUID | None,
    action: str = "case.create",
    details: dict[str, Detail] | None = None,
) -> list[tuple[uuid.UUID, str]]:
    """Store many cases at once, all or none: validated one by one, encrypted each with its own
    data key, written with one statement per table, one audit entry per case.

    Returns (id, reference) pairs in order.
    """
    clean_items = [_load(_CASE_IN, item, CaseIn) for item in items]
    return case_insert_validated(
        session,
        actor,
        clean_items,
        created_by=created_by,
        action=action,
        details=[details or {}] * len(clean_items),
    )


def case_validate(data: Any) -> tuple[CaseIn | None, dict[str, list[str]]]:
    """(clean case, {}) or (None, every problem by field path): for callers that report
    problems per item (the import) instead of refusing the whole request."""
    try:
        return load_as(_CASE_IN, data, CaseIn), {}
    except ValidationError as exc:
        return None, flatten_errors(exc.messages)


def case_insert_validated(
    session: Session,
    actor: Actor,
    clean_items: list[CaseIn],
    *,
    created_by: uuid.UUID | None,
    action: str,
    details: list[dict[str, Detail]],
) -> list[tuple[uuid.UUID, str]]:
    """The write half of case_create_many, for cases already loaded by the case schema."""
    vault = _vault(session)
    if not clean_items:
        return []
    now = datetime.now(UTC)
    first_number = _reserve_references(session, now.year, len(clean_items))
    facets_cipher = vault.system_cipher("facets")
    cases: list[dict[str, Any]] = []
    keys_rows: list[dict[str, Any]] = []
    index_rows: list[dict[str, Any]] = []
    testimony_rows: list[dict[str, Any]] = []
    audit_items: list[tuple[object, dict[str, Detail]]] = []
    out: list[tuple[uuid.UUID, str]] = []
    for offset, clean in enumerate(clean_items):
        case_id = uuid.uuid4()
        reference = f"CB-{now.year}-{first_number + offset:06d}"
        cipher, key_row = vault.new_wrapped_key(case_id)
        keys_rows.append(key_row)
        record: CaseRecord = {
            "person": clean["person"],
            "arrests": clean["arrests"],
            "detention": clean["detention"],
            "status": clean["status"],
            "family_actions": clean["family_actions"],
        }
        sid = str(case_id)
        cases.append(
            {
                "id": case_id,
                "reference": reference,
                "created_at": now,
                "updated_at": now,
                "created_by": created_by,
                "verification": "unverified",
                "duplicate_of": None,
                "erased_at": None,
                "erased_by": None,
                "record_enc": seal_json(cipher, "cases", "record_enc", sid, record),
                "source_enc": seal_json(cipher, "cases", "source_enc", sid, clean["source"]),
                "consent_enc": seal_json(cipher, "cases", "consent_enc", sid, clean["consent"]),
                "legal_notes_enc": seal_json(cipher, "cases", "legal_notes_enc", sid, []),
                "facets_enc": seal_json(
                    facets_cipher,
                    "cases",
                    "facets_enc",
                    sid,
                    derived.facets(record, clean["consent"]),
                ),
            }
        )
        index_rows += [
            {"case_id": case_id, "name": name, "value": vault.blind_index(name).value(*parts)}
            for name, parts in derived.index_keys(record.get("person"))
        ]
        for item in clean["testimonies"]:
            tid = uuid.uuid4()
            body: TestimonyBody = {
                "text": item["text"],
                "date": item.get("date"),
                "language": item.get("language", "ar"),
            }
            testimony_rows.append(
                {
                    "id": tid,
                    "case_id": case_id,
                    "created_at": now,
                    "created_by": created_by,
                    "body_enc": seal_json(cipher, "testimonies", "body_enc", str(tid), body),
                }
            )
        audit_items.append(
            (
                case_id,
                {
                    "reference": reference,
                    "testimonies": len(clean["testimonies"]),
                    **details[offset],
                },
            )
        )
        out.append((case_id, reference))
    session.flush()  # anything pending goes first
    session.execute(_table(Case).insert(), cases)
    session.execute(_table(CaseKey).insert(), keys_rows)
    if index_rows:
        session.execute(_INDEX_TABLE.insert(), index_rows)
    if testimony_rows:
        session.execute(_table(Testimony).insert(), testimony_rows)
    send_required(case_counts_changed, session)
    audit_record_many(session, actor, action, "case", audit_items)
    return out


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _reserve_references(session: Session, year: int, count: int) -> int:
    """The first of `count` consecutive reference numbers for `year`."""
    updated = session.execute(
        update(CaseCounter)
        .where(CaseCounter.year == year)
        .values(value=CaseCounter.value + count)
        .returning(CaseCounter.value)
    ).scalar()
    if updated is None:
        session.execute(insert(CaseCounter).values(year=year, value=count))
        updated = count
    return int(updated) - count + 1


def _testimony(
    session: Session, case: Case, item: TestimonyIn, created_by: uuid.UUID | None
) -> Testimony:
    testimony = Testimony(id=uuid.uuid4(), case_id=case.id, created_by=created_by, body_enc=b"")
    session.add(testimony)
    testimony.body = {
        "text": item["text"],
        "date": item.get("date"),
        "language": item.get("language", "ar"),
    }
    return testimony


_SECTION_SCHEMAS: dict[str, type[Schema]] = {
    "person": PersonSchema,
    "detention": DetentionSchema,
    "source": SourceSchema,
}


def _merged(
    section: str, current: Mapping[str, Any], change: Mapping[str, Any], shape: type[T]
) -> T:
    merged = {**current, **change}
    try:
        # dump-shaped keys (detention places use "from"/"to") are what the schema loads
        return load_as(_SECTION_SCHEMAS[section](), _dump_shape(section, merged), shape)
    except ValidationError as exc:
        raise CaseInputError(flatten_errors({section: exc.messages})) from None


def _dump_shape(section: str, value: dict[str, Any]) -> dict[str, Any]:
    if section != "detention":
        return value
    out = dict(value)
    out["places"] = [
        {("from" if k == "date_from" else "to" if k == "date_to" else k): v for k, v in p.items()}
        for p in value.get("places") or []
    ]
    return out


def _patch_sections(patch: Any) -> CasePatch:
    """The object sections of a PATCH the schema refused, to go on checking them."""
    given: dict[str, Any] = patch if isinstance(patch, dict) else {}
    sections = CasePatch()
    if isinstance(given.get("person"), dict):
        sections["person"] = given["person"]
    if isinstance(given.get("detention"), dict):
        sections["detention"] = given["detention"]
    if isinstance(given.get("source"), dict):
        sections["source"] = given["source"]
    return sections


def case_update(
    session: Session, actor: Actor, case: Case, patch: Any, *, replace: bool = False
) -> bool:
    """Apply a PATCH: lists replace, objects update field by field (or are replaced whole when
    `replace`, as the edit form sends every field); all checked together. Says whether it
    changed anything: a change that leaves the case as it was writes nothing, so the case
    keeps its version (a form saved untouched does not make others' open forms stale)."""
    _live(session, case)
    problems: dict[str, list[str]] = {}
    try:
        clean = _load(_PATCH, patch, CasePatch)
    except CaseInputError as exc:  # go on checking the sections, to refuse with every reason
        problems.update(exc.fields)
        clean = _patch_sections(patch)
    record = _record(case)
    consent = copy.deepcopy(case.consent or {})
    source = copy.deepcopy(case.source or {})
    try:
        if "person" in clean:
            current_person: Mapping[str, Any] = {} if replace else record.get("person") or {}
            record["person"] = _merged("person", current_person, clean["person"], Person)
    except CaseInputError as exc:
        problems.update(exc.fields)
    try:
        if "detention" in clean:
            current_detention: Mapping[str, Any] = {} if replace else record.get("detention") or {}
            record["detention"] = _merged(
                "detention", current_detention, clean["detention"], Detention
            )
    except CaseInputError as exc:
        problems.update(exc.fields)
    try:
        if "source" in clean:
            source = _merged("source", {} if replace else source, clean["source"], Source)
    except CaseInputError as exc:
        problems.update(exc.fields)
    if "arrests" in clean:
        record["arrests"] = clean["arrests"]
    if "status" in clean:
        record["status"] = clean["status"]
    if "family_actions" in clean:
        record["family_actions"] = clean["family_actions"]
    if "consent" in clean:
        consent.update(clean["consent"])
        documentation = consent.get("documentation")
        if not (documentation and documentation.get("granted")):
            problems["consent.documentation"] = [
                "Documentation consent cannot be withdrawn by editing; erase the case instead."
            ]
    if clean.keys() & {"person", "arrests", "status"}:
        # the dates' order, when a change touches a date it holds: an edit of the source alone
        # is not refused for a date entered before a rule was added
        problems.update(flatten_errors(chronology_errors(record)))
    if problems:
        raise CaseInputError(problems)
    if (
        _said(record) == _said(case.record)
        and _said(consent) == _said(case.consent)
        and (_said(source) == _said(case.source))
    ):
        return False
    _seal(session, case, record, consent)
    case.source = source
    case.updated_at = datetime.now(UTC)
    session.flush()
    audit_record(
        session,
        actor,
        "case.update",
        object_type="case",
        object_id=case.id,
        details={"sections": sorted(clean)},
    )
    return True


def _said(value: Any) -> Any:
    """What a record says, without the empty fields and sections its forms and clients may
    or may not send (`"places": []` and no places say the same)."""
    if isinstance(value, Mapping):
        said = {k: _said(v) for k, v in value.items()}
        return {k: v for k, v in said.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_said(v) for v in value]
    return value


MERGED_INTO_ANOTHER = "This case was merged into another case: edit that one, or undo the merge."


_LOCKED_CASES = "casebook.cases.locked"


def case_lock(session: Session, *cases: Case) -> None:
    """Hold these cases' rows until the transaction ends and read them again as committed.

    A change to a case reads its sealed record, changes it and writes it whole. On PostgreSQL
    (READ COMMITTED) two requests changing one case at once would each read the same record
    and the later write would drop what the earlier added (two status changes, one kept): the
    row lock makes the second wait for the first's commit and then read its record. Locks are
    taken in id order, so two requests locking the same pair cannot wait on each other; a
    request takes them before its first audit entry, whose chain lock comes after. On SQLite
    a writing transaction already holds the database's one write lock from its start
    (BEGIN IMMEDIATE) and `FOR UPDATE` is not rendered: the read is the committed row anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # A change is locked twice on its way (the request's load-then-authorise, then the
    # service): the second would be one more round trip re-reading the whole record, so the
    # ids this transaction holds are noted on it and skipped. The note names the transaction
    # itself: locks end with it, and the next transaction starts with none.
    transaction = session.get_transaction()
    noted = session.info.get(_LOCKED_CASES)
    if noted is None or noted[0] is not transaction:
        noted = (transaction, set())
        session.info[_LOCKED_CASES] = noted
    held: set[uuid.UUID] = noted[1]
    ids = sorted({case.id for case in cases} - held)
    if not ids:
        return
    session.execute(
        select(Case)
        .where(Case.id.in_(ids))
        .order_by(Case.id)
        .with_for_update(of=Case)
        .execution_options(populate_existing=True)
    ).all()
    held.update(ids)


def _live(session: Session, case: Case) -> None:
    """Lock the case (see `case_lock`), then refuse any change to an erased case, or to one
    sealed by a merge (its record is kept as it was, so that undoing the merge can give it
    back whole)."""
    case_lock(session, case)
    if case.erased_at is not None:
        raise CaseStateError("This case was erased.")
    if case.merged_into is not None:
        raise CaseStateError(MERGED_INTO_ANOTHER)


def status_add(session: Session, actor: Actor, case: Case, data: Any) -> None:
    _live(session, case)
    entry = _load(StatusInSchema(), data, StatusEntry)
    record = _record(case)
    statuses = record.setdefault("status", [])
    statuses.append(entry)
    # only the new entry's: an older one wrong since before a rule was added must not stop a
    # lawyer recording today's news
    problems = flatten_errors(chronology_errors(record)).get(f"status.{len(statuses) - 1}.date")
    if problems:
        raise CaseInputError({"date": problems})
    _seal(session, case, record, case.consent or {})
    case.updated_at = datetime.now(UTC)
    audit_record(
        session,
        actor,
        "case.status_add",
        object_type="case",
        object_id=case.id,
        details={"status": entry["status"]},
    )


def testimony_add(
    session: Session, actor: Actor, case: Case, data: Any, created_by: uuid.UUID | None
) -> Testimony:
    _live(session, case)
    item = _load(TestimonyInSchema(), data, TestimonyIn)
    testimony = _testimony(session, case, item, created_by)
    case.updated_at = datetime.now(UTC)
    session.flush()
    audit_record(
        session,
        actor,
        "case.testimony_add",
        object_type="case",
        object_id=case.id,
        details={"testimony": str(testimony.id)},
    )
    return testimony


FIRST_NAMES_DIFFER = (
    "These cases give two different first names, both common names: most likely two people, "
    "such as brothers. Merge them only if you are sure they are one person, and say so."
)
FIRST_NAMES_DIFFER_REVIEW = (
    "This case and the one named give two different first names, both common names: most "
    "likely two people, such as brothers. Mark it a duplicate only if you are sure they are "
    "one person, and say so."
)


def case_review(session: Session, actor: Actor, case: Case, data: Any) -> None:
    """A lawyer's decision: verification state, duplicate_of, and an optional note. Marking a
    case a duplicate of one that gives another common first name (حسن of حسين) needs the
    lawyer's word, as a merge does: it takes the case out of every count, as one person."""
    _live(session, case)
    clean = _load(ReviewSchema(), data, ReviewIn)
    duplicate_of = None
    differ = False
    if clean["verification"] == "duplicate":
        target = _case_by_id_or_reference(session, str(clean["duplicate_of"]))
        if target is None or target.id == case.id or target.erased_at is not None:
            raise CaseInputError({"duplicate_of": ["No such case."]})
        differ = derived.first_names_differ(target.record, case.record)
        if differ and not clean.get("different_first_names"):
            raise CaseInputError({"different_first_names": [FIRST_NAMES_DIFFER_REVIEW]})
        duplicate_of = target.id
    case.verification = clean["verification"]
    case.duplicate_of = duplicate_of
    send_required(case_counts_changed, session)
    if clean.get("note"):
        _legal_note(case, actor, clean["note"])
    case.updated_at = datetime.now(UTC)
    audit_record(
        session,
        actor,
        "case.review",
        object_type="case",
        object_id=case.id,
        details={
            "verification": case.verification,
            "duplicate_of": str(duplicate_of) if duplicate_of else None,
            "different_first_names": differ,
        },
    )


def _case_by_id_or_reference(session: Session, value: str) -> Case | None:
    try:
        return session.get(Case, uuid.UUID(value))
    except ValueError:
        return session.scalars(select(Case).where(Case.reference == value.strip().upper())).first()


def _legal_note(case: Case, actor: Actor, text: str) -> None:
    notes = list(case.legal_notes or [])
    notes.append(
        {"text": text, "by": actor.user_id, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    )
    case.legal_notes = notes


def legal_note_add(session: Session, actor: Actor, case: Case, text: str) -> None:
    _live(session, case)
    text = clean_text(text, multiline=True)
    if not text.strip() or len(text) > 20_000:
        raise CaseInputError({"text": ["Write a note of 1 to 20,000 characters."]})
    _legal_note(case, actor, text.strip())
    audit_record(session, actor, "case.legal_note", object_type="case", object_id=case.id)


def consent_change(session: Session, actor: Actor, case: Case, data: Any) -> None:
    """Grant or revoke one consent scope, with its date; takes effect for every later export.

    Withdrawing documentation consent is refused here: that is `case_erase`.
    """
    _live(session, case)
    clean = _load(ConsentChangeSchema(), data, ConsentChangeIn)
    if clean["scope"] == "documentation" and not clean["granted"]:
        raise CaseInputError(
            {
                "scope": [
                    "Withdrawn documentation consent means erasing the case: a lawyer erases it."
                ]
            }
        )
    consent = copy.deepcopy(case.consent or {})
    previous = consent.get(clean["scope"])
    history: list[ConsentState] = list(previous.get("history") or []) if previous else []
    if previous:
        history.append({"granted": previous.get("granted"), "date": previous.get("date")})
    consent[clean["scope"]] = {
        "granted": clean["granted"],
        "date": clean["date"],
        "history": history,
    }
    _seal(session, case, _record(case), consent)
    case.updated_at = datetime.now(UTC)
    audit_record(
        session,
        actor,
        "case.consent_revoke" if not clean["granted"] else "case.consent_grant",
        object_type="case",
        object_id=case.id,
        details={"scope": clean["scope"]},
    )


def consent_revoke(session: Session, actor: Actor, case: Case, scope: str, date: str) -> None:
    """Record a family withdrawing one scope of consent; later exports honour it at once."""
    consent_change(session, actor, case, {"scope": scope, "granted": False, "date": date})


def case_assign(session: Session, actor: Actor, case: Case, user_id: uuid.UUID) -> None:
    from casebook.auth.models import User

    _live(session, case)
    user = session.get(User, user_id)
    if user is None or user.role != "documenter" or user.disabled:
        raise CaseInputError({"user_id": ["Choose an active documenter."]})
    if session.get(CaseAssignment, (case.id, user_id)) is None:
        session.add(CaseAssignment(case_id=case.id, user_id=user_id))
    audit_record(
        session,
        actor,
        "case.assign",
        object_type="case",
        object_id=case.id,
        details={"user": str(user_id)},
    )


def case_erase(
    session: Session, actor: Actor, case: Case, confirm: str, attachments_dir: Path, ledger: Path
) -> None:
    """Crypto-shred a case: destroy its data key, drop its ciphertexts, files and index rows,
    and leave a tombstone with the reference and who erased it when."""
    _live(session, case)
    if confirm.strip().upper() != case.reference:
        raise CaseInputError({"confirm": ["Type the case reference exactly to confirm."]})
    attachment_ids = _tombstone(session, actor, case)
    data_key_destroy(session, actor, _vault(session), case.id, ledger)
    audit_record(
        session,
        actor,
        "case.erase",
        object_type="case",
        object_id=case.id,
        details={"reference": case.reference, "attachments": len(attachment_ids)},
    )
    session.flush()
    _shred_after_commit(session, attachments_dir, attachment_ids)


def _tombstone(session: Session, actor: Actor, case: Case) -> list[uuid.UUID]:
    """Drop a case's ciphertexts, index rows and attachment rows; keep reference and who/when."""
    attachment_ids = list(
        session.scalars(select(Attachment.id).where(Attachment.case_id == case.id))
    )
    session.execute(delete(CaseIndex).where(CaseIndex.case_id == case.id))
    session.execute(delete(Testimony).where(Testimony.case_id == case.id))
    session.execute(delete(Attachment).where(Attachment.case_id == case.id))
    session.execute(delete(CaseAssignment).where(CaseAssignment.case_id == case.id))
    _drop_references(session, case.id)
    case.duplicate_of = None
    for column in ("record_enc", "source_enc", "consent_enc", "legal_notes_enc", "facets_enc"):
        setattr(case, column, None)
    case.erased_at = datetime.now(UTC)
    case.erased_by = actor.label
    send_required(case_counts_changed, session)
    return attachment_ids


def _drop_references(session: Session, case_id: uuid.UUID) -> None:
    """Every other row that names the case goes with it: the packages that keep rows about
    cases (linkage review items and outside-list rows, import fingerprints, partner-matching
    records) drop theirs on the `case_erased` signal, in this transaction; other cases' links
    to it as the case they duplicate are dropped here."""
    send_required(case_erased, session, case_id=case_id)
    session.execute(update(Case).where(Case.duplicate_of == case_id).values(duplicate_of=None))


def _shred_after_commit(
    session: Session, attachments_dir: Path, attachment_ids: list[uuid.UUID]
) -> None:
    """Once the erasure is committed (never before: a rollback must find the files intact),
    overwrite the case's attachment files and, on SQLite, empty the WAL so that no file of the
    instance holds the erased rows' old pages when the request returns."""
    bind = session.get_bind()
    engine = bind.engine if hasattr(bind, "engine") else bind

    def shred() -> None:
        _shred_attachments(attachments_dir, attachment_ids)
        if engine.dialect.name == "sqlite":
            db.sqlite_checkpoint_truncate(engine)  # type: ignore[arg-type]

    db.after_commit(session, shred)


def _shred_attachments(attachments_dir: Path, attachment_ids: list[uuid.UUID]) -> None:
    """Overwrite each file with zeros at its full length and fsync before unlinking it, so the
    ciphertext is not left in the freed blocks of a file system that reuses them in place.
    (Copy-on-write and flash file systems may keep old blocks anyway: SECURITY.md.)"""
    block = bytes(1 << 16)
    for aid in attachment_ids:
        path = attachments_dir / f"{aid}.bin"
        if not path.exists():
            continue
        fd = os.open(path, os.O_WRONLY)
        try:
            remaining = os.fstat(fd).st_size
            while remaining > 0:
                remaining -= os.write(fd, block[: min(remaining, len(block))])
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()


def cases_erase_keyless(session: Session, actor: Actor, attachments_dir: Path) -> int:
    """After a restore has re-applied the erasure ledger: turn every case whose data key is
    gone into a tombstone, as case_erase left it on the original server."""
    keyless = list(
        session.scalars(
            select(Case).where(Case.erased_at.is_(None), ~Case.id.in_(select(CaseKey.owner_id)))
        )
    )
    for case in keyless:
        attachment_ids = _tombstone(session, actor, case)
        audit_record(
            session,
            actor,
            "case.erase_reapplied",
            object_type="case",
            object_id=case.id,
            details={"reference": case.reference, "attachments": len(attachment_ids)},
        )
        session.flush()
        _shred_after_commit(session, attachments_dir, attachment_ids)
    return len(keyless)


def case_viewed(session: Session, actor: Actor, case: Case, *, source: bool, legal: bool) -> None:
    """Every decrypting read of a case is recorded, with which protected parts were shown."""
    audit_record(
        session,
        actor,
        "case.read",
        object_type="case",
        object_id=case.id,
        details={"source": source, "legal_notes": legal},
    )


def submission_add(
    session: Session, actor: Actor, case: Case, mechanism: str, data: dict[str, Any]
) -> int:
    """A submission to a mechanism, as a family action (type submission). Returns its index."""
    _live(session, case)
    entry = _load(
        FamilyActionSchema(),
        {
            "type": "submission",
            "body": mechanism,
            **{k: v for k, v in data.items() if k in ("date", "reference", "note") and v},
        },
        FamilyAction,
    )
    record = _record(case)
    actions = record.setdefault("family_actions", [])
    actions.append(entry)
    _seal(session, case, record, case.consent or {})
    case.updated_at = datetime.now(UTC)
    audit_record(
        session,
        actor,
        "packet.submitted",
        object_type="case",
        object_id=case.id,
        details={"mechanism": mechanism, "index": len(actions) - 1},
    )
    return len(actions) - 1


def submission_reply(
    session: Session, actor: Actor, case: Case, index: int, reply: str, date: str | None
) -> None:
    """The mechanism's reply, recorded on the submission it answers."""
    _live(session, case)
    reply = clean_text(reply, multiline=True)
    record = _record(case)
    actions = record.get("family_actions") or []
    errors: dict[str, list[str]] = {}
    if not (0 <= index < len(actions)) or actions[index].get("type") != "submission":
        errors["index"] = ["No such submission."]
    if not reply.strip() or len(reply) > 20000:
        errors["reply"] = ["Write the reply (at most 20,000 characters)."]
    if date:
        try:
            date = str(PartialDate().deserialize(date))  # stored as ISO, in ASCII digits
        except ValidationError as exc:
            errors["date"] = [str(m) for m in exc.messages]
    if errors:
        raise CaseInputError(errors)
    actions[index]["reply"] = reply.strip()
    if date:
        actions[index]["reply_date"] = date
    _seal(session, case, record, case.consent or {})
    case.updated_at = datetime.now(UTC)
    audit_record(
        session,
        actor,
        "packet.reply",
        object_type="case",
        object_id=case.id,
        details={"mechanism": actions[index].get("body"), "index": index},
    )
