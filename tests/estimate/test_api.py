"""The estimate is part of a statistics release: cut with the release, shown on the statistics
page and in the brief (Arabic and English), served by GET /api/v1/stats/estimate as stored,
and unchanged by new cases until the next release. No count of people below k."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.config import Settings
from tests.conftest import UserFixture, bearer, csrf_from, finish_background, login, make_user
from tests.estimate.test_from_cases import _create, _outside_list, populate
from tests.ui.test_language_crawl import foreign_words

URL = "/api/v1/stats/estimate"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """LCMCR's default schedule takes seconds; the tests' figures do not depend on its length."""
    return settings.with_(estimate_samples=400, estimate_burn_in=2000, estimate_thin=10)


def _cut_on_the_web(app: Flask, admin: UserFixture, choose: list[str], by: str = "") -> str:
    web = app.test_client()
    login(web, admin)
    page = web.get("/stats/releases").get_data(as_text=True)
    ids = dict(re.findall(r'name="estimate_list" value="([0-9a-f-]+)"> <bdi>([^<]+)</bdi>', page))
    chosen = [i for i, name in ids.items() if name in choose]
    assert len(chosen) == len(choose), page
    started = web.post(
        "/stats/releases",
        data={
            "csrf_token": csrf_from(page),
            "estimate_list": chosen,
            "estimate_by": by,
        },
    )
    assert started.status_code == 303
    finish_background(app)
    return web.get("/stats/releases").get_data(as_text=True)


def _figure(html: str) -> str:
    found = re.search(r'class="estimate-figure"><strong>(.*?)</strong>', html, re.S)
    assert found, html
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_release_estimate_is_shown_served_and_frozen_until_the_next_release(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    populate(app, client)
    listed = _cut_on_the_web(app, users["admin"], ["released-2024", "obituaries"])
    assert "Release 1 is published." in listed

    h = bearer(app, users["advocate"])
    resp = client.get(URL, headers=h)
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["release"]["number"] == 1 and doc["data_as_of"] == doc["release"]["date"]
    assert doc["estimable"] and doc["method"] == "lcmcr" and doc["sources"] == 3, str(doc)
    assert doc["observed"] == 92 and doc["k"] == 11
    low, high = doc["interval"]
    assert 92 <= low <= doc["estimate"] <= high
    assert "patterns" not in doc and "strata" not in doc  # no pattern count is ever published
    assert doc["warnings"] == ["counted_twice"]

    web = app.test_client()
    login(web, users["advocate"])
    page = web.get("/stats/").get_data(as_text=True)
    figure = _figure(page)
    assert f"{doc['estimate']}" in figure and f"{low}–{high}" in figure and "95% interval" in figure
    assert "From 3 lists" in page and "LCMCR" in page and "What this means" in page
    # the interval drawn beside the documented count
    assert 'class="chart interval-chart"' in page and f"{doc['estimate']} ({low}–{high})" in page

    # a new case and a new match change nothing an advocate sees until the next release
    lawyer = bearer(app, make_user(app, "lawyer"))
    new_case = _create(client, lawyer, 500)
    _outside_list(app, "late-list", 5, [(1, new_case, "match")])
    assert client.get(URL, headers=h).get_json() == doc
    assert _figure(web.get("/stats/").get_data(as_text=True)) == figure
    with app.extensions["casebook.db"].sessionmaker() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "stats.estimate")).all()
        assert len(audited) == 2 and '"release":1' in audited[0].details
        made = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "stats.release_estimate")
        ).one()
        assert '"estimable":true' in made.details and '"lists":3' in made.details


def test_the_brief_gives_the_estimate_and_its_caveat_in_arabic_and_english(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    populate(app, client)
    _cut_on_the_web(app, users["admin"], ["released-2024", "obituaries"])
    doc = client.get(URL, headers=bearer(app, users["advocate"])).get_json()
    web = app.test_client()
    login(web, users["advocate"])
    english = web.get("/stats/brief?by=sex").get_data(as_text=True)
    assert str(doc["estimate"]) in _figure(english) and "What it assumes" in english
    with web.session_transaction() as sess:
        sess["lang"] = "ar"
    arabic = web.get("/stats/brief?by=sex").get_data(as_text=True)
    figure = _figure(arabic)
    assert str(doc["estimate"]) in figure and "المجموع المقدّر" in figure
    assert "ما يفترضه" in arabic and "LCMCR" in arabic
    assert "What this means" not in arabic
    assert foreign_words(arabic, "ar") == set()  # no English outside codes and user data
    assert foreign_words(english, "en") == set()


def test_a_release_with_too_few_lists_or_overlaps_says_why(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    populate(app, client)
    from casebook.cli import cli

    result = app.test_cli_runner().invoke(cli, ["release", "create"])
    assert result.exit_code == 0 and "no estimate: only the organisation's own" in result.output
    h = bearer(app, users["advocate"])
    doc = client.get(URL, headers=h).get_json()
    assert doc["estimable"] is False and doc["reason"] == "no_lists" and "estimate" not in doc
    web = app.test_client()
    login(web, users["advocate"])
    page = web.get("/stats/").get_data(as_text=True)
    assert "No estimate for this release." in page and "at least one outside list" in page

    # a list nobody on it matched: no overlap, no number, and the reason
    lawyer = bearer(app, make_user(app, "lawyer"))
    for i in range(25):
        _create(client, lawyer, 600 + i)
    _outside_list(app, "unrelated", 30, [])
    result = app.test_cli_runner().invoke(
        cli, ["release", "create", "--estimate-lists", "unrelated"]
    )
    assert result.exit_code == 0, result.output
    assert "no estimate: too little overlap" in result.output
    doc = client.get(URL, headers=h).get_json()
    assert doc["release"]["number"] == 2 and doc["reason"] == "overlap"
    assert "Too little overlap between the lists" in web.get("/stats/").get_data(as_text=True)
    old = client.get(URL, query_string={"release": "1"}, headers=h).get_json()
    assert old["reason"] == "no_lists"


def test_groups_are_estimated_only_where_the_release_publishes_their_count(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    populate(app, client)
    from casebook.cli import cli

    lists = "released-2024,obituaries"
    result = app.test_cli_runner().invoke(
        cli, ["release", "create", "--estimate-lists", lists, "--estimate-by", "sex"]
    )
    assert result.exit_code == 0, result.output
    doc = client.get(URL, headers=bearer(app, users["advocate"])).get_json()
    # unmatched rows of the outside lists have no sex: no group can be estimated, and no group
    # carries a count of people
    assert doc["by"] == "sex" and doc["strata"]
    reasons = {s["stratum"]: s["reason"] for s in doc["strata"]}
    assert reasons == {"male": "unplaceable", "female": "unplaceable", "unknown": "small"}
    assert all(set(s) == {"stratum", "estimable", "reason"} for s in doc["strata"])


def test_bad_queries_and_other_roles_are_refused(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    h = bearer(app, users["advocate"])
    assert client.get(URL, headers=h).status_code == 404  # no release yet
    bad = client.get(URL, query_string={"lists": "own,x", "release": "x1"}, headers=h)
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"lists", "release"}
    documenter = bearer(app, users["documenter"])
    assert client.get(URL, headers=documenter).status_code == 403
    web = app.test_client()
    login(web, users["admin"])
    page = web.get("/stats/releases").get_data(as_text=True)
    refused = web.post(
        "/stats/releases",
        data={"csrf_token": csrf_from(page), "estimate_list": "not-a-list"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "An outside list chosen for the estimate does not exist." in refused
    assert "No statistics release has been published yet." in refused


def test_the_openapi_document_describes_the_endpoint(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in doc["paths"][URL]["get"]["parameters"]}
    assert params == {"release"}


def test_a_group_hidden_in_the_release_is_not_estimated_and_hides_a_second() -> None:
    from casebook.estimate.release import _strata

    def row(name: str, n: int) -> dict[str, object]:
        return {
            "stratum": name, "documented_cases": n, "observed": n, "estimable": True,
            "method": "lcmcr", "estimate": 2 * n, "interval": [n, 3 * n], "level": 0.95,
            "loglinear": {"estimate": 2 * n, "interval": [n, 3 * n]}, "samples": 10, "seed": 1,
            "convergence": {"converged": True},
        }  # fmt: skip

    report = {
        "strata": [row("aleppo", 400), row("homs", 190), row("quneitra", 7), row("idlib", 12)]
    }
    # the release's own table by governorate: quneitra hidden, daraa a published zero
    table = {"aleppo": 400, "homs": 190, "quneitra": None, "daraa": 0, "idlib": 12}
    strata = {x["stratum"]: x for x in _strata(table, 11, report, "governorate")}
    # quneitra is hidden in the release's table; alone it would be the overall minus the
    # others, so the next smallest (idlib) goes too; daraa has nobody
    assert {n: x["estimable"] for n, x in strata.items()} == {
        "aleppo": True, "homs": True, "quneitra": False, "daraa": False, "idlib": False,
    }  # fmt: skip
    assert strata["aleppo"]["estimate"] == 800 and "documented_cases" not in strata["aleppo"]
    assert "observed" not in strata["aleppo"]


def test_a_cut_estimates_from_the_snapshot_of_its_tables(
    app: Flask,
    client: FlaskClient,
    users: dict[str, UserFixture],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cut is held after it read its snapshot (a pause point) while a case is added and two
    list matches are confirmed (one of the new case, one of a counted case); once it finishes,
    the release's tables and its estimate are both of the snapshot: the own list is the
    release's published total, and the estimate is that of the patterns before the changes."""
    import threading

    from casebook import pausepoints
    from casebook.cli import cli
    from casebook.estimate.lcmcr import Schedule
    from casebook.estimate.release import SEED
    from casebook.estimate.report import stratified_report
    from tests.pausing import pause_env, release, wait_reached

    lawyer = bearer(app, make_user(app, "lawyer"))
    ids = [_create(client, lawyer, i) for i in range(40)]
    # 20 rows: 1-15 confirmed as cases 0-14, 16-20 matched no case
    list_id = _outside_list(app, "registry", 20, [(i + 1, ids[i], "match") for i in range(15)])

    point = "stats.release.snapshot"
    pauses = tmp_path / "pauses"
    nth = pausepoints._passages.get(point, 0) + 1
    for name, value in pause_env(pauses, point, nth).items():
        monkeypatch.setenv(name, value)
    runner = app.test_cli_runner()
    result: list[tuple[int, str]] = []

    def cut() -> None:
        out = runner.invoke(cli, ["release", "create", "--estimate-lists", "registry"])
        result.append((out.exit_code, out.output))

    cutter = threading.Thread(target=cut)
    cutter.start()
    try:
        wait_reached(pauses, point, alive=cutter.is_alive)
        late = _create(client, lawyer, 500)
        with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
            from casebook.linkage.models import MatchCandidate

            for row, case_id in ((16, late), (17, ids[30])):
                candidate = MatchCandidate(
                    id=uuid.uuid4(),
                    kind="list",
                    case_a=uuid.UUID(case_id),
                    list_id=list_id,
                    score=0.95,
                    status="match",
                )
                s.add(candidate)
                candidate.row = {"row": row, "first_name": "x"}
    finally:
        release(pauses, point)
        cutter.join(300)
    assert result and result[0][0] == 0, result
    assert "release 1: 40 cases counted" in result[0][1]

    h = bearer(app, users["advocate"])
    total = client.get("/api/v1/stats?by=sex", headers=h).get_json()["total"]
    doc = client.get(URL, headers=h).get_json()
    assert total == 40 and doc["estimable"], doc
    # documented: the release's own total and the 5 list rows that matched no case then
    assert doc["observed"] == total + 5
    before = {(1, 0): 25, (1, 1): 15, (0, 1): 5}  # the snapshot's patterns
    expected = stratified_report(
        ("own", "registry"), before, {}, seed=SEED, schedule=Schedule(samples=400, burn_in=2000)
    )
    assert doc["estimate"] == expected["estimate"]
    assert doc["loglinear"]["estimate"] == expected["loglinear"]["estimate"]
