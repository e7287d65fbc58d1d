"""Capture histories from casebook's own data: the organisation's cases are one list, outside
lists matched with `casebook match` (their confirmed matches) are the others.

What is stored decides what can be estimated. A case's pattern is known exactly: it is on the
own list, and on each outside list that has a confirmed match to it. A row of an outside list
that matched no case is stored only as part of the list's row count (the list itself is never
kept readable), so:
- its pattern is "on this outside list only": outside lists are linked to the cases, never to
  each other, so a person on two outside lists and not a case counts twice (the estimate is
  then too high; the report says so when there are two outside lists or more);
- it has no stratum: estimates by a dimension are possible only when every row of every outside
  list matched a case; otherwise each stratum is reported as not estimable, with that reason.
The counted population is that of the statistics: cases not erased, not rejected, not marked as
duplicates, whose consent allows statistics. A confirmed match to a case outside it (for
example one without statistics consent) is left out of every list and counted as excluded;
a match to a merged duplicate counts for the case it was merged into.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casebook.cases.models import Case
from casebook.cases.records import Facets
from casebook.encrypted import Vault
from casebook.linkage.models import MatchCandidate, MatchList
from casebook.stats.queries import DIMENSIONS, base_category

OWN = "own"
NOT_COUNTED = ("duplicate", "rejected")

Pattern = tuple[int, ...]


class HistoryInputError(ValueError):
    """The lists or dimension asked for cannot be used; `problems` names every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass
class CaseHistories:
    """Pattern counts over `lists` (own first), overall and, with a dimension, per stratum."""

    lists: tuple[str, ...]
    overall: Counter[Pattern]
    strata: dict[str, Counter[Pattern]] = field(default_factory=dict)
    unstratified: int = 0  # outside-list rows that matched no case: no stratum is known
    excluded: int = 0  # confirmed matches to cases outside the counted population
    warnings: list[str] = field(default_factory=list)


def _case_facets(
    session: Session,
) -> Iterator[tuple[uuid.UUID, str, uuid.UUID | None, Facets | None]]:
    """Every case not erased, with its verification, merge target and facets, streamed in
    batches and decrypted from the bare column (no ORM objects: this runs once per case)."""
    vault: Vault = session.info["vault"]
    open_row = Case.facets.column_opener(vault, "cases")
    query = select(Case.id, Case.verification, Case.duplicate_of, Case.facets_enc).where(
        Case.erased_at.is_(None)
    )
    for case_id, verification, duplicate_of, blob in session.execute(
        query.execution_options(yield_per=5000)
    ):
        facets = None
        if blob is not None and verification not in NOT_COUNTED:
            facets = open_row(str(case_id), blob)
        yield case_id, verification, duplicate_of, facets


def _resolve(session: Session, names: Sequence[str]) -> list[MatchList]:
    """Outside lists by id (or a unique id prefix of 8+ characters) or by their exact label."""
    every = list(session.scalars(select(MatchList).order_by(MatchList.created_at)))
    found: list[MatchList] = []
    problems: list[str] = []
    for name in names:
        key = name.strip().lower()
        hits = [m for m in every if len(key) >= 8 and str(m.id).startswith(key)]
        if not hits:
            hits = [m for m in every if (m.label or "").strip().lower() == key]
        if len(hits) != 1:
            problems.append(
                f"outside list {name!r}: "
                + ("no list has this id or label" if not hits else "more than one list matches")
            )
        elif hits[0] in found:
            problems.append(f"outside list {name!r} is named twice")
        else:
            found.append(hits[0])
    if problems:
        raise HistoryInputError(problems)
    return found


def _check(lists: Sequence[str], by: str | None) -> list[str]:
    """The list names, stripped, once the query is known to be well formed."""
    names = [n.strip() for n in lists if n.strip()]
    problems: list[str] = []
    if not names or names[0].lower() != OWN:
        problems.append(f"the first list must be {OWN!r} (the organisation's own cases)")
    if len(names) < 2:
        problems.append("at least one outside list is needed beside the own cases")
    if by is not None and by not in DIMENSIONS:
        problems.append(f"by must be one of: {', '.join(DIMENSIONS)}")
    if problems:
        raise HistoryInputError(problems)
    return names


def lists_state(
    session: Session, lists: Sequence[str], by: str | None = None
) -> list[list[str | int]]:
    """What the outside lists' part of the histories depends on, read without decrypting any
    case: per list its id, rows, confirmed matches and the last decision (a cache key)."""
    outside = _resolve(session, _check(lists, by)[1:])
    state: list[list[str | int]] = []
    for match_list in outside:
        confirmed, last = session.execute(
            select(func.count(), func.max(MatchCandidate.decided_at)).where(
                MatchCandidate.list_id == match_list.id, MatchCandidate.status == "match"
            )
        ).one()
        state.append([str(match_list.id), match_list.rows, int(confirmed), str(last)])
    return state


def case_histories(session: Session, lists: Sequence[str], by: str | None = None) -> CaseHistories:
    """Build capture histories for `lists` ("own" first, then outside lists) from the database.

    The session must carry the vault (facets and list rows are read decrypted).
    """
    names = _check(lists, by)
    outside = _resolve(session, names[1:])
    counted: dict[uuid.UUID, str] = {}  # case id -> stratum ("" without a dimension)
    merged_into: dict[uuid.UUID, uuid.UUID] = {}
    for case_id, verification, duplicate_of, facets in _case_facets(session):
        if verification == "duplicate" and duplicate_of is not None:
            merged_into[case_id] = duplicate_of
        if verification in NOT_COUNTED or facets is None:
            continue
        if facets.get("statistics_consent"):
            counted[case_id] = base_category(by, facets, datetime.now(UTC).year) if by else ""
    return _histories(session, outside, counted, merged_into, by is not None)


def release_histories(
    session: Session, counted: Mapping[str, str], lists: Sequence[str], by: str | None = None
) -> CaseHistories:
    """Capture histories of the cases a statistics release counts: `counted` maps each counted
    case (id) to its stratum, as the release's tables count it, so that the own list is exactly
    the release's counted cases. Read in the release's snapshot: the outside lists' confirmed
    matches and the merges are those of the same moment as the cases."""
    names = _check(lists, by)
    outside = _resolve(session, names[1:])
    merged_into: dict[uuid.UUID, uuid.UUID] = {}
    duplicates = select(Case.id, Case.duplicate_of).where(
        Case.erased_at.is_(None), Case.verification == "duplicate"
    )
    for case_id, target in session.execute(duplicates):
        if target is not None:
            merged_into[case_id] = target
    cases = {uuid.UUID(case_id): stratum for case_id, stratum in counted.items()}
    return _histories(session, outside, cases, merged_into, by is not None)


def _histories(
    session: Session,
    outside: Sequence[MatchList],
    counted: Mapping[uuid.UUID, str],
    merged_into: Mapping[uuid.UUID, uuid.UUID],
    by: bool,
) -> CaseHistories:
    labels = tuple([OWN] + [(m.label or str(m.id))[:60] for m in outside])
    result = CaseHistories(lists=labels, overall=Counter())

    on_lists: dict[uuid.UUID, list[int]] = {cid: [1] + [0] * len(outside) for cid in counted}
    list_only = [0] * len(outside)
    for j, match_list in enumerate(outside):
        matched_rows: set[int] = set()
        confirmed = select(MatchCandidate).where(
            MatchCandidate.list_id == match_list.id, MatchCandidate.status == "match"
        )
        for candidate in session.scalars(confirmed):
            row = candidate.row
            matched_rows.add(int(row.get("row", -1)) if row else -1)
            case_id = candidate.case_a
            seen: set[uuid.UUID] = set()
            while case_id in merged_into and case_id not in seen:  # follow merges to the kept case
                seen.add(case_id)
                case_id = merged_into[case_id]
            if case_id in on_lists:
                on_lists[case_id][j + 1] = 1
            else:
                result.excluded += 1
        list_only[j] = max(0, match_list.rows - len(matched_rows))

    for case_id, pattern in on_lists.items():
        result.overall[tuple(pattern)] += 1
        if by:
            result.strata.setdefault(counted[case_id], Counter())[tuple(pattern)] += 1
    for j, n in enumerate(list_only):
        if n:
            only = tuple(1 if i == j + 1 else 0 for i in range(len(labels)))
            result.overall[only] += n
            result.unstratified += n
    if len(outside) >= 2 and any(list_only):
        result.warnings.append(
            "rows of outside lists that match no case are not linked between outside lists: "
            "a person on two of them and not a case is counted twice, so the estimate is too high"
        )
    if result.excluded:
        result.warnings.append(
            f"{result.excluded} confirmed match(es) to cases outside the counted population "
            "(no statistics consent, rejected, erased) were left out of every list"
        )
    return result
