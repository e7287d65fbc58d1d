"""Creating many cases at once: all or nothing, consecutive references, one audit entry each."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor
from casebook.audit.verify import verify_chain
from casebook.cases.models import Case, CaseIndex  # not a test class
from casebook.cases.models import Testimony as CaseTestimony
from casebook.cases.services import CaseInputError, case_create_many
from casebook.keys.models import CaseKey
from tests.conftest import minimal_case


def _counts(app: Flask) -> tuple[int, ...]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Case, CaseKey, CaseIndex, CaseTestimony, AuditEntry)
        )


def test_batch_is_stored_whole_with_its_audit_chain(app: Flask) -> None:
    items = [minimal_case(first_name=f"اسم{i}") for i in range(25)]
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        created = case_create_many(s, Actor.cli(), items, created_by=None)
    numbers = [int(ref.rsplit("-", 1)[1]) for _, ref in created]
    assert numbers == list(range(numbers[0], numbers[0] + 25))
    cases, keys, index, testimonies, audit = _counts(app)
    assert (cases, keys, testimonies, audit) == (25, 25, 25, 25) and index >= 25 * 4
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert verify_chain(s).ok
        case = s.get(Case, created[7][0])
        assert case is not None and case.record["person"]["first_name"] == "اسم7"  # type: ignore[index]


def test_one_bad_item_stores_nothing(app: Flask) -> None:
    items = [minimal_case(first_name=f"n{i}") for i in range(5)]
    items[3]["person"]["birth_date"] = "not a date"  # type: ignore[index]
    before = _counts(app)
    with (
        pytest.raises(CaseInputError) as err,
        app.extensions["casebook.db"].sessionmaker() as s,
        s.begin(),
    ):
        case_create_many(s, Actor.cli(), items, created_by=None)
    assert "person.birth_date" in err.value.fields
    assert _counts(app) == before
