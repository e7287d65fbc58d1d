"""Reads on cases, already scoped to the user: documenters see their own and assigned cases,
lawyers all; nobody else any. A case a user may not see answers 404, as if it did not exist."""

from __future__ import annotations

import functools
import heapq
import itertools
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
from casebook.encrypted import Vault, open_json
from casebook.keys.models import CaseKey
from casebook.lookups import NotFoundError, parse_id
from casebook.names import family_skeleton, is_arabic, normalise, normalise_family, skeleton
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


def may_see_source(user: User, case: Case) -> bool:
    if not user.can(Permission.SOURCE_READ):
        return False
    return user.can(Permission.CASE_READ_ALL) or case.created_by == user.id


@dataclass(frozen=True)
class Query:
    q: str = ""
    mother: str = ""
    birth_year: int | None = None
    national_id: str | None = None
    status: str | None = None
    governorate: str | None = None
    verification: str | None = None
    page: int = 1
    per_page: int = 50

    @property
    def by_name(self) -> bool:
        return bool(self.q or self.mother or self.national_id)


def _lookups(vault: Vault, query: Query) -> list[tuple[str, int]]:
    """The blind-index values a query may match; the match is then checked exactly."""
    out: list[tuple[str, int]] = []
    tokens = normalise(query.q).split()
    years = [t for t in tokens if t.isdigit() and len(t) == 4]
    words = [t for t in tokens if not t.isdigit()]
    if query.birth_year:
        years.append(str(query.birth_year))
    if len(words) >= 2:
        first, family = words[0], normalise_family(words[-1]).replace(" ", "")
        out.append(("name", vault.blind_index("name").value(first, family)))
        skel = (skeleton(words[0]), family_skeleton(words[-1]).replace(" ", ""))
        if all(skel) and not is_arabic(query.q):  # Arabic is matched letter for letter
            out.append(("latin", vault.blind_index("latin").value(*skel)))
    elif len(words) == 1 and not query.mother:  # one word: a family name (with the mother's
        family = normalise_family(words[0]).replace(" ", "")  # name it is the first name)
        if years:
            out += [
                ("family_year", vault.blind_index("family_year").value(family, y)) for y in years
            ]
        else:
            out.append(("family", vault.blind_index("family").value(family)))
    if query.mother and words:
        mother = normalise(query.mother).split()
        if mother:
            out.append(("mother", vault.blind_index("mother").value(words[0], mother[0])))
    if query.national_id:
        out.append(("nid", vault.blind_index("nid").value(query.national_id.strip().upper())))
    return out


@functools.lru_cache(maxsize=256)
def _normalised_query(text: str) -> tuple[str, ...]:
    """A search checks one query against many candidates: normalise it once."""
    return tuple(normalise(text).split())


def query_cache_clear(_sender: object = None, **_kw: object) -> None:
    """Sealing: the remembered search queries (names people searched for) are dropped."""
    _normalised_query.cache_clear()


def _matches(person: dict[str, Any], query: Query) -> bool:
    """The exact test behind the lossy index: no false positive reaches the user."""
    if (
        query.national_id
        and str(person.get("national_id", "")).upper() != query.national_id.strip().upper()
    ):
        return False
    query_tokens = _normalised_query(query.q)
    words = [t for t in query_tokens if not t.isdigit()]
    years = [int(t) for t in query_tokens if t.isdigit() and len(t) == 4]
    if query.birth_year:
        years.append(query.birth_year)
    if years and derived.birth_year(person) not in years:
        return False
    if query.mother:
        mother = normalise(query.mother).split()
        if not mother or normalise(person.get("mother_name") or "").split()[:1] != mother[:1]:
            return False
    if not words:
        return True
    first = normalise(person.get("first_name") or "").split()[:1]
    family = normalise_family(person.get("family_name") or "").replace(" ", "")
    if len(words) == 1 and query.mother:
        return words[:1] == first
    if len(words) == 1:
        return normalise_family(words[0]).replace(" ", "") == family
    if words[0:1] == first and normalise_family(words[-1]).replace(" ", "") == family:
        return True
    for alias in person.get("other_names") or []:
        tokens = normalise(alias).split()
        if (
            tokens
            and tokens[0] == words[0]
            and normalise_family(tokens[-1]).replace(" ", "")
            == normalise_family(words[-1]).replace(" ", "")
        ):
            return True
    if is_arabic(query.q):
        return False  # the consonant skeleton is for Latin spellings (it merges محمد and محمود)
    want = (skeleton(words[0]), family_skeleton(words[-1]).replace(" ", ""))
    have = [
        (
            skeleton(first[0]) if first else "",
            family_skeleton(person.get("family_name") or "").replace(" ", ""),
        )
    ]
    latin = normalise(person.get("latin_name") or "").split()
    if len(latin) >= 2:
        have.append((skeleton(latin[0]), family_skeleton(latin[-1]).replace(" ", "")))
    return want in have


@dataclass(frozen=True)
class Page:
    items: list[Case]
    total: int
    total_exact: bool  # False: more candidates than were checked; `total` is an estimate


def search(session: Session, vault: Vault, user: User, query: Query) -> Page:
    """Cases this user may see that match the query, newest first, one page of them.

    Without filters on encrypted fields this is one SQL page and an exact count. With them,
    candidate ids are ordered first (cheap), then decrypted in that order only until the page
    and one more match are found: a common name can have tens of thousands of real matches,
    and checking them all would make every such search take seconds. The total is exact when
    every candidate was checked; otherwise it is the number of candidates (an estimate).
    """
    visible = visible_cases(user)
    if query.verification:
        visible = visible.where(Case.verification == query.verification)
    base = visible
    lookups: list[tuple[str, int]] = []
    if query.by_name:
        lookups = _lookups(vault, query)
        if not lookups:
            return Page([], 0, True)
        conditions = [(CaseIndex.name == n) & (CaseIndex.value == v) for n, v in lookups]
        base = base.where(Case.id.in_(select(CaseIndex.case_id).where(or_(*conditions))))
    if not (query.by_name or query.status or query.governorate):
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.scalars(
            base.order_by(*_NEWEST_FIRST)
            .offset((query.page - 1) * query.per_page)
            .limit(query.per_page)
        ).all()
        return Page(list(rows), int(total), True)
    wanted = query.page * query.per_page + 1
    if not query.by_name:
        return _facet_filtered(session, vault, visible, query, wanted)
    if user.can(Permission.CASE_READ_ALL) and not (
        query.status or query.governorate or query.verification
    ):
        return _search_index_order(session, vault, visible, query, lookups, wanted)
    candidates = list(session.scalars(base.with_only_columns(Case.id).order_by(*_NEWEST_FIRST)))
    matched, complete = _exact_matches(session, vault, iter(candidates), visible, query, wanted)
    return _page(matched, query, exact=complete, estimate=len(candidates))


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
    rows that do not match. When the scan stops early the total is an estimate: the share of
    matches among the cases checked, times the cases this user sees."""
    matched: list[uuid.UUID] = []
    checked = 0
    exhausted = True
    for case_id, sealed in _newest_first(session, visible, wanted * 2):
        checked += 1
        facets = Case.facets.open_system(vault, "cases", case_id, sealed) if sealed else {}
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
    if exhausted:
        return Page(items, len(matched), True)
    visible_total = session.scalar(select(func.count()).select_from(visible.subquery())) or 0
    return Page(items, max(round(visible_total * len(matched) / checked), len(matched)), False)


def _page(matched: list[Case], query: Query, *, exact: bool, estimate: int) -> Page:
    start = (query.page - 1) * query.per_page
    return Page(
        matched[start : start + query.per_page],
        len(matched) if exact else max(estimate, len(matched)),
        exact,
    )


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


def _search_index_order(
    session: Session,
    vault: Vault,
    base: Select[Case],
    query: Query,
    lookups: list[tuple[str, int]],
    wanted: int,
) -> Page:
    """For readers of every case: candidates come newest-indexed first (entered or last
    changed) straight from the blind-index table, merged across lookups, and are decrypted
    only until the page is full. The estimate counts index entries: it is shown only to users
    who may see every case, so it reveals nothing they could not list."""
    streams = [_index_stream(session, name, value, wanted + 8) for name, value in lookups]
    seen: set[uuid.UUID] = set()

    def candidates() -> Iterator[uuid.UUID]:
        for _, case_id in heapq.merge(*streams, key=lambda r: -r[0]):
            if case_id not in seen:
                seen.add(case_id)
                yield case_id

    matched, exhausted = _exact_matches(session, vault, candidates(), base, query, wanted)
    estimate = 0
    if not exhausted:
        # the largest single lookup: the name and Latin indexes mostly find the same cases
        estimate = max(
            int(
                session.scalar(
                    select(func.count()).where(CaseIndex.name == name, CaseIndex.value == value)
                )
                or 0
            )
            for name, value in lookups
        )
    return _page(matched, query, exact=exhausted, estimate=estimate)


def _exact_matches(
    session: Session,
    vault: Vault,
    candidates: Iterator[uuid.UUID],
    base: Select[Case],
    query: Query,
    wanted: int,
) -> tuple[list[Case], bool]:
    """(cases that really match, in candidate order; whether every candidate was checked),
    stopping once `wanted` matches are found. Batches grow from just over the page size to 500
    rows (still filtered by what this user may see), each case read with its data key in one
    query; the cases returned are the page itself (their records already decrypted)."""
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
                (query.status or query.governorate)
                and not _facets_match(row[0].facets or {}, query)
            ):
                continue
            vault.take_wrapped(case_id, row[1], row[2])  # its record is read now or on the page
            if query.by_name and not _matches((row[0].record or {}).get("person") or {}, query):
                continue
            matched.append(row[0])
            if len(matched) >= wanted:
                return matched, False


def _facets_match(facets: dict[str, Any], query: Query) -> bool:
    """Status and governorate filters, from the facets (system key: no data key needed)."""
    if query.status and facets.get("status") != query.status:
        return False
    return not (query.governorate and facets.get("governorate") != query.governorate)


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


def summary(case: Case) -> dict[str, Any]:
    """One line of a list: reference, names, current status, governorate, verification."""
    record = case.record or {}
    person = record.get("person") or {}
    facets = case.facets or {}
    return {
        "id": str(case.id),
        "reference": case.reference,
        "name": " ".join(
            filter(
                None,
                [person.get("first_name"), person.get("father_name"), person.get("family_name")],
            )
        ),
        "mother_name": person.get("mother_name"),
        "birth_date": person.get("birth_date"),
        "status": facets.get("status"),
        "governorate": facets.get("governorate"),
        "arrest_date": ((record.get("arrests") or [{}])[0] or {}).get("date"),
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
    record = case.record or {}
    doc: dict[str, Any] = {
        "id": str(case.id),
        "reference": case.reference,
        "created_at": case.created_at.isoformat(timespec="seconds"),
        "updated_at": case.updated_at.isoformat(timespec="seconds"),
        "verification": case.verification,
        "duplicate_of": str(case.duplicate_of) if case.duplicate_of else None,
        "merged_into": str(case.merged_into) if case.merged_into else None,
        "person": record.get("person") or {},
        "arrests": record.get("arrests") or [],
        "detention": _detention_out(record.get("detention") or {}),
        "status": record.get("status") or [],
        "current_status": derived.current_status(record),
        "family_actions": record.get("family_actions") or [],
        "consent": consent_summary(case),
        **_children(session, case, children),
        "can_edit": may_edit(user, case),
    }
    merged = record.get("merged") or []
    if merged:  # cases absorbed into this one, with their sources for those who may see them
        doc["merged"] = [
            {
                "reference": m.get("reference"),
                "at": m.get("at"),
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


def consent_summary(case: Case) -> dict[str, Any]:
    """Each consent scope as it stands now (its history stays in the record)."""
    return {
        k: {"granted": v.get("granted"), "date": v.get("date")}
        for k, v in (case.consent or {}).items()
    }


def _detention_out(detention: dict[str, Any]) -> dict[str, Any]:
    out = dict(detention)
    out["places"] = [
        {("from" if k == "date_from" else "to" if k == "date_to" else k): v for k, v in p.items()}
        for p in detention.get("places") or []
    ]
    return out
