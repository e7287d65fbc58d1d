"""GET /api/v1/stats/estimate as an advocate sees it: no count of people below k."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.estimate import api as estimate_api
from casebook.estimate.lcmcr import Schedule
from casebook.estimate.release import publish
from casebook.linkage.models import MatchCandidate
from tests.conftest import bearer, make_user
from tests.estimate.test_from_cases import populate

URL = "/api/v1/stats/estimate"


@pytest.fixture(autouse=True)
def _short_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """LCMCR's default schedule takes seconds; the document's shape does not depend on it."""
    monkeypatch.setattr(estimate_api, "SCHEDULE", Schedule(samples=400, burn_in=2000, thin=10))


def test_advocate_gets_the_estimate_without_small_pattern_counts(
    app: Flask, client: FlaskClient
) -> None:
    populate(app, client)
    h = bearer(app, make_user(app, "advocate"))
    resp = client.get(URL, query_string={"lists": "own,released-2024,obituaries"}, headers=h)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["observed"] == 92 and doc["k"] == 11 and doc["method"] == "lcmcr"
    assert doc["estimate"] >= 92 and doc["interval"][0] <= doc["estimate"] <= doc["interval"][1]
    # 111 has 10 people (< 11): hidden, and the next smallest (100: 13) with it, or the
    # documented total minus the other patterns would give it back
    assert doc["patterns"] == {
        "001": 14, "010": 19, "100": None, "101": 16, "110": 20, "111": None,
    }  # fmt: skip
    assert "excluded_matches" not in doc and all("1 confirmed" not in w for w in doc["warnings"])
    assert any("counted twice" in w for w in doc["warnings"])
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "stats.estimate")).one()
        assert entry is not None
    again = client.get(URL, query_string={"lists": "own,released-2024,obituaries"}, headers=h)
    assert again.get_json() == doc  # same data, same seed: the same published answer
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        refused = s.scalars(select(MatchCandidate).where(MatchCandidate.status == "no_match")).one()
        refused.status, refused.decided_at = "match", datetime.now(UTC)  # a lawyer changes it
    later = client.get(URL, query_string={"lists": "own,released-2024,obituaries"}, headers=h)
    assert later.get_json()["patterns"]["110"] == 21  # not the cached answer


def test_strata_reasons_carry_no_counts_and_bad_queries_are_refused(
    app: Flask, client: FlaskClient
) -> None:
    populate(app, client)
    h = bearer(app, make_user(app, "advocate"))
    doc = client.get(
        URL, query_string={"lists": "own,released-2024,obituaries", "by": "sex"}, headers=h
    ).get_json()
    assert [s["estimable"] for s in doc["strata"]] == [False, False]
    assert not any(ch.isdigit() for s in doc["strata"] for ch in s["reason"])
    bad = client.get(URL, query_string={"lists": "own,nothing", "k": "2"}, headers=h)
    assert bad.status_code == 422 and "k" in bad.get_json()["error"]["fields"]
    bad = client.get(URL, query_string={"lists": "own,nothing"}, headers=h)
    assert bad.status_code == 422
    assert "no list has this id or label" in bad.get_json()["error"]["fields"]["lists"][0]
    documenter = bearer(app, make_user(app, "documenter"))
    assert client.get(URL, query_string={"lists": "own"}, headers=documenter).status_code == 403


def test_a_stratum_below_k_is_not_estimated_and_hides_a_second() -> None:
    report = {
        "estimate": 900, "interval": [800, 1000], "level": 0.95, "method": "lcmcr",
        "loglinear": {}, "samples": 10, "seed": 1, "convergence": None, "lists": ["own", "A"],
        "observed": 600, "warnings": [], "by": "governorate",
        "strata": [
            {"stratum": s, "estimable": True, "documented_cases": n, "observed": n,
             "estimate": 2 * n, "interval": [n, 3 * n], "level": 0.95, "method": "lcmcr",
             "loglinear": {}, "samples": 10, "seed": 1, "convergence": None}
            for s, n in (("aleppo", 400), ("homs", 190), ("quneitra", 7), ("daraa", 3))
        ],
    }  # fmt: skip
    out = publish(report, {"10": 300, "01": 200, "11": 4}, k=11)
    estimable = {s["stratum"]: s["estimable"] for s in out["strata"]}
    assert estimable == {"aleppo": True, "homs": True, "quneitra": False, "daraa": False}
    assert out["patterns"] == {"10": 300, "01": None, "11": None}
    lone = publish(report | {"strata": report["strata"][:3]}, {}, k=11)
    assert [s["estimable"] for s in lone["strata"]] == [True, False, False]  # homs hides too


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["001", "010", "011", "100", "101", "110", "111"]),
        st.integers(1, 60),
        min_size=1,
    ),
    st.integers(5, 30),
)
def test_no_published_pattern_count_is_below_k_or_alone_hidden(
    patterns: dict[str, int], k: int
) -> None:
    report = {
        "estimate": 1, "interval": [1, 2], "level": 0.95, "method": "lcmcr", "loglinear": {},
        "samples": 1, "seed": 1, "convergence": None, "lists": ["own", "A", "B"],
        "observed": sum(patterns.values()), "warnings": [],
    }  # fmt: skip
    out = publish(report, patterns, k)
    shown = out["patterns"]
    assert all(v is None or v >= k for v in shown.values())
    hidden = [p for p, v in shown.items() if v is None]
    assert out["observed"] is None or out["observed"] >= k
    if out["observed"] is not None:
        assert len(hidden) != 1  # one hidden cell would be the total minus the others


def test_the_openapi_document_describes_the_endpoint(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in doc["paths"][URL]["get"]["parameters"]}
    assert params == {"lists", "by", "k"}
