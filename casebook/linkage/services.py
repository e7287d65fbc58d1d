"""Writes of the linkage: batch deduplication, the check at entry, outside-list matching,
lawyers' decisions and the merge of duplicates. Each flushes and audits; none commits.

Audit details carry references, counts, scores and decisions — never a name.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from rapidfuzz import fuzz
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.background import abandon_if_silent, heartbeat
from casebook.cases import derived as keys
from casebook.cases.models import Attachment, Case, CaseIndex, Testimony
from casebook.cases.records import (
    Arrest,
    CaseRecord,
    Detention,
    DetentionPlace,
    FamilyAction,
    ListPerson,
    ListRow,
    Person,
    StatusEntry,
)
from casebook.cases.services import (
    FIRST_NAMES_DIFFER,
    CaseStateError,
    case_lock,
    case_record_store,
)
from casebook.encrypted import Vault
from casebook.keys.models import CaseKey
from casebook.linkage.features import FeatureRow, name_forms_memo, person_features
from casebook.linkage.models import (
    DECISIONS_LIST,
    DECISIONS_PAIR,
    HELD,
    OPEN,
    RUN_DONE,
    RUN_FAILED,
    LinkageRun,
    MatchCandidate,
    MatchList,
)
from casebook.linkage.scoring import DEFAULT_MEMORY, Scored, score
from casebook.names import is_arabic, normalise, normalise_family
from casebook.names.matching import is_unknown, one_name
from casebook.names.search import kin_keys, three_part_keys

DEFAULT_THRESHOLD = 0.9
ENTRY_THRESHOLD = 88.0  # RapidFuzz score (0–100) that raises the warning at entry
READ_BATCH = 2000


class LinkageInputError(Exception):
    """A decision or a list that cannot be taken; `fields` maps a field to its messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def _vault(session: Session) -> Vault:
    vault = session.info["vault"]
    assert isinstance(vault, Vault)
    return vault


def _pair(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if str(a) < str(b) else (b, a)


def linkage_rows(
    session: Session, progress: Callable[[int], None] | None = None
) -> Iterator[FeatureRow]:
    """Features of every live case that is not already someone's duplicate, read batch by
    batch with each case's wrapped key in the same row and decrypted without ORM objects:
    at a million cases this reading, not the matching, was most of a dedupe run."""
    vault = _vault(session)
    forms = name_forms_memo()
    last: uuid.UUID | None = None
    while True:
        query = (
            select(Case.id, Case.record_enc, CaseKey.wrapped, CaseKey.dek_version)
            .outerjoin(CaseKey, CaseKey.owner_id == Case.id)
            .where(Case.erased_at.is_(None), Case.verification != "duplicate")
            .order_by(Case.id)
            .limit(READ_BATCH)
        )
        if last is not None:
            query = query.where(Case.id > last)
        batch = session.execute(query).all()
        if not batch:
            return
        for case_id, blob, wrapped, version in batch:
            record: CaseRecord | None = None
            if blob is not None:
                record = (
                    Case.record.open_owned(vault, "cases", case_id, wrapped, version, blob) or None
                )
            yield person_features(
                str(case_id),
                keys.record_person(record) or {},
                record.get("arrests") if record else None,
                forms,
            )
        last = batch[-1][0]
        if progress is not None:
            progress(len(batch))


REFERENCE_CHUNK = 10_000  # ids per query: PostgreSQL takes at most 65,535 parameters


def _references(session: Session, ids: set[str]) -> dict[uuid.UUID, str]:
    """Case references of scored ids, a chunk at a time: a million-case dedupe scores pairs
    among some 200,000 cases, more ids than one statement may carry."""
    wanted = sorted(uuid.UUID(x) for x in ids)
    out: dict[uuid.UUID, str] = {}
    for i in range(0, len(wanted), REFERENCE_CHUNK):
        chunk = wanted[i : i + REFERENCE_CHUNK]
        query = select(Case.id, Case.reference).where(Case.id.in_(chunk))
        out.update((case_id, reference) for case_id, reference in session.execute(query))
    return out


def _known_pairs(session: Session, involving: uuid.UUID | None = None) -> set[tuple[str, str]]:
    """Pairs already in review or decided (all of them, or only those of one case)."""
    return set(_pair_states(session, involving))


def _pair_states(
    session: Session, involving: uuid.UUID | None = None
) -> dict[tuple[str, str], str]:
    """Each pair of cases in review or decided, with its state (a run that scores a decided
    pair again says so, as the lawyer may wonder why it is not back in the queue)."""
    query = select(MatchCandidate.case_a, MatchCandidate.case_b, MatchCandidate.status).where(
        MatchCandidate.case_b.is_not(None)
    )
    if involving is not None:
        query = query.where(
            or_(MatchCandidate.case_a == involving, MatchCandidate.case_b == involving)
        )
    states: dict[tuple[str, str], str] = {}
    for a, b, status in session.execute(query).all():
        if states.get((str(a), str(b)), OPEN) == OPEN:  # a decided row outweighs an open one
            states[(str(a), str(b))] = status
    return states


@dataclass
class DedupeResult:
    pairs: list[tuple[str, str, float]]  # (reference a, reference b, score), every pair proposed
    new: int  # proposed pairs added to the review queue (the held ones are counted in `held`)
    report: Scored  # model used, pairs compared, pairs expected (or nothing to compare)
    held: int = 0  # pairs held back (each would join two brothers) queued or marked so now
    decided: int = 0  # pairs a lawyer had already decided, not raised again
    # (reference a, reference b, score) of the pairs held back, for the command line to list
    held_pairs: list[tuple[str, str, float]] = field(default_factory=list)
    # the proposed pairs a lawyer has not decided: what the command line lists as duplicates
    undecided: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        """Proposed pairs already in the review queue, undecided (raised at entry, or by an
        earlier run)."""
        return len(self.pairs) - self.new - self.decided


def dedupe_run(
    session: Session,
    actor: Actor,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    memory_limit: str = DEFAULT_MEMORY,
    progress: Callable[[int], None] | None = None,
) -> DedupeResult:
    """Score every pair of cases the blocking rules bring together; pairs at or above
    `threshold` become review items, unless a lawyer already decided (or is deciding) them."""
    rows = list(linkage_rows(session, progress))
    report = score(rows, threshold=threshold, memory_limit=memory_limit)
    return dedupe_queue(session, actor, report, cases=len(rows), threshold=threshold)


def dedupe_queue(
    session: Session, actor: Actor, report: Scored, *, cases: int, threshold: float
) -> DedupeResult:
    """The writing half of a run: the scored pairs not yet known become review items."""
    scored = report.pairs
    states = _pair_states(session)
    known = set(states)
    decided = {pair for pair, status in states.items() if status != OPEN}
    references = _references(session, {x for a, b, _ in [*scored, *report.held] for x in (a, b)})
    out: list[tuple[str, str, float]] = []
    new_rows: list[dict[str, Any]] = []
    already_decided = 0
    undecided: list[tuple[str, str, float]] = []
    now = datetime.now(UTC)
    for left, right, probability in sorted(scored, key=lambda t: -t[2]):
        a, b = _pair(uuid.UUID(left), uuid.UUID(right))
        out.append((references[a], references[b], round(probability, 4)))
        if (str(a), str(b)) in decided:
            already_decided += 1
        else:
            undecided.append(out[-1])
        if (str(a), str(b)) in known:
            continue
        known.add((str(a), str(b)))
        new_rows.append(
            {
                "id": uuid.uuid4(),
                "created_at": now,
                "kind": "dedupe",
                "case_a": a,
                "case_b": b,
                "score": probability,
                "status": OPEN,
            }
        )
    proposed_new = len(new_rows)
    held = 0
    held_pairs: list[tuple[str, str, float]] = []
    for left, right, probability in sorted(report.held, key=lambda t: -t[2]):
        # not proposed (each would join two brothers through a misspelt report), but a lawyer
        # must still see them: the report is one of the brothers, or neither
        a, b = _pair(uuid.UUID(left), uuid.UUID(right))
        held_pairs.append((references[a], references[b], round(probability, 4)))
        if (str(a), str(b)) in known:  # raised before (at entry, or by an earlier run)
            marked = session.execute(
                update(MatchCandidate)
                .where(
                    MatchCandidate.case_a == a,
                    MatchCandidate.case_b == b,
                    MatchCandidate.status == OPEN,
                    MatchCandidate.kind != HELD,
                )
                .values(kind=HELD)
            )
            held += marked.rowcount  # type: ignore[attr-defined]
            continue
        known.add((str(a), str(b)))
        held += 1
        new_rows.append(
            {
                "id": uuid.uuid4(),
                "created_at": now,
                "kind": HELD,
                "case_a": a,
                "case_b": b,
                "score": probability,
                "status": OPEN,
            }
        )
    if new_rows:
        session.execute(MatchCandidate.__table__.insert(), new_rows)  # type: ignore[attr-defined]
    audit_record(
        session,
        actor,
        "linkage.dedupe",
        object_type="linkage",
        details={
            "cases": cases,
            "pairs": len(scored),
            "new_review_items": len(new_rows),
            "already_decided": already_decided,
            "held_back": len(report.held),
            "threshold": threshold,
            "model": report.model,
            "prior": report.prior,
            "compared": report.comparisons,
            "expected_pairs": round(report.expected_pairs, 1),
        },
    )
    return DedupeResult(out, proposed_new, report, held, already_decided, held_pairs, undecided)


# -- the check at entry ---------------------------------------------------------------------


_LEFT_OUT = ("grandfather_name", "family_name")


_ORDER = ("first_name", "father_name", "grandfather_name", "family_name")


class EntryReport:
    """One report's name parts, mother's name and birth year, normalised once: the new case is
    scored against up to 200 candidates, and normalising it again for each cost half the
    check (bench.entry_check)."""

    def __init__(self, person: Person | ListPerson) -> None:
        raw = {f: str(person.get(f) or "") for f in _ORDER}
        self.raw = {**raw, "mother_name": str(person.get("mother_name") or "")}
        # words for "not known" give no part
        self.known = {f: not is_unknown(value) for f, value in raw.items()}
        self.parts = {
            f: (normalise_family(value) if f == "family_name" else normalise(value))
            if self.known[f]
            else ""
            for f, value in raw.items()
        }
        self.mother = normalise(str(person.get("mother_name") or ""))
        self.year = keys.birth_year(person)

    def score(self, old: EntryReport) -> float:
        """`entry_score` of this report against an earlier one."""
        return _entry_score(self.read_as(old), old)

    def names(self, left_out: frozenset[str]) -> list[str]:
        """The parts given, in order, but those left out of a comparison."""
        return [self.parts[f] for f in _ORDER if f not in left_out and self.parts[f]]

    def read_as(self, other: EntryReport) -> EntryReport:
        """This report with each name it writes in the other script (or in another Latin
        spelling) than `other` does, but that is the same name, taken as `other` writes it:
        the comparison is of letters, and محمد خالد الحلبي against Mohammad Khaled Al-Halabi
        scored 9 of 100, so the same person entered in Latin letters was never warned of."""
        fields = [f for f in (*_ORDER, "mother_name") if self.raw[f] and other.raw[f]]
        if all(is_arabic(self.raw[f]) and is_arabic(other.raw[f]) for f in fields):
            return self
        read = copy.copy(self)
        read.parts = dict(self.parts)
        for f in fields:
            if f == "mother_name":
                if self.mother != other.mother and one_name(self.raw[f], other.raw[f]):
                    read.mother = other.mother
            elif self.parts[f] != other.parts[f] and one_name(
                self.raw[f], other.raw[f], family=f == "family_name"
            ):
                read.parts[f] = other.parts[f]
        return read


# how alike the mothers' names must be for a grandfather's name only one report gives to be
# left out of the comparison (فاطمة/فطيمة 80; فاطمة/فاتن 44)
MOTHER_STANDS_IN = 80.0


def entry_score(new: Person | ListPerson, old: Person | ListPerson) -> float:
    """RapidFuzz similarity of two people's names (0–100), lowered when the birth years are
    more than a year apart, and when no more than the first and father's names are compared
    without the mothers' names agreeing and both birth years; a quick signal for a warning,
    not a decision."""
    return EntryReport(new).score(EntryReport(old))


def _entry_score(new: EntryReport, old: EntryReport) -> float:
    mother = float(fuzz.ratio(new.mother, old.mother)) if new.mother and old.mother else None
    # a name part only one report gives (the family did not know it) is not held against the
    # pair, and the parts both give are compared: always so for the family name; for the
    # grandfather's only where the mothers' names agree, which then carry the evidence (else a
    # report of محمد أحمد alone would be warned of every محمد أحمد on record)
    one_sided = {f for f in _LEFT_OUT if new.known[f] != old.known[f]}
    if mother is None or mother < MOTHER_STANDS_IN:
        one_sided.discard("grandfather_name")
    left_out = frozenset(one_sided)
    names = [new.names(left_out), old.names(left_out)]
    score = float(fuzz.token_sort_ratio(*(" ".join(n) for n in names)))
    if mother is not None:
        score = 0.8 * score + 0.2 * mother
    if new.year and old.year and abs(new.year - old.year) > 1:
        score -= 25.0
    agreeing = mother is not None and mother >= MOTHER_STANDS_IN and bool(new.year and old.year)
    if min(len(n) for n in names) < 3 and not agreeing:
        # a first and father's name alone (محمد أحمد) names hundreds: without the mothers'
        # names agreeing and both birth years given (within a year, above), two such reports
        # are not taken for one person (bench.entry_check: the years cut the wrong warnings of
        # such reports by four fifths, the right ones by one seventh)
        score -= 25.0
    return score


def entry_check(session: Session, actor: Actor, case: Case, limit: int = 200) -> list[Case]:
    """Cases that may be the same person as a case just entered, found through the blind
    indexes and scored with RapidFuzz; each becomes a review item for lawyers. The caller
    decides what the person entering may be told (a documenter: only that a lawyer will
    review)."""
    vault = _vault(session)
    person = keys.record_person(case.record)
    if person is None:
        return []
    wanted = [*keys.index_keys(person), *three_part_keys(person)]
    lookups = [
        (name, vault.blind_index(name).value(*parts))
        for name, parts in dict.fromkeys(wanted)
        if name in ("name", "latin", "family_year", "mother", "nid")
    ]
    ids: list[uuid.UUID] = []
    if lookups:
        ids += session.scalars(
            select(CaseIndex.case_id)
            .where(
                or_(*[(CaseIndex.name == n) & (CaseIndex.value == v) for n, v in lookups]),
                CaseIndex.case_id != case.id,
            )
            .distinct()
            .limit(limit)
        )
    # without a family name, the earlier reports that give one share only the first name with
    # the father's and grandfather's (the kin index): looked up apart, with a limit of their
    # own, so that they cannot crowd out what the other keys find; and a case must share every
    # pair given, since محمد أحمد alone names hundreds and a limit over them left out the one
    # with the same grandfather
    kin = [] if keys.family_name_known(person) else kin_keys(person)
    if kin:
        values = list({vault.blind_index(n).value(*parts) for n, parts in kin})
        ids += session.scalars(
            select(CaseIndex.case_id)
            .where(
                CaseIndex.name == "kin",
                CaseIndex.value.in_(values),
                CaseIndex.case_id != case.id,
            )
            .group_by(CaseIndex.case_id)
            .having(func.count(func.distinct(CaseIndex.value)) == len(values))
            .limit(limit)
        )
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    vault.prefetch(session, ids)
    similar: list[tuple[Case, float]] = []
    report = EntryReport(person)
    first_names = keys.known_first_names(case.record)
    for other in session.scalars(select(Case).where(Case.id.in_(ids), Case.erased_at.is_(None))):
        theirs = keys.known_first_names(other.record)
        if first_names and theirs and not first_names & theirs:
            # حسن and حسين, alike on every other field, are most likely brothers: a duplicate
            # run never proposes them, and a warning at entry would put them in the queue as
            # an ordinary pair (an outside lawyer's check found one at 0.978)
            continue
        score = report.score(EntryReport(keys.record_person(other.record) or {}))
        if score >= ENTRY_THRESHOLD:
            similar.append((other, score))
    known = _known_pairs(session, case.id)
    for other, score in similar:
        a, b = _pair(case.id, other.id)
        if (str(a), str(b)) not in known:
            session.add(
                MatchCandidate(kind="entry", case_a=a, case_b=b, score=score / 100, status=OPEN)
            )
    if similar:
        session.flush()
        audit_record(
            session,
            actor,
            "linkage.entry_warning",
            object_type="case",
            object_id=case.id,
            details={"possible_duplicates": len(similar)},
        )
    return [other for other, _ in sorted(similar, key=lambda t: -t[1])]


# -- outside lists ----------------------------------------------------------------------------


@dataclass
class ListResult:
    list_id: uuid.UUID
    rows: int
    matches: list[tuple[int, str, float]]  # (row number, case reference, score)
    # rows that are one of the cases but fit several equally (the same names on two or three
    # people): every candidate, (row number, case reference, score), each in the review queue
    several: list[tuple[int, str, float]] = field(default_factory=list)


def list_match(
    session: Session,
    actor: Actor,
    rows: list[tuple[int, ListPerson]],
    *,
    label: str,
    created_by: uuid.UUID | None,
    threshold: float = DEFAULT_THRESHOLD,
    memory_limit: str = DEFAULT_MEMORY,
    progress: Callable[[int], None] | None = None,
) -> ListResult:
    """Match the rows of an outside list (row number, person dict with optional governorate)
    against every case; matches go to review with the row sealed. The list is scored together
    with the cases (so the model is trained on this caseload) and only list–case pairs kept,
    each row taken as one person who is one of the cases or none (model._list_posteriors).

    A row that is likely one of the cases but none of them at `threshold` (two or three cases
    give the same names, or one case fits but not surely) is not guessed: every candidate goes
    to review with its own score, and the sealed row says how many cases it fits, so the
    lawyer decides between them."""
    match_list = MatchList(id=uuid.uuid4(), created_by=created_by, rows=len(rows))
    session.add(match_list)
    match_list.label = label[:200]
    features = list(linkage_rows(session, progress))
    by_key: dict[str, tuple[int, ListPerson]] = {}
    for number, person in rows:
        key = f"list:{number}"
        by_key[key] = (number, person)
        governorate = person.get("governorate")  # the row's place, as the arrest's governorate
        arrests: list[Arrest] = [{"governorate": governorate}] if governorate else []
        features.append(person_features(key, person, arrests))
    scored = score(features, threshold=threshold, memory_limit=memory_limit, list_prefix="list:")
    best: dict[tuple[str, str], float] = {}
    for left, right, probability in scored.pairs:
        list_side = [x for x in (left, right) if x.startswith("list:")]
        if len(list_side) != 1:
            continue
        case_side = right if left.startswith("list:") else left
        best[(list_side[0], case_side)] = probability
    fits: dict[str, int] = {}
    for list_key, candidates in scored.ambiguous.items():
        fits[list_key] = len(candidates)
        for case_key, probability in candidates:
            best[(list_key, case_key)] = probability
    references = _references(session, {c for _, c in best})
    matches: list[tuple[int, str, float]] = []
    several: list[tuple[int, str, float]] = []
    for (list_key, case_key), probability in sorted(best.items(), key=lambda t: -t[1]):
        number, person = by_key[list_key]
        candidate = MatchCandidate(
            id=uuid.uuid4(),
            kind="list",
            case_a=uuid.UUID(case_key),
            list_id=match_list.id,
            score=probability,
            status=OPEN,
        )
        session.add(candidate)
        # the row's own keys plus its number: mypy cannot spread a partial TypedDict into one
        # that has more optional keys, so the dict is narrowed once here
        row = cast(ListRow, {"row": number, **person})
        if list_key in fits:
            row["fits"] = fits[list_key]
        candidate.row = row
        found = (number, references[uuid.UUID(case_key)], round(probability, 4))
        (several if list_key in fits else matches).append(found)
    match_list.matched = len(matches) + len(several)
    session.flush()
    audit_record(
        session,
        actor,
        "linkage.list_match",
        object_type="match_list",
        object_id=match_list.id,
        details={
            "rows": len(rows),
            "matches": len(matches),
            "rows_fitting_several": len(fits),
            "threshold": threshold,
        },
    )
    return ListResult(match_list.id, len(rows), matches, several)


# -- decisions and merging --------------------------------------------------------------------


def _row_matched_elsewhere(session: Session, candidate: MatchCandidate) -> bool:
    """A row that fits several cases (sent to review with each of them) already confirmed as
    one of them: it names one person, so a second match would count it twice."""
    row = candidate.row
    if row is None or not row.get("fits"):
        return False
    others = session.scalars(
        select(MatchCandidate).where(
            MatchCandidate.list_id == candidate.list_id,
            MatchCandidate.status == "match",
            MatchCandidate.id != candidate.id,
        )
    )
    return any(other.row is not None and other.row["row"] == row["row"] for other in others)


def candidate_decide(
    session: Session,
    actor: Actor,
    candidate: MatchCandidate,
    decision: str,
    *,
    keep: str = "a",
    attachments_dir: Path,
    different_first_names: bool = False,
) -> Case | None:
    """A lawyer's decision. "duplicate" merges (keep says which case stays: a or b; two
    different common first names only with `different_first_names`); a pair decided
    "not_duplicate" is never proposed again. Returns the kept case of a merge."""
    if session.get_bind().dialect.name == "postgresql":
        # Two lawyers deciding one item at once: the second waits, then finds it decided
        # (SQLite's writing transaction holds the one write lock already). The cases are
        # locked before the item, in the order every change of a case takes them: a merge
        # closes the other open items of the case it absorbs, and an item locked first by a
        # lawyer merging an overlapping pair made the two merges wait on each other.
        ids = [i for i in (candidate.case_a, candidate.case_b) if i is not None]
        case_lock(session, *[c for c in (session.get(Case, i) for i in ids) if c is not None])
        session.refresh(candidate, with_for_update=True)
    if candidate.status != OPEN:
        raise LinkageInputError({"decision": ["This item was already decided."]})
    allowed = DECISIONS_LIST if candidate.kind == "list" else DECISIONS_PAIR
    if decision not in allowed:
        raise LinkageInputError({"decision": [f"Choose one of: {', '.join(allowed)}."]})
    if keep not in ("a", "b"):
        raise LinkageInputError({"keep": ["Choose a or b."]})
    if (
        candidate.kind == "list"
        and decision == "match"
        and _row_matched_elsewhere(session, candidate)
    ):
        raise LinkageInputError(
            {
                "decision": [
                    "This row is already matched to another of the cases it fits; "
                    "it names one person at most."
                ]
            }
        )
    kept: Case | None = None
    if decision == "duplicate":
        assert candidate.case_b is not None
        a, b = session.get(Case, candidate.case_a), session.get(Case, candidate.case_b)
        if a is None or b is None:
            raise LinkageInputError({"decision": ["One of the cases no longer exists."]})
        kept, absorbed = (a, b) if keep == "a" else (b, a)
        case_merge(
            session,
            actor,
            kept,
            absorbed,
            attachments_dir,
            different_first_names=different_first_names,
        )
    candidate.status = decision
    candidate.decided_by = uuid.UUID(actor.user_id) if actor.user_id else None
    candidate.decided_at = datetime.now(UTC)
    session.flush()
    audit_record(
        session,
        actor,
        "linkage.decide",
        object_type="match_candidate",
        object_id=candidate.id,
        details={
            "decision": decision,
            "kind": candidate.kind,
            "score": round(candidate.score, 4),
            "kept": str(kept.id) if kept else None,
        },
    )
    return kept


REOPENABLE = ("not_duplicate", "no_match")


def candidate_reopen(session: Session, actor: Actor, candidate: MatchCandidate) -> None:
    """A decision of "different people" (or "not this person" for a list row) taken back: the
    item is open again. A merge is taken back by undoing it, and an item a merge closed opens
    when that merge is undone; nothing else reopens. Without this, a lawyer who marked a
    report's pair with the right brother as different people, then merged it wrongly and
    undid that, could never join the report to the right brother again."""
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(candidate, with_for_update=True)
    if candidate.status not in REOPENABLE:
        raise LinkageInputError(
            {"decision": ["Only a decision of different people can be taken back here."]}
        )
    for case_id in (candidate.case_a, candidate.case_b):
        case = session.get(Case, case_id) if case_id is not None else None
        if case is not None and (case.merged_into is not None or case.erased_at is not None):
            raise CaseStateError("This case is already a duplicate.")
    previous = candidate.status
    candidate.status = OPEN
    candidate.decided_by = None
    candidate.decided_at = None
    session.flush()
    audit_record(
        session,
        actor,
        "linkage.reopen",
        object_type="match_candidate",
        object_id=candidate.id,
        details={"decision": previous, "kind": candidate.kind},
    )


# the items of a record that a merge tags with the reference of the case they came from
Tagged = TypeVar("Tagged", Arrest, DetentionPlace, StatusEntry, FamilyAction)


def _tagged(items: list[Tagged], reference: str) -> list[Tagged]:
    return [{**item, "merged_from": reference} for item in items]


def _date_key(item: StatusEntry) -> str:
    return str(item.get("date") or "")


class FirstNamesDifferError(CaseStateError):
    """The merge would make one person of cases giving two different common first names."""


def first_names_differ(kept: Case, absorbed: Case) -> bool:
    """Whether merging would make one person of two different common first names (حسن and
    حسين): the duplicate run never proposes such a pair, and a lawyer must not make it by
    accident either — merging a misspelt report into one brother and then accepting its pair
    with the other made the brothers one case (an outside review did it through the queue)."""
    return keys.first_names_differ(kept.record, absorbed.record)


def case_merge(
    session: Session,
    actor: Actor,
    kept: Case,
    absorbed: Case,
    attachments_dir: Path,
    *,
    different_first_names: bool = False,
) -> None:
    """Merge `absorbed` into `kept`: arrests, detention places, status history and family
    actions are added with `merged_from` naming their case; its source is kept in the record's
    `merged` list; testimonies and attachments move, re-encrypted under the kept case's key,
    with their provenance. The absorbed case stays, marked duplicate and pointing to the kept
    one, so its reference still leads somewhere."""
    from casebook.cases.attachments import attachment_move

    case_lock(session, kept, absorbed)
    for case in (kept, absorbed):
        if case.erased_at is not None:
            raise CaseStateError("An erased case cannot be merged.")
        if case.merged_into is not None:
            raise CaseStateError("This case is already a duplicate.")
    if kept.id == absorbed.id or absorbed.verification == "duplicate":
        raise CaseStateError("This case is already a duplicate.")
    kept_record, other = kept.record, absorbed.record
    if kept_record is None or other is None:  # only an erased case has no record
        raise CaseStateError("An erased case cannot be merged.")
    names_differ = first_names_differ(kept, absorbed)
    if names_differ and not different_first_names:
        raise FirstNamesDifferError(FIRST_NAMES_DIFFER)
    record = copy.deepcopy(kept_record)
    ref = absorbed.reference
    record["arrests"] = (record.get("arrests") or []) + _tagged(other.get("arrests") or [], ref)
    record["family_actions"] = (record.get("family_actions") or []) + _tagged(
        other.get("family_actions") or [], ref
    )
    status = (record.get("status") or []) + _tagged(other.get("status") or [], ref)
    record["status"] = sorted(status, key=_date_key)  # the current status is the latest
    detention = record.setdefault("detention", {})
    other_detention: Detention = other.get("detention") or {}
    detention["places"] = (detention.get("places") or []) + _tagged(
        other_detention.get("places") or [], ref
    )
    testimonies = list(session.scalars(select(Testimony).where(Testimony.case_id == absorbed.id)))
    attachments = list(session.scalars(select(Attachment).where(Attachment.case_id == absorbed.id)))
    record.setdefault("merged", []).append(
        {
            "reference": ref,
            "case_id": str(absorbed.id),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "by": actor.user_id or actor.label,
            "source": absorbed.source or {},
            "person": other["person"],
            # what an undo needs to give the absorbed case back as it was
            "verification": absorbed.verification,
            "duplicate_of": str(absorbed.duplicate_of) if absorbed.duplicate_of else None,
            "testimonies": [str(t.id) for t in testimonies],
            "attachments": [str(a.id) for a in attachments],
        }
    )
    case_record_store(session, kept, record)
    kept.updated_at = datetime.now(UTC)
    for testimony in testimonies:
        body = testimony.body  # read under the absorbed case's key, sealed again under kept's
        testimony.case_id = kept.id
        if body is not None:  # body_enc is NOT NULL
            testimony.body = {**body, "merged_from": ref}
    for attachment in attachments:
        attachment_move(session, actor, attachment, kept, ref, attachments_dir)
    absorbed.verification = "duplicate"
    absorbed.duplicate_of = kept.id
    absorbed.merged_into = kept.id  # sealed: its record stays as it was until an undo
    absorbed.updated_at = datetime.now(UTC)
    session.execute(
        update(MatchCandidate)
        .where(
            MatchCandidate.status == OPEN,
            or_(MatchCandidate.case_a == absorbed.id, MatchCandidate.case_b == absorbed.id),
            MatchCandidate.kind != "list",
        )
        .values(status="superseded")
    )
    session.flush()
    audit_record(
        session,
        actor,
        "case.merge",
        object_type="case",
        object_id=kept.id,
        details={
            "absorbed": str(absorbed.id),
            "absorbed_reference": ref,
            "testimonies": len(testimonies),
            "attachments": len(attachments),
            "different_first_names": names_differ,
        },
    )


def _untagged(items: list[Tagged], reference: str) -> list[Tagged]:
    return [item for item in items if item.get("merged_from") != reference]


def case_merge_undo(session: Session, actor: Actor, absorbed: Case, attachments_dir: Path) -> Case:
    """Undo a merge: the absorbed case is unsealed with its verification as before; what the
    merge added to the kept case (arrests, places, statuses, family actions tagged with the
    absorbed reference, and its entry in `merged`) is removed; its testimonies and attachments
    move back, re-encrypted under its own key. The pair goes back to review. Returns the
    case it had been merged into."""
    from casebook.cases.attachments import attachment_move

    kept = session.get(Case, absorbed.merged_into) if absorbed.merged_into else None
    case_lock(session, absorbed, *([kept] if kept is not None else []))
    if (
        absorbed.merged_into is None
        or absorbed.erased_at is not None
        or (kept is not None and absorbed.merged_into != kept.id)
    ):
        raise CaseStateError("This case is not merged into another.")
    if kept is None or kept.erased_at is not None or kept.merged_into is not None:
        raise CaseStateError(
            "The case it was merged into is itself merged or erased; undo that first."
        )
    kept_record = kept.record
    if kept_record is None:  # only an erased case has no record
        raise CaseStateError(
            "The case it was merged into is itself merged or erased; undo that first."
        )
    record = copy.deepcopy(kept_record)
    ref = absorbed.reference
    entries = [m for m in record.get("merged") or [] if m.get("case_id") == str(absorbed.id)]
    entry = entries[-1] if entries else None
    record["merged"] = [m for m in record.get("merged") or [] if m not in entries]
    if not record["merged"]:
        del record["merged"]
    record["arrests"] = _untagged(record.get("arrests") or [], ref)
    record["family_actions"] = _untagged(record.get("family_actions") or [], ref)
    record["status"] = _untagged(record.get("status") or [], ref)
    detention: Detention = record.get("detention") or {}
    if "places" in detention:
        detention["places"] = _untagged(detention.get("places") or [], ref)
    case_record_store(session, kept, record)
    kept.updated_at = datetime.now(UTC)
    testimony_ids = [uuid.UUID(x) for x in (entry.get("testimonies") if entry else None) or []]
    attachment_ids = [uuid.UUID(x) for x in (entry.get("attachments") if entry else None) or []]
    testimonies = list(
        session.scalars(
            select(Testimony).where(Testimony.case_id == kept.id, Testimony.id.in_(testimony_ids))
        )
    )
    for testimony in testimonies:
        body = testimony.body  # a fresh copy, read under the kept case's key
        testimony.case_id = absorbed.id
        if body is not None:  # body_enc is NOT NULL
            body.pop("merged_from", None)
            testimony.body = body
    attachments = list(
        session.scalars(
            select(Attachment).where(
                Attachment.case_id == kept.id, Attachment.id.in_(attachment_ids)
            )
        )
    )
    for attachment in attachments:
        attachment_move(session, actor, attachment, absorbed, kept.reference, attachments_dir)
        meta = dict(attachment.meta or {})
        meta.pop("merged_from", None)
        attachment.meta = meta
    absorbed.merged_into = None
    absorbed.verification = str((entry.get("verification") if entry else None) or "unverified")
    previous = entry.get("duplicate_of") if entry else None
    absorbed.duplicate_of = uuid.UUID(previous) if previous else None
    absorbed.updated_at = datetime.now(UTC)
    a, b = _pair(kept.id, absorbed.id)
    session.execute(
        update(MatchCandidate)
        .where(MatchCandidate.case_a == a, MatchCandidate.case_b == b)
        .values(status=OPEN, decided_by=None, decided_at=None)
    )
    reopened = _superseded_reopen(session, absorbed)
    session.flush()
    audit_record(
        session,
        actor,
        "case.merge_undo",
        object_type="case",
        object_id=kept.id,
        details={
            "absorbed": str(absorbed.id),
            "absorbed_reference": ref,
            "testimonies": len(testimonies),
            "attachments": len(attachments),
            "review_items_reopened": reopened,
        },
    )
    return kept


def _superseded_reopen(session: Session, absorbed: Case) -> int:
    """The review items the merge closed as superseded (every open pair naming the absorbed
    case) are open again, unless the other case has since been merged away: a wrong merge
    undone must not lose the right pair (a report merged into the wrong brother closed its
    pair with the right one, and no later run raised it again: it was already known)."""
    items = list(
        session.scalars(
            select(MatchCandidate).where(
                MatchCandidate.status == "superseded",
                or_(MatchCandidate.case_a == absorbed.id, MatchCandidate.case_b == absorbed.id),
            )
        )
    )
    others = {i.case_b if i.case_a == absorbed.id else i.case_a for i in items} - {None}
    merged_away = set(
        session.scalars(select(Case.id).where(Case.id.in_(others), Case.merged_into.is_not(None)))
    )
    count = 0
    for item in items:
        other = item.case_b if item.case_a == absorbed.id else item.case_a
        if other not in merged_away:
            item.status = OPEN
            count += 1
    return count


def review_items_drop_for_case(session: Session, *, case_id: uuid.UUID, **_: object) -> None:
    """On `case_erased`: the review items naming the case (pairs with their scores, outside-list
    rows sealed under the system key, which destroying the case's key would leave readable)."""
    session.execute(
        delete(MatchCandidate).where(
            or_(MatchCandidate.case_a == case_id, MatchCandidate.case_b == case_id)
        )
    )


def entry_check_receiver(session: Session, *, actor: Actor, case: Case, **_: object) -> list[Case]:
    """On `case_entered`: the check at entry, answered to the case package."""
    return entry_check(session, actor, case)


# -- runs started from the web ----------------------------------------------------------------


class RunBusyError(Exception):
    """Another dedupe run holds the slot."""


def run_current(session: Session) -> LinkageRun | None:
    """The run that holds the slot, after releasing one whose worker died (no heartbeat for
    STALE), so a killed worker never blocks deduplication for good."""
    run = session.scalars(select(LinkageRun).where(LinkageRun.slot.is_not(None))).first()
    if run is not None and abandon_if_silent(run):
        run.error = "The run stopped without finishing (its worker ended)."
        session.flush()
        return None
    return run


def run_start(
    session: Session, actor: Actor, *, threshold: float, cases: int, started_by: uuid.UUID | None
) -> LinkageRun:
    """Take the single run slot (RunBusyError when a run holds it: the unique index refuses a
    second, whichever worker asks) and audit the start. The caller commits, then runs it."""
    if run_current(session) is not None:
        raise RunBusyError
    run = LinkageRun(
        id=uuid.uuid4(), started_by=started_by, threshold=threshold, cases=cases, slot=1
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        raise RunBusyError from None
    audit_record(
        session,
        actor,
        "linkage.run_start",
        object_type="linkage_run",
        object_id=run.id,
        details={"threshold": threshold, "cases": cases},
    )
    return run


def run_execute(
    sessionmaker: Callable[[], Session],
    reading_sessionmaker: Callable[[], Session],
    actor: Actor,
    run_id: uuid.UUID,
    memory_limit: str,
) -> None:
    """The run itself (a background thread), in phases that never hold the write lock while
    reading or scoring: cases are read in a reading session while progress is committed
    beside it; the pairs are scored with no database open; the review items are written in
    one short transaction. The result (or the clear error, with nothing queued) is written
    with the slot released, and audited. Never raises: a failure is the run's state."""
    from casebook.linkage.scoring import LinkageError

    def progress(count: int) -> None:
        with sessionmaker() as s, s.begin():
            s.execute(
                update(LinkageRun)
                .where(LinkageRun.id == run_id)
                .values(read=LinkageRun.read + count, heartbeat_at=datetime.now(UTC))
            )

    def beat() -> None:  # while scoring (no progress to report) the run still shows it lives
        with sessionmaker() as s, s.begin():
            s.execute(
                update(LinkageRun)
                .where(LinkageRun.id == run_id)
                .values(heartbeat_at=datetime.now(UTC))
            )

    error: str | None = None
    result: DedupeResult | None = None
    try:
        with heartbeat(beat):
            with sessionmaker() as s, s.begin():
                run = s.get(LinkageRun, run_id)
                assert run is not None
                threshold = run.threshold
            with reading_sessionmaker() as r:
                rows = list(linkage_rows(r, progress))
            report = score(rows, threshold=threshold, memory_limit=memory_limit)
            with sessionmaker() as s, s.begin():
                result = dedupe_queue(s, actor, report, cases=len(rows), threshold=threshold)
    except LinkageError as exc:  # nothing reached the review queue
        error = f"{exc}; nothing was written"
    except Exception as exc:  # any failure must end the run, not leave it "running"
        error = f"The run failed ({type(exc).__name__}); nothing was written."
        logging.getLogger(__name__).error(
            "dedupe run failed", extra={"event": "dedupe_failed", "error": type(exc).__name__}
        )
    with sessionmaker() as s, s.begin():
        run = s.get(LinkageRun, run_id)
        assert run is not None
        run.slot = None
        run.finished_at = datetime.now(UTC)
        run.heartbeat_at = run.finished_at
        if result is None:
            run.state = RUN_FAILED
            run.error = (error or "")[:500]
        else:
            report = result.report
            run.state = RUN_DONE
            run.model = report.model
            run.compared = report.comparisons
            run.expected_pairs = round(report.expected_pairs, 1)
            run.pairs = len(result.pairs)
            run.queued = result.new
            run.held = result.held
            run.decided = result.decided
            run.summary = report.summary()[:500]
        audit_record(
            s,
            actor,
            "linkage.run_end",
            object_type="linkage_run",
            object_id=run_id,
            details={
                "state": run.state,
                "pairs": run.pairs,
                "queued": run.queued,
                "held_back": run.held,
            },
        )
