"""Reads on cases, already scoped to the user: documenters see their own and assigned cases,
lawyers all; nobody else any. A case a user may not see answers 404, as if it did not exist."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    func,
    literal,
    or_,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from casebook.auth.models import User
from casebook.auth.permissions import Permission
from casebook.cases import derived
from casebook.cases.models import Attachment, Case, CaseAssignment, CaseIndex, Testimony
from casebook.cases.records import CaseSummary, ConsentState, Detention, Facets
from casebook.encrypted import Vault, open_json
from casebook.keys.models import CaseKey
from casebook.lookups import NotFoundError, parse_id
from casebook.names.search import NameQuery, lookup_keys, matches, parse_query
from casebook.partners.models import CONSENT_SCOPE as PARTNER_SCOPE
from casebook.partners.models import PartnerMark
from casebook.web import denied


def visible_cases(user: User) -> Select[Case]:
    query = select(Case).where(Case.erased_at.is_(None))
    if user.can(Permission.CASE_READ_ALL):
        return query
    if not user.can(Permission.CASE_READ):
        return query.where(Case.id.is_(None))
    # One uncorrelated set of ids, read off ix_cases_created_by and the assignments' user index:
    # `created_by = me OR EXISTS (assignment)` made PostgreSQL test every case in turn (1.5 s
    # for a documenter's list at a million cases; 0.2 ms this way).
    own = aliased(Case)
    mine = union(
        select(own.id).where(own.created_by == user.id),
        select(CaseAssignment.case_id).where(CaseAssignment.user_id == user.id),
    )
    return query.where(Case.id.in_(mine))


def _with_data_key(query: Select[Any]) -> Select[Any]:
    """The case's wrapped data key in the same round trip as the case (see Vault.take_wrapped)."""
    return query.add_columns(CaseKey.wrapped, CaseKey.dek_version).outerjoin(
        CaseKey, CaseKey.owner_id == Case.id
    )


# A lawyer's case lookup, built once (the case page is the hottest read).
_ANY_LIVE_CASE = _with_data_key(
    select(Case).where(Case.erased_at.is_(None), Case.id == bindparam("cid"))
)


def case_or_404(session: Session, user: User, case_id: str) -> Case:
    """Load-then-authorise: the case if this user may read it, else 404."""
    return _load_case(session, user, case_id, with_children=False)[0]


def case_page(session: Session, user: User, case_id: str) -> tuple[Case, dict[str, Any]]:
    """Load-then-authorise and the case's document, as `case_or_404` then `case_document`; on
    PostgreSQL the testimonies and attachments come in the case's own round trip (the case
    page is the hottest read, and on this path a round trip costs as much as its query)."""
    case, children = _load_case(session, user, case_id, with_children=True)
    return case, case_document(session, user, case, children=children)


def _children_arrays() -> list[Any]:
    """Each child's id, time and sealed blob as arrays in creation order (PostgreSQL)."""
    columns = []
    for prefix, table, blob in (
        ("t", _t, _t.c.body_enc),
        ("a", _a, _a.c.meta_enc),
    ):
        for name, column in (("ids", table.c.id), ("at", table.c.created_at), ("blobs", blob)):
            columns.append(
                select(func.array_agg(aggregate_order_by(column, table.c.created_at)))
                .where(table.c.case_id == Case.id)
                .scalar_subquery()
                .label(f"{prefix}_{name}")
            )
    return columns


def _load_case(
    session: Session, user: User, case_id: str, *, with_children: bool
) -> tuple[Case, list[tuple[str, Any, Any, bytes]] | None]:
    cid = parse_id(case_id)
    arrays = with_children and session.get_bind().dialect.name == "postgresql"
    if user.can(Permission.CASE_READ_ALL):
        query = _ANY_LIVE_CASE_AND_CHILDREN if arrays else _ANY_LIVE_CASE
        row = session.execute(query, {"cid": cid}).first()
    else:
        query = _with_data_key(visible_cases(user).where(Case.id == cid))
        if arrays:
            query = query.add_columns(*_CHILDREN_ARRAYS)
        row = session.execute(query).first()
    if row is None:
        denied("case", cid)
        raise NotFoundError("case")
    case: Case = row[0]
    vault: Vault = session.info["vault"]
    vault.take_wrapped(case.id, row[1], row[2])
    if not arrays:
        return case, None
    children = [
        (kind, row_id, at, blob)
        for kind, ids, ats, blobs in (("t", *row[3:6]), ("a", *row[6:9]))
        for row_id, at, blob in zip(ids or (), ats or (), blobs or (), strict=True)
    ]
    children.sort(key=lambda child: child[2])  # one list in creation order, as _CHILDREN
    return case, children


def case_version(case: Case) -> str:
    """A token that changes whenever the case does (every change sets `updated_at`, under the
    case's lock): the API's ETag and the edit form's hidden `_version`. A change sent with an
    older token was made on a copy someone has since changed; saved, its whole sections (the
    form sends every status and arrest it showed) would drop what was added meanwhile. Hashed:
    the time of the change to the microsecond is nobody's business."""
    stamp = f"{case.id}|{case.updated_at.isoformat(timespec='microseconds')}"
    return hashlib.sha256(stamp.encode()).hexdigest()[:20]


def may_edit(user: User, case: Case) -> bool:
    if case.erased_at is not None or case.merged_into is not None:
        return False
    if not user.can(Permission.CASE_EDIT):
        return False
    if user.can(Permission.CASE_READ_ALL):
        return True
    return case.created_by == user.id and case.verification not in ("verified", "duplicate")


def reference_of(session: Session, case_id: uuid.UUID) -> str | None:
    """A case's reference (a link to the case a merged one was merged into)."""
    return session.scalar(select(Case.reference).where(Case.id == case_id))


def merged_here(session: Session, case_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The cases merged into this one, by reference (links from the kept case to them)."""
    rows = session.execute(select(Case.reference, Case.id).where(Case.merged_into == case_id))
    return {str(reference): absorbed for reference, absorbed in rows}


def duplicates_here(session: Session, case_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The cases a review marked duplicates of this one without merging them, by reference:
    out of every count as the same person, so the lawyer reading this case sees them."""
    rows = session.execute(
        select(Case.reference, Case.id).where(
            Case.duplicate_of == case_id, Case.merged_into.is_(None), Case.erased_at.is_(None)
        )
    )
    return {str(reference): duplicate for reference, duplicate in rows}


def may_see_source(user: User, case: Case) -> bool:
    if not user.can(Permission.SOURCE_READ):
        return False
    return user.can(Permission.CASE_READ_ALL) or case.created_by == user.id


_REFERENCE = re.compile(r"^CB[-\s]?(\d{4})[-\s]?(\d{1,6})$", re.IGNORECASE | re.ASCII)


def parse_reference(text: str) -> str | None:
    """The case reference `text` holds (CB-2026-000202; any case, spaces for dashes, the number
    with or without its leading zeros) in its stored form, else None."""
    match = _REFERENCE.match(text.strip())
    if match is None:
        return None
    return f"CB-{match[1]}-{int(match[2]):06d}"


@dataclass(frozen=True)
class Query:
    q: str = ""
    mother: str = ""
    birth_year: int | None = None
    national_id: str | None = None
    status: str | None = None
    governorate: str | None = None
    verification: str | None = None
    # only cases a partner organisation's list also holds (lawyers only: refused_filters)
    partner: bool = False
    page: int = 1
    per_page: int = 50

    @property
    def by_name(self) -> bool:
        return bool(self.q or self.mother or self.national_id)

    @property
    def reference(self) -> str | None:
        """The case reference the name field holds instead of a name (CB-2026-000202; any
        case, spaces for dashes, the number with or without its leading zeros), else None."""
        return parse_reference(self.q)

    def names(self) -> NameQuery:
        return parse_query(self.q, self.mother, self.birth_year, self.national_id)


def _lookups(vault: Vault, names: NameQuery) -> list[tuple[str, int]]:
    """The blind-index values a query may match (casebook.names.search.lookup_keys)."""
    return [(index, vault.blind_index(index).value(*parts)) for index, parts in lookup_keys(names)]


@dataclass(frozen=True)
class Page:
    """One page of a case list and its total, the same on every path (HTML list, API).

    `total` is the number of cases this user may see that match every filter, after the
    exact check on the decrypted record (never a count of blind-index candidates). When
    `total_exact` is false the search stopped once this page and one more match were found,
    and `total` is a lower bound: at least that many cases match, so there is a next page.
    """

    items: list[Case]
    total: int
    total_exact: bool


PARTNER_FILTER_REFUSED = "Only lawyers can list the cases partner organisations also document."


def refused_filters(user: User, params: dict[str, Any]) -> dict[str, list[str]]:
    """The filters of a list query this user may not use, with why (deny by default): the
    partner filter tells which cases another organisation's list holds, which only lawyers
    see (on the case page)."""
    if params.get("partner") and not user.can(Permission.CASE_REVIEW):
        return {"partner": [PARTNER_FILTER_REFUSED]}
    return {}


def search(session: Session, vault: Vault, user: User, query: Query) -> Page:
    """Cases this user may see that match the query, newest first, one page of them.

    Without filters on encrypted fields this is one SQL page and an exact count. With them,
    candidates are ordered first (cheap), then checked exactly (facets or the record
    decrypted) in that order only until the page and one more match are found: a common name
    can have tens of thousands of real matches, and checking them all would make every such
    search take seconds. The total is exact when every candidate was checked; otherwise it is
    the matches found, a lower bound (see Page).
    """
    visible = visible_cases(user)
    if query.verification:
        visible = visible.where(Case.verification == query.verification)
    if query.partner:
        # the marks' case ids are plain; whether the family's consent still lets a mark be
        # used is in the record, checked below as the case page checks it
        visible = visible.where(Case.id.in_(select(PartnerMark.case_id)))
    if query.birth_year and not query.by_name:
        # a birth year narrows a search by name (the hint says so); a list of every case
        # under it would read as the cases born that year
        return Page([], 0, True)
    if not (query.by_name or query.status or query.governorate or query.partner):
        return _plain_list(session, visible, query)
    if query.reference:
        return _by_reference(session, vault, visible, query, query.reference)
    wanted = query.page * query.per_page + 1
    if query.partner and not query.by_name:
        newest = visible.with_only_columns(Case.id).order_by(*_NEWEST_FIRST)
        candidates = iter(list(session.scalars(newest)))
        matched, exhausted = _exact_matches(
            session, vault, candidates, visible, query, None, wanted
        )
        return _page(matched, query, exhausted)
    if not query.by_name:
        return _facet_filtered(session, vault, visible, query, wanted)
    names = query.names()
    lookups = _lookups(vault, names)
    if not lookups:
        return Page([], 0, True)
    if user.can(Permission.CASE_READ_ALL) and not (
        query.status or query.governorate or query.verification or query.partner
    ):
        candidates = _index_order(session, lookups, wanted)
    else:
        candidates = _visible_candidates(session, visible, lookups)
    matched, exhausted = _exact_matches(session, vault, candidates, visible, query, names, wanted)
    return _page(matched, query, exhausted)


def _by_reference(
    session: Session, vault: Vault, visible: Select[Case], query: Query, reference: str
) -> Page:
    """The one case with this reference, if this user may see it and it passes the other
    filters (status and governorate from its facets; mother, birth year and national ID on its
    record): the same exact total as any search, 0 for a case this user may not see."""
    row = session.execute(_with_data_key(visible.where(Case.reference == reference))).first()
    if row is None:
        return Page([], 0, True)
    case: Case = row[0]
    if (query.status or query.governorate) and not _facets_match(case.facets, query):
        return Page([], 0, True)
    vault.take_wrapped(case.id, row[1], row[2])
    if query.mother or query.birth_year or query.national_id:
        others = parse_query("", query.mother, query.birth_year, query.national_id)
        if not _person_matches(case, others):
            return Page([], 0, True)
    if query.partner and not _partner_marks_shown(case):
        return Page([], 0, True)
    return Page([case] if query.page == 1 else [], 1, True)


def _plain_list(session: Session, visible: Select[Case], query: Query) -> Page:
    total = session.scalar(select(func.count()).select_from(visible.subquery())) or 0
    rows = session.scalars(
        visible.order_by(*_NEWEST_FIRST)
        .offset((query.page - 1) * query.per_page)
        .limit(query.per_page)
    ).all()
    return Page(list(rows), int(total), True)


def _visible_candidates(
    session: Session, visible: Select[Case], lookups: list[tuple[str, int]]
) -> Iterator[uuid.UUID]:
    """Ids of the cases this user sees with any of the lookups' index values, newest first."""
    conditions = [(CaseIndex.name == n) & (CaseIndex.value == v) for n, v in lookups]
    found = visible.where(Case.id.in_(select(CaseIndex.case_id).where(or_(*conditions))))
    return iter(list(session.scalars(found.with_only_columns(Case.id).order_by(*_NEWEST_FIRST))))


# The order of every case list, read straight off ix_cases_live_order (scanned backwards).
_NEWEST_FIRST = (Case.created_at.desc(), Case.id.desc())


def _newest_first(
    session: Session, visible: Select[Case], first: int
) -> Iterator[tuple[uuid.UUID, bytes | None]]:
    """(id, sealed facets) of the cases this user sees, newest first, in keyset pages that grow
    from about one page of results to 2,000 rows: it stops when asked to, so a filter that
    matches often reads a few hundred rows, not the whole table."""
    columns = visible.with_only_columns(Case.id, Case.created_at, Case.facets_enc)
    last: tuple[Any, uuid.UUID] | None = None
    batch = first
    while True:
        q = columns
        if last is not None:
            q = q.where(tuple_(Case.created_at, Case.id) < tuple_(*last))
        rows = session.execute(q.order_by(*_NEWEST_FIRST).limit(batch)).all()
        yield from ((row.id, row.facets_enc) for row in rows)
        if len(rows) < batch:
            return
        last = (rows[-1].created_at, rows[-1].id)
        batch = min(batch * 4, 2000)


def _facet_filtered(
    session: Session, vault: Vault, visible: Select[Case], query: Query, wanted: int
) -> Page:
    """The case list filtered by status or governorate. Both live only in each case's sealed
    facets (a blind index of a field with a dozen values would sort the cases into groups
    anyone holding the database could count, design.md §4), so the facets are decrypted newest
    first until the page and one more match are found, without building case objects for the
    rows that do not match. When the scan stops early the total is the matches found, a lower
    bound (see Page)."""
    matched: list[uuid.UUID] = []
    exhausted = True
    for case_id, sealed in _newest_first(session, visible, wanted * 2):
        facets = Case.facets.open_system(vault, "cases", case_id, sealed) if sealed else None
        if _facets_match(facets, query):
            matched.append(case_id)
            if len(matched) >= wanted:
                exhausted = False
                break
    start = (query.page - 1) * query.per_page
    ids = matched[start : start + query.per_page]
    found = {
        row[0].id: row for row in session.execute(_with_data_key(visible.where(Case.id.in_(ids))))
    }
    items = []
    for case_id in ids:
        row = found.get(case_id)
        if row is not None:  # erased since the scan read it
            vault.take_wrapped(case_id, row[1], row[2])
            items.append(row[0])
    return Page(items, len(matched), exhausted)


def _page(matched: list[Case], query: Query, exhausted: bool) -> Page:
    start = (query.page - 1) * query.per_page
    return Page(matched[start : start + query.per_page], len(matched), exhausted)


def _index_stream(
    session: Session, name: str, value: int, first: int
) -> Iterator[tuple[int, uuid.UUID]]:
    """(index row id, case id) of one blind-index value, newest entry first, read in keyset
    pages straight off the (name, value, id) index: no sort, and it stops when asked to. The
    first page is about what one page of results needs; later ones grow (a common name has
    tens of thousands of entries, and a page of results reads a few dozen)."""
    last: int | None = None
    batch = first
    while True:
        q = select(CaseIndex.id, CaseIndex.case_id).where(
            CaseIndex.name == name, CaseIndex.value == value
        )
        if last is not None:
            q = q.where(CaseIndex.id < last)
        rows = session.execute(q.order_by(CaseIndex.id.desc()).limit(batch)).all()
        yield from ((row.id, row.case_id) for row in rows)
        if len(rows) < batch:
            return
        last = rows[-1].id
        batch = min(batch * 4, 1000)


def _index_order(
    session: Session, lookups: list[tuple[str, int]], wanted: int
) -> Iterator[uuid.UUID]:
    """For readers of every case: candidates newest-indexed first (entered or last changed)
    straight from the blind-index table, merged across lookups, read only as far as they are
    checked (what this user may see is still applied when each batch is read)."""
    streams = [_index_stream(session, name, value, wanted + 8) for name, value in lookups]
    seen: set[uuid.UUID] = set()
    for _, case_id in heapq.merge(*streams, key=lambda r: -r[0]):
        if case_id not in seen:
            seen.add(case_id)
            yield case_id


def _exact_matches(
    session: Session,
    vault: Vault,
    candidates: Iterator[uuid.UUID],
    base: Select[Case],
    query: Query,
    names: NameQuery | None,
    wanted: int,
) -> tuple[list[Case], bool]:
    """(cases that really match, in candidate order; whether every candidate was checked),
    stopping once `wanted` matches are found (`names` None: no name to match). Batches grow
    from just over the page size to 500 rows (still filtered by what this user may see), each
    case read with its data key in one query; the cases returned are the page itself (their
    records already decrypted)."""
    matched: list[Case] = []
    size = wanted + 4  # most candidates of a name query match: start at the page
    while True:
        chunk = list(itertools.islice(candidates, size))
        size = min(size * 4, 500)
        if not chunk:
            return matched, True
        found = {
            row[0].id: row
            for row in session.execute(_with_data_key(base.where(Case.id.in_(chunk))))
        }
        for case_id in chunk:
            row = found.get(case_id)
            if row is None or (
                (query.status or query.governorate) and not _facets_match(row[0].facets, query)
            ):
                continue
            vault.take_wrapped(case_id, row[1], row[2])  # its record is read now or on the page
            if names is not None and not _person_matches(row[0], names):
                continue
            if query.partner and not _partner_marks_shown(row[0]):
                continue
            matched.append(row[0])
            if len(matched) >= wanted:
                return matched, False


def _person_matches(case: Case, names: NameQuery) -> bool:
    person = derived.record_person(case.record)
    if not person:
        return False  # no record (erased), or a record without a person: no name to match
    return matches(person, names, derived.birth_year(person))


def _partner_marks_shown(case: Case) -> bool:
    """A case's partner marks are used only while the family consents to partner matching
    (partners.services.marks_of): a case whose consent was withdrawn is not listed by them."""
    return derived.consents_to(case.consent, PARTNER_SCOPE)


def _facets_match(facets: Facets | None, query: Query) -> bool:
    """Status and governorate filters, from the facets (system key: no data key needed)."""
    status = facets.get("status") if facets else None
    governorate = facets.get("governorate") if facets else None
    if query.status and status != query.status:
        return False
    return not (query.governorate and governorate != query.governorate)


def testimonies_of(session: Session, case: Case) -> list[Testimony]:
    return list(
        session.scalars(
            select(Testimony).where(Testimony.case_id == case.id).order_by(Testimony.created_at)
        )
    )


def attachments_of(session: Session, case: Case) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.created_at)
        )
    )


def attachment_or_404(session: Session, case: Case, attachment_id: str) -> Attachment:
    aid = parse_id(attachment_id)
    attachment = session.get(Attachment, aid)
    if attachment is None or attachment.case_id != case.id:
        denied("attachment", aid)
        raise NotFoundError("attachment")
    return attachment


def summary(case: Case) -> CaseSummary:
    """One line of a list: reference, names, current status, governorate, verification."""
    record = case.record
    person = derived.record_person(record)
    facets = case.facets
    arrests = (record.get("arrests") if record else None) or [{}]
    return {
        "id": str(case.id),
        "reference": case.reference,
        "name": derived.display_name(person),
        "family_name_known": derived.family_name_known(person),
        "mother_name": person.get("mother_name") if person else None,
        "birth_date": person.get("birth_date") if person else None,
        "status": facets.get("status") if facets else None,
        "governorate": facets.get("governorate") if facets else None,
        "arrest_date": (arrests[0] or {}).get("date"),
        "verification": case.verification,
        "created_at": case.created_at.isoformat(timespec="seconds"),
        "updated_at": case.updated_at.isoformat(timespec="seconds"),
    }


def case_document(
    session: Session,
    user: User,
    case: Case,
    *,
    children: list[tuple[str, Any, Any, bytes]] | None = None,
) -> dict[str, Any]:
    """The case as this user may see it (source only for its owner and lawyers; legal notes
    only for lawyers). `children`: testimonies and attachments already read with the case."""
    record = case.record  # None only for an erased case
    doc: dict[str, Any] = {
        "id": str(case.id),
        "reference": case.reference,
        "created_at": case.created_at.isoformat(timespec="seconds"),
        "updated_at": case.updated_at.isoformat(timespec="seconds"),
        "verification": case.verification,
        "duplicate_of": str(case.duplicate_of) if case.duplicate_of else None,
        "merged_into": str(case.merged_into) if case.merged_into else None,
        "person": derived.record_person(record) or {},
        "arrests": (record.get("arrests") if record else None) or [],
        "detention": _detention_out((record.get("detention") if record else None) or {}),
        "status": (record.get("status") if record else None) or [],
        "current_status": derived.current_status(record) if record else "unknown",
        "family_actions": (record.get("family_actions") if record else None) or [],
        "consent": consent_summary(case),
        **_children(session, case, children),
        "can_edit": may_edit(user, case),
    }
    merged = (record.get("merged") if record else None) or []
    all_cases = user.can(Permission.CASE_READ_ALL)
    if merged:  # cases absorbed into this one, with their sources for those who may see them
        doc["merged"] = [
            {
                "reference": m.get("reference"),
                "at": m.get("at"),
                # the person as that report gave them (a Latin spelling, another mother's
                # name): the kept case's own fields win, and these stay readable to those
                # who may read every case (the report may be another documenter's)
                **({"person": m.get("person") or {}} if all_cases else {}),
                **({"source": m.get("source") or {}} if may_see_source(user, case) else {}),
            }
            for m in merged
        ]
    if may_see_source(user, case):
        doc["source"] = case.source or {}
    if user.can(Permission.LEGAL_NOTES):
        doc["legal_notes"] = case.legal_notes or []
    return doc


_t, _a = Testimony.__table__, Attachment.__table__
_CHILDREN = union_all(
    select(literal("t").label("kind"), _t.c.id, _t.c.created_at, _t.c.body_enc.label("blob")).where(
        _t.c.case_id == bindparam("case_id")
    ),
    select(literal("a").label("kind"), _a.c.id, _a.c.created_at, _a.c.meta_enc.label("blob")).where(
        _a.c.case_id == bindparam("case_id")
    ),
).order_by("created_at")

# Built once: the children's columns are the same for every case page.
_CHILDREN_ARRAYS = _children_arrays()
_ANY_LIVE_CASE_AND_CHILDREN = _ANY_LIVE_CASE.add_columns(*_CHILDREN_ARRAYS)


def _children(
    session: Session, case: Case, rows: list[tuple[str, Any, Any, bytes]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Testimonies and attachments of the case page in one round trip (or none, when read
    with the case), decrypted with the case's key, without building ORM objects (the case
    page is the hottest read)."""
    from casebook.encrypted import vault_of

    if rows is None:
        rows = [
            (row[0], row[1], row[2], row[3])
            for row in session.execute(_CHILDREN, {"case_id": case.id})
        ]
    out: dict[str, list[dict[str, Any]]] = {"testimonies": [], "attachments": []}
    if not rows:
        return out
    vault, _ = vault_of(case)
    cipher = vault.data_cipher(session, case.id)
    for kind, row_id, created_at, blob in rows:
        table, column = ("testimonies", "body_enc") if kind == "t" else ("attachments", "meta_enc")
        body: dict[str, Any] = open_json(cipher, table, column, str(row_id), blob)
        item = {"id": str(row_id), "created_at": _utc(created_at).isoformat(timespec="seconds")}
        if kind == "t":
            out["testimonies"].append({**item, **body})
        else:
            out["attachments"].append({**item, **{k: v for k, v in body.items() if k != "custody"}})
    return out


def _utc(value: Any) -> Any:
    """Core rows bypass the UTCDateTime type on some drivers: make the value aware."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def consent_summary(case: Case) -> dict[str, ConsentState]:
    """Each consent scope as it stands now (its history stays in the record)."""
    return {
        k: {"granted": v.get("granted"), "date": v.get("date")}
        for k, v in (case.consent or {}).items()
    }


def _detention_out(detention: Detention) -> dict[str, Any]:
    """The detention section as the API gives it: a place's dates as "from" and "to"."""
    out = dict(detention)
    out["places"] = [
        {("from" if k == "date_from" else "to" if k == "date_to" else k): v for k, v in p.items()}
        for p in detention.get("places") or []
    ]
    return out
