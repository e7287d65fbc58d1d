"""Capture histories from the cases and the outside lists matched against them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient

from casebook.cases.models import Case
from casebook.cli import cli
from casebook.estimate.histories import case_histories
from casebook.estimate.lcmcr import Schedule
from casebook.estimate.report import stratified_report
from casebook.linkage.models import MatchCandidate, MatchList
from tests.conftest import bearer, make_user, minimal_case


def _create(client: FlaskClient, h: dict[str, str], i: int, consent: bool = True) -> str:
    case: dict[str, Any] = minimal_case(
        first_name=f"اسم{i}", sex="female" if i % 2 else "male", birth_date=str(1950 + i % 40)
    )
    case["consent"]["statistics"]["granted"] = consent  # type: ignore[index]
    resp = client.post("/api/v1/cases", json=case, headers=h)
    assert resp.status_code == 201, resp.get_json()
    return str(resp.get_json()["id"])


def _outside_list(
    app: Flask, label: str, rows: int, matches: list[tuple[int, str, str]]
) -> uuid.UUID:
    """A list as `casebook match` leaves it: its row count and its decided candidates."""
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        match_list = MatchList(id=uuid.uuid4(), created_by=None, rows=rows, matched=len(matches))
        s.add(match_list)
        match_list.label = label
        s.flush()  # the list row first: candidates refer to it
        for row, case_id, status in matches:
            candidate = MatchCandidate(
                id=uuid.uuid4(),
                kind="list",
                case_a=uuid.UUID(case_id),
                list_id=match_list.id,
                score=0.95,
                status=status,
            )
            s.add(candidate)
            candidate.row = {"row": row, "first_name": "x"}
        return match_list.id


def populate(app: Flask, client: FlaskClient) -> uuid.UUID:
    """60 cases (one rejected, one merged duplicate, one without statistics consent) and two
    outside lists, "released-2024" (50 rows) and "obituaries" (40 rows); returns the second's id.
    """
    h = bearer(app, make_user(app, "lawyer"))
    ids = [_create(client, h, i) for i in range(60)]
    no_consent = _create(client, h, 99, consent=False)
    absorbed = _create(client, h, 98)
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        dup = s.get(Case, uuid.UUID(absorbed))
        assert dup is not None
        dup.verification, dup.duplicate_of = "duplicate", uuid.UUID(ids[59])
        s.get(Case, uuid.UUID(ids[58])).verification = "rejected"  # type: ignore[union-attr]
    # A: rows 1-50; cases 0-29 confirmed, the case without consent too (row 31), row 32's
    # candidate refused (so that row is A's alone). B: rows 1-40; cases 20-44 and the merged
    # duplicate of case 59 confirmed.
    a_matches = [(i + 1, ids[i], "match") for i in range(30)]
    a_matches += [(31, no_consent, "match"), (32, ids[50], "no_match")]
    _outside_list(app, "released-2024", 50, a_matches)
    b_matches = [(i - 19, ids[i], "match") for i in range(20, 45)] + [(26, absorbed, "match")]
    return _outside_list(app, "obituaries", 40, b_matches)


def test_patterns_from_cases_and_confirmed_matches(app: Flask, client: FlaskClient) -> None:
    b_id = populate(app, client)
    with app.extensions["casebook.db"].sessionmaker() as s:
        got = case_histories(s, ["own", "released-2024", str(b_id)[:8]], by="sex")
    assert got.lists == ("own", "released-2024", "obituaries")
    assert dict(got.overall) == {
        (1, 1, 0): 20,  # cases 0-19
        (1, 1, 1): 10,  # cases 20-29
        (1, 0, 1): 16,  # cases 30-44, and 59 through its merged duplicate
        (1, 0, 0): 13,  # cases 45-57 but the rejected 58 (50's candidate was refused)
        (0, 1, 0): 50 - 31,  # A's rows not confirmed (row 31 went to an uncounted case)
        (0, 0, 1): 40 - 26,
    }
    assert got.excluded == 1 and got.unstratified == 19 + 14
    assert sum(got.strata["female"].values()) + sum(got.strata["male"].values()) == 59
    assert any("counted twice" in w for w in got.warnings)

    report = stratified_report(
        got.lists,
        dict(got.overall),
        {k: dict(v) for k, v in got.strata.items()},
        seed=1,
        schedule=Schedule(samples=400, burn_in=2000, thin=10),
        unstratified=got.unstratified,
        dimension="sex",
    )
    assert report["observed"] == 59 + 19 + 14
    assert report["estimate"] >= report["observed"]
    assert [r["estimable"] for r in report["strata"]] == [False, False]
    assert "stored without sex" in report["strata"][0]["reason"]

    result = CliRunner().invoke(
        cli,
        ["estimate", "--from-cases", "--lists", "own,released-2024,nobody", "--format", "json"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert result.exit_code == 2 and "'nobody': no list has this id or label" in result.stderr
    result = CliRunner().invoke(
        cli,
        ["estimate", "--from-cases", "--lists", "own,released-2024,obituaries", "--by", "sex",
         "--format", "json", "--seed", "1", "--burn-in", "2000", "--samples", "400",
         "--thin", "10"],
        obj=ScriptInfo(create_app=lambda: app),
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.stderr
    out = json.loads(result.stdout)
    assert out["observed"] == 92 and out["by"] == "sex" and out["excluded_matches"] == 1
    assert out["lists"] == ["own", "released-2024", "obituaries"]


def test_strata_with_too_little_overlap_are_not_estimated() -> None:
    lists = ("own", "A", "B")
    big = {(1, 0, 0): 300, (0, 1, 0): 200, (0, 0, 1): 250, (1, 1, 0): 60, (1, 0, 1): 70,
           (0, 1, 1): 40, (1, 1, 1): 15}  # fmt: skip
    thin = {(1, 0, 0): 30, (0, 1, 0): 20, (1, 1, 0): 2, (0, 0, 1): 9, (1, 0, 1): 1}
    total = {p: big.get(p, 0) + thin.get(p, 0) for p in set(big) | set(thin)}
    report = stratified_report(
        lists,
        total,
        {"aleppo": big, "quneitra": thin},
        seed=3,
        schedule=Schedule(samples=400, burn_in=2000, thin=10),
        dimension="governorate",
    )
    aleppo, quneitra = report["strata"]
    assert aleppo["estimable"] and aleppo["estimate"] > aleppo["observed"] == 935
    assert not quneitra["estimable"] and "too little overlap: 3 people" in quneitra["reason"]
    assert "estimate" not in quneitra
