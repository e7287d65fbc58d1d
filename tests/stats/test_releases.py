"""Statistics releases attacked as a hostile advocate would (API, downloads, CLI), with an
independent linear-programming attacker (SciPy) over everything a release publishes."""

from __future__ import annotations

import csv
import itertools
import math
import random
from collections.abc import Callable

import highspy
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from highspy._core import _Highs  # the bare solver: highspy.Highs() prints a banner
from scipy.optimize import linprog

from casebook.stats.queries import BASE, group
from tests.conftest import UserFixture, bearer, fresh_code, minimal_case

GOVS = ["aleppo", "damascus", "homs", "hama", "idlib", "daraa"]
STATUSES = ["forcibly_disappeared", "detained", "released"]


def _case(rng: random.Random) -> dict:  # type: ignore[type-arg]
    sex = rng.choice(["male"] * 3 + ["female"])
    data = minimal_case(first_name=f"اسم{rng.randrange(10**6)}", sex=sex)
    year = rng.choice([2012, 2013, 2013, 2016])
    data["arrests"][0]["date"] = f"{year}-{rng.randint(1, 12):02d}"  # type: ignore[index]
    data["arrests"][0]["governorate"] = rng.choice(GOVS[:2] * 3 + GOVS)  # type: ignore[index]
    data["status"][0]["status"] = rng.choice(STATUSES)  # type: ignore[index]
    data["status"][0]["date"] = data["arrests"][0]["date"]  # type: ignore[index]
    return data


@pytest.fixture
def lawyer_h(app: Flask, users: dict[str, UserFixture]) -> dict[str, str]:
    return bearer(app, users["lawyer"])


@pytest.fixture
def advocate_h(app: Flask, users: dict[str, UserFixture]) -> dict[str, str]:
    return bearer(app, users["advocate"])


def _seed(client: FlaskClient, h: dict[str, str], n: int, seed: int = 1) -> list[dict]:  # type: ignore[type-arg]
    rng = random.Random(seed)
    made = []
    for _ in range(n):
        data = _case(rng)
        resp = client.post("/api/v1/cases", json=data, headers=h)
        assert resp.status_code == 201, resp.get_json()
        made.append({**data, **resp.get_json()})
    return made


def _cut(app: Flask) -> tuple[int, str]:
    from casebook.cli import cli

    result = app.test_cli_runner().invoke(cli, ["release", "create", "--note", "test"])
    return result.exit_code, result.output


def _verify(client: FlaskClient, lawyer_h: dict[str, str], cases: list[dict]) -> None:  # type: ignore[type-arg]
    for c in cases:
        resp = client.post(
            f"/api/v1/cases/{c['id']}/review", json={"verification": "verified"}, headers=lawyer_h
        )
        assert resp.status_code in (200, 201), resp.get_json()


def _get(client: FlaskClient, h: dict[str, str], query: str) -> dict:  # type: ignore[type-arg]
    resp = client.get(f"/api/v1/stats?{query}", headers=h)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def released(app: Flask, client: FlaskClient, lawyer_h: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    cases = _seed(client, lawyer_h, 40)
    _verify(client, lawyer_h, cases[:22])
    code, out = _cut(app)
    assert code == 0, out
    return cases


def test_no_release_means_no_numbers_and_a_release_needs_enough_changes(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    _seed(client, lawyer_h, 24)
    assert client.get("/api/v1/stats?by=sex", headers=advocate_h).status_code == 404
    code, out = _cut(app)
    assert code != 0 and "24 cases were added" in out and "at least 25" in out
    _seed(client, lawyer_h, 1, seed=2)
    code, out = _cut(app)  # enough changes, but 25 cases cannot be protected at k=11
    assert code != 0 and "cannot be published at k=11" in out
    assert client.get("/api/v1/stats?by=sex", headers=advocate_h).status_code == 404
    _seed(client, lawyer_h, 15, seed=3)
    code, out = _cut(app)
    assert code == 0 and "release 1" in out
    doc = _get(client, advocate_h, "by=sex")
    assert doc["release"]["number"] == 1 and "data as of" in doc["method"]
    assert doc["total"] == 40


def test_nothing_changes_between_releases_differencing_one_case_learns_nothing(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    queries = [f"by={a},{b}" for a, b in itertools.combinations(BASE, 2)] + [
        f"by={d}" for d in ("arrest_month", "arrest_year", "governorate", "sex", "status")
    ]
    before = [_get(client, advocate_h, q) for q in queries]
    lone = minimal_case(first_name="وحيد", sex="female")
    lone["arrests"][0]["governorate"] = "quneitra"  # type: ignore[index]
    assert client.post("/api/v1/cases", json=lone, headers=lawyer_h).status_code == 201
    after = [_get(client, advocate_h, q) for q in queries]
    assert before == after  # every table, cell for cell: the new case is invisible
    code, out = _cut(app)  # one change is not enough for a new release
    assert code != 0 and "1 cases were added" in out


def test_same_numbers_everywhere_and_no_noisy_version(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    first = _get(client, advocate_h, "by=governorate,status")
    again = [_get(client, advocate_h, "by=governorate,status") for _ in range(3)]
    assert all(a == first for a in again)
    csv_text = client.get("/stats/export.csv?by=governorate,status", headers=advocate_h).get_data(
        as_text=True
    )
    for cell in first["cells"]:
        if cell["count"] is not None:
            assert f"{cell['governorate']},{cell['status']},{cell['count']},false" in csv_text
    # the margins the JSON and the page show are in the CSV too, marked apart from the cells
    # (an outside review summed a CSV's count column and counted its total as data)
    lines = csv_text.lstrip("\ufeff").splitlines()
    rows = list(csv.DictReader(line for line in lines if line and line[0] != "#"))
    margins = {(r["governorate"], r["status"]): r["count"] for r in rows if r["kind"] == "margin"}
    for dim, other in (("governorate", "status"), ("status", "governorate")):
        for m in first["margins"][dim]:
            codes = {dim: m["value"], other: "total"}
            got = margins[(codes["governorate"], codes["status"])]
            assert got == ("" if m["count"] is None else str(m["count"]))
    cells = [r for r in rows if r["kind"] == "cell"]
    assert len(cells) == len(first["cells"])
    [total] = [r for r in rows if r["kind"] == "total"]
    assert total["governorate"] == total["status"] == "total"
    assert total["count"] == str(first["total"])
    refused = client.get("/api/v1/stats?by=sex&epsilon=4", headers=advocate_h)
    assert refused.status_code == 422 and "epsilon" in refused.get_json()["error"]["fields"]


def test_k_below_the_release_is_refused_and_a_larger_k_only_hides_more(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    low = client.get("/api/v1/stats?by=sex&k=5", headers=advocate_h)
    assert low.status_code == 422 and "k" in low.get_json()["error"]["fields"]
    base = _get(client, advocate_h, "by=governorate,sex")
    for k in (12, 15, 20):
        resp = client.get(f"/api/v1/stats?by=governorate,sex&k={k}", headers=advocate_h)
        if resp.status_code == 422:  # 40 cases with their total shown: not protectable at k
            assert "cannot be protected" in resp.get_json()["error"]["fields"]["k"][0]
            continue
        wider = resp.get_json()
        for a, b in zip(base["cells"], wider["cells"], strict=True):
            assert b["count"] is None or b["count"] == a["count"]  # never shows what k hid
            assert b["count"] is None or b["count"] == 0 or b["count"] >= k


def test_rejected_cases_are_never_counted(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    cases = _seed(client, lawyer_h, 45)
    for c in cases[:5]:
        client.post(
            f"/api/v1/cases/{c['id']}/review", json={"verification": "rejected"}, headers=lawyer_h
        )
    assert _cut(app)[0] == 0
    doc = _get(client, advocate_h, "by=sex")
    assert doc["total"] == 40 and "rejected" in doc["method"]


# -- the attacker ---------------------------------------------------------------------------


class Attacker:
    """An LP attacker written independently of casebook: variables are the finest counts it
    reasons about; every published number is an equation over them; hidden published cells
    are at least 1 (zeros are published); everything is at least 0."""

    def __init__(self, names: list[str]) -> None:
        self.index = {n: i for i, n in enumerate(names)}
        self.rows: list[np.ndarray] = []
        self.rhs: list[float] = []
        self.at_most: list[np.ndarray] = []  # row . x <= bound
        self.bounds: list[float] = []

    def vector(self, parts: list[str]) -> np.ndarray:
        row = np.zeros(len(self.index))
        for p in parts:
            row[self.index[p]] += 1
        return row

    def learn(self, parts: list[str], count: int | None, at_least_one: bool = True) -> None:
        """A published cell; a hidden one is at least 1 — except in a table whose total is
        rounded, where zeros are hidden too."""
        if count is None and not at_least_one:
            return
        if count is None:
            self.at_most.append(-self.vector(parts))
            self.bounds.append(-1)
        else:
            self.rows.append(self.vector(parts))
            self.rhs.append(count)

    def learn_total(self, parts: list[str], doc: dict) -> None:  # type: ignore[type-arg]
        """A table's total: exact, hidden, or hidden and published as a rounded range."""
        self.learn(parts, doc["total"])
        if doc["total"] is None and doc.get("total_range"):
            low, high = doc["total_range"]
            self.at_most += [-self.vector(parts), self.vector(parts)]
            self.bounds += [-low, high]

    def interval(self, parts: list[str]) -> tuple[float, float]:
        c = self.vector(parts)
        kw = {
            "A_eq": np.array(self.rows),
            "b_eq": np.array(self.rhs),
            "A_ub": np.array(self.at_most) if self.at_most else None,
            "b_ub": np.array(self.bounds) if self.at_most else None,
            "bounds": [(0, None)] * len(self.index),
            "method": "highs",
        }
        lo = linprog(c, **kw)
        hi = linprog(-c, **kw)
        assert lo.status == 0, "the published tables must be consistent"
        return float(lo.fun), (-float(hi.fun) if hi.status == 0 else math.inf)


def _truth(cases: list[dict], key: str, verified: int = 22) -> dict[str, int]:  # type: ignore[type-arg]
    """Ground truth the attack is scored against (the fixture verifies the first 22 cases)."""
    out: dict[str, int] = {}
    for i, c in enumerate(cases):
        flag = "v" if i < verified else "u"
        arrest = c["arrests"][0]
        value = {
            "month": arrest["date"][:7],
            "governorate": arrest["governorate"],
            "sex": c["person"]["sex"],
            "status": c["status"][-1]["status"],
        }[key]
        out[f"{flag}:{value}"] = out.get(f"{flag}:{value}", 0) + 1
    return out


def test_lp_attacker_on_years_months_and_verified_within_all(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    """Month and year tables of all and of verified cases, with their totals: no month or
    year of 1..k-1 (all, verified, or unverified = all - verified) is narrowed below k. The
    verified total (22 cases) is published, exactly or rounded: published exactly, it narrowed
    a verified month to [1, 6]."""
    assert _attack_months(client, advocate_h, released, 22) > 10


def _attack_months(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
    verified: int,
) -> int:
    """The months attacker; returns how many small numbers it tried to narrow."""
    k = 11
    docs = {
        (dim, flags): _get(client, advocate_h, f"by={dim}{'&verified=1' if flags == 'v' else ''}")
        for dim in ("arrest_month", "arrest_year")
        for flags in ("vu", "v")
    }
    months = [c["arrest_month"] for c in docs[("arrest_month", "vu")]["cells"]]

    def year_of(m: str) -> str:
        return m if m in ("before_2011", "unknown") else m[:4]

    attacker = Attacker([f"{f}:{m}" for f in "vu" for m in months])
    targets: dict[str, list[str]] = {}
    for (dim, flags), doc in docs.items():
        for cell in doc["cells"]:
            value = cell[dim]
            members = [m for m in months if (m if dim == "arrest_month" else year_of(m)) == value]
            attacker.learn(
                [f"{f}:{m}" for f in flags for m in members],
                cell["count"],
                at_least_one=doc["total"] is not None,
            )
            for f in ("v", "u", "vu"):
                targets[f"{f}|{dim}|{value}"] = [f"{x}:{m}" for x in f for m in members]
        attacker.learn_total([f"{f}:{m}" for f in flags for m in months], doc)
        # the totals are always published (rounded when the exact number is not safe)
        assert doc["total"] is not None or doc["total_range"] is not None
    truth = _truth(released, "month", verified)
    checked = 0
    for name, parts in targets.items():
        true = sum(truth.get(p, 0) for p in parts)
        if 0 < true < k:
            lo, hi = attacker.interval(parts)
            assert hi - lo >= k - 1e-6, (name, true, lo, hi)
            checked += 1
    return checked


def test_a_small_verified_set_still_publishes_its_total_rounded(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    advocate_h: dict[str, str],
    users: dict[str, UserFixture],
) -> None:
    """40 cases, 4 of them verified: the verified total cannot be published exactly (it is
    below k), so it is published as a rounded range of at least k numbers, the same in every
    verified table, on the page (English and Arabic), in the CSV and in the API; the months
    attacker given that range narrows no small number below k."""
    from tests.conftest import login

    cases = _seed(client, lawyer_h, 40, seed=4)
    _verify(client, lawyer_h, cases[:4])
    code, out = _cut(app)
    assert code == 0, out
    docs = [_get(client, advocate_h, f"by={by}&verified=1") for by in ("sex", "governorate,sex")]
    for doc in docs:
        assert doc["total"] is None and doc["total_range"] == docs[0]["total_range"]
    low, high = docs[0]["total_range"]
    assert low <= 4 <= high and high - low + 1 >= 11 and low % (high - low + 1) == 0
    assert _get(client, advocate_h, "by=sex")["total"] == 40  # the grand total: exact
    assert _attack_months(client, advocate_h, cases, 4) > 3

    csv_text = client.get("/stats/export.csv?by=sex&verified=1", headers=advocate_h).get_data(
        as_text=True
    )
    assert f"total,{low}-{high},rounded" in csv_text and "the total is rounded" in csv_text.lower()
    assert "zeros are hidden too" in csv_text
    web = app.test_client()
    login(web, users["advocate"])
    english = web.get("/stats/?by=sex&verified=1").get_data(as_text=True)
    assert f"{low}–{high}</bdi>*" in english and "the total is rounded" in english
    assert "zeros are hidden too" in english  # a hidden cell there may be 0
    with web.session_transaction() as sess:
        sess["lang"] = "ar"
    arabic = web.get("/stats/brief?by=sex&verified=1").get_data(as_text=True)
    assert f"{low}–{high}</bdi>*" in arabic and "المجموع مقرَّب" in arabic
    assert "تُخفى الأصفار" in arabic


def test_one_verified_case_leaves_no_profile_in_the_verified_tables(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    """With one verified case, each verified table used to show one hidden cell among
    published zeros: his year, governorate, sex, age band, perpetrator, status and place, read
    one table at a time. While the verified total is rounded, no verified cell is published,
    zeros included; the "all" tables still are."""
    cases = _seed(client, lawyer_h, 40, seed=5)
    _verify(client, lawyer_h, cases[:1])
    code, out = _cut(app)
    assert code == 0, out
    for by in ("arrest_year", "governorate", "sex", "age_band", "perpetrator", "status"):
        doc = _get(client, advocate_h, f"by={by}&verified=1")
        assert doc["total"] is None and doc["total_range"], by
        published = [c for c in doc["cells"] if c["count"] is not None]
        assert published == [], (by, published)
        assert _get(client, advocate_h, f"by={by}")["total"] == 40


@pytest.mark.parametrize(
    ("a", "b"), list(itertools.combinations(["governorate", "sex", "status"], 2))
)
def test_lp_attacker_on_two_way_tables_margins_and_both_scopes(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],
    a: str,
    b: str,  # type: ignore[type-arg]
) -> None:
    """A two-way table of all and of verified cases, its margins, the one-way tables of both
    dimensions and the grouped ones: no cell of 1..k-1 (all, verified or unverified) is
    narrowed below k."""
    k = 11
    suffix = {"vu": "", "v": "&verified=1"}
    two = {f: _get(client, advocate_h, f"by={a},{b}{suffix[f]}") for f in suffix}
    ones = {
        (d, f, g): _get(client, advocate_h, f"by={d}{suffix[f]}{'&grouped=1' if g else ''}")
        for d in (a, b)
        for f in suffix
        for g in (False, True)
    }
    fine = {d: [c[d] for c in ones[(d, "vu", False)]["cells"]] for d in (a, b)}
    groups = {d: two["vu"].get("groups", {}).get(d, {}) for d in (a, b)}

    def members(d: str, value: str) -> list[str]:
        return groups[d].get(value, [value])

    names = [f"{f}:{x}:{y}" for f in "vu" for x in fine[a] for y in fine[b]]
    attacker = Attacker(names)

    def parts(flags: str, xs: list[str], ys: list[str]) -> list[str]:
        return [f"{f}:{x}:{y}" for f in flags for x in xs for y in ys]

    for flags, doc in two.items():
        exact = doc["total"] is not None  # a rounded total: zeros are hidden too
        for cell in doc["cells"]:
            attacker.learn(
                parts(flags, members(a, cell[a]), members(b, cell[b])), cell["count"], exact
            )
        for m in doc["margins"][a]:
            attacker.learn(parts(flags, members(a, m["value"]), fine[b]), m["count"], exact)
        for m in doc["margins"][b]:
            attacker.learn(parts(flags, fine[a], members(b, m["value"])), m["count"], exact)
        attacker.learn_total(parts(flags, fine[a], fine[b]), doc)
    for (d, flags, grouped), doc in ones.items():
        for cell in doc["cells"]:
            xs = (groups[d].get(cell[d], [cell[d]])) if grouped else [cell[d]]
            p = parts(flags, xs, fine[b]) if d == a else parts(flags, fine[a], xs)
            attacker.learn(p, cell["count"], doc["total"] is not None)
    truth_a, truth_b = _truth(released, a), _truth(released, b)
    del truth_a, truth_b
    joint: dict[str, int] = {}
    for i, c in enumerate(released):
        flag = "v" if i < 22 else "u"
        va = {
            "governorate": c["arrests"][0]["governorate"],
            "sex": c["person"]["sex"],
            "status": c["status"][-1]["status"],
        }
        joint[f"{flag}:{va[a]}:{va[b]}"] = joint.get(f"{flag}:{va[a]}:{va[b]}", 0) + 1
    checked = 0
    for flags in ("v", "u", "vu"):
        for x in fine[a]:
            for y in fine[b]:
                for xs, ys in (([x], [y]), ([x], fine[b]), (fine[a], [y])):
                    p = parts(flags, xs, ys)
                    true = sum(joint.get(n, 0) for n in p)
                    if 0 < true < k:
                        lo, hi = attacker.interval(p)
                        assert hi - lo >= k - 1e-6, (flags, xs, ys, true, lo, hi)
                        checked += 1
    assert checked > 0


def test_eight_simultaneous_cuts_make_one_release(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], database_url: str
) -> None:
    """Two lawyers pressing the button at once must not make two releases one change apart
    (the second would be a difference attack): the release lock serialises them."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers itself; the race is PostgreSQL's")
    from concurrent.futures import ThreadPoolExecutor

    from casebook.audit.services import Actor
    from casebook.stats.services import ReleaseRefusedError, release_create

    _seed(client, lawyer_h, 40)
    maker = app.extensions["casebook.db"].sessionmaker
    vault = app.extensions["casebook.vault"]
    barrier = __import__("threading").Barrier(8)

    def cut(i: int) -> str:
        with maker() as s:
            barrier.wait()
            try:
                with s.begin():
                    release_create(s, vault, Actor(label=f"t{i}"), k=11, min_changes=25)
            except ReleaseRefusedError:
                return "refused"
            return "made"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(cut, range(8)))
    assert sorted(results) == ["made"] + ["refused"] * 7


def test_admin_cuts_a_release_on_the_web_and_the_advocate_page_shows_chart_and_choices(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], users: dict[str, UserFixture]
) -> None:
    from tests.conftest import csrf_from, finish_background, login

    _seed(client, lawyer_h, 40)
    admin = app.test_client()
    login(admin, users["admin"])
    page = admin.get("/stats/releases")
    assert page.status_code == 200
    made = admin.post(
        "/stats/releases",
        data={"note": "monthly", "csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert made.status_code == 303
    finish_background(app)
    listed = admin.get("/stats/releases").get_data(as_text=True)
    assert "monthly" in listed and "Release 1 is published." in listed
    admin.post("/stats/releases", data={"csrf_token": csrf_from(listed)})
    finish_background(app)
    again = admin.get("/stats/releases").get_data(as_text=True)
    assert "was refused; nothing was published" in again
    assert "0 cases were added" in again  # refused, with the reason
    advocate = app.test_client()
    login(advocate, users["advocate"])
    assert advocate.get("/stats/releases").status_code == 403
    html = advocate.get("/stats/?by=governorate&by2=status").get_data(as_text=True)
    assert "<svg" in html and "Data as of" in html
    assert '<option value="status" selected>' in html  # the second dimension is kept
    assert "<script" not in html.split("<body", 1)[1] and "style=" not in html


def test_lp_attacker_on_a_three_way_cell_from_the_two_way_tables(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    """A never-published three-way cell (governorate x sex x status, all cases) attacked with
    every two-way table of the three, both scopes, margins and one-way tables."""
    k = 11
    dims = ["governorate", "sex", "status"]
    suffix = {"vu": "", "v": "&verified=1"}
    ones = {(d, f): _get(client, advocate_h, f"by={d}{suffix[f]}") for d in dims for f in suffix}
    fine = {d: [c[d] for c in ones[(d, "vu")]["cells"]] for d in dims}
    names = [
        f"{f}:{x}:{y}:{z}"
        for f in "vu"
        for x in fine["governorate"]
        for y in fine["sex"]
        for z in fine["status"]
    ]
    attacker = Attacker(names)

    def parts(flags: str, sel: dict[str, list[str]]) -> list[str]:
        pick = {d: sel.get(d, fine[d]) for d in dims}
        return [
            f"{f}:{x}:{y}:{z}"
            for f in flags
            for x in pick["governorate"]
            for y in pick["sex"]
            for z in pick["status"]
        ]

    for (d, flags), doc in ones.items():
        for cell in doc["cells"]:
            attacker.learn(parts(flags, {d: [cell[d]]}), cell["count"], doc["total"] is not None)
        attacker.learn_total(parts(flags, {}), doc)
    for a, b in itertools.combinations(dims, 2):
        for flags, sfx in suffix.items():
            doc = _get(client, advocate_h, f"by={a},{b}{sfx}")
            groups = doc.get("groups", {})
            for cell in doc["cells"]:
                sel = {
                    a: groups.get(a, {}).get(cell[a], [cell[a]]),
                    b: groups.get(b, {}).get(cell[b], [cell[b]]),
                }
                attacker.learn(parts(flags, sel), cell["count"], doc["total"] is not None)
    truth: dict[str, int] = {}
    for c in released:
        key = f"{c['arrests'][0]['governorate']}:{c['person']['sex']}:{c['status'][-1]['status']}"
        truth[key] = truth.get(key, 0) + 1
    checked = 0
    for key, true in truth.items():
        if 0 < true < k:
            x, y, z = key.split(":")
            lo, hi = attacker.interval(parts("vu", {"governorate": [x], "sex": [y], "status": [z]}))
            assert hi - lo >= k - 1e-6, (key, true, lo, hi)
            checked += 1
    assert checked > 3


@pytest.mark.parametrize("role", ["documenter", "admin"])
def test_only_advocates_and_lawyers_read_statistics(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture], role: str
) -> None:
    assert client.get("/api/v1/stats?by=sex", headers=bearer(app, users[role])).status_code == 403


def test_duplicates_erasure_and_revoked_consent_leave_the_next_release(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    cases = _seed(client, lawyer_h, 40)
    assert _cut(app)[0] == 0
    assert _get(client, advocate_h, "by=sex")["total"] == 40
    client.post(
        f"/api/v1/cases/{cases[0]['id']}/review",
        json={"verification": "duplicate", "duplicate_of": cases[1]["reference"]},
        headers=lawyer_h,
    )
    client.post(
        f"/api/v1/cases/{cases[2]['id']}/erase",
        json={"confirm": cases[2]["reference"]},
        headers=fresh_code(app, lawyer_h),
    )
    client.post(
        f"/api/v1/cases/{cases[3]['id']}/consent",
        json={"scope": "statistics", "granted": False, "date": "2025-01-01"},
        headers=lawyer_h,
    )
    assert _get(client, advocate_h, "by=sex")["total"] == 40  # release 1 is frozen
    _seed(client, lawyer_h, 22, seed=9)
    code, out = _cut(app)
    assert code == 0, out  # 3 removed + 22 added = 25 changes
    doc = _get(client, advocate_h, "by=sex")
    assert doc["release"]["number"] == 2 and doc["total"] == 40 - 3 + 22
    assert _get(client, advocate_h, "by=sex&release=1")["total"] == 40


def test_cli_table_of_a_release(app: Flask, released: list[dict]) -> None:  # type: ignore[type-arg]
    from casebook.cli import cli

    runner = app.test_cli_runner()
    out = runner.invoke(cli, ["stats", "--by", "sex", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert '"release"' in out.output and '"total": 40' in out.output
    for by in ("sex", "facility", "governorate,status"):  # the CSV too, with its labels
        table = runner.invoke(cli, ["stats", "--by", by, "--format", "csv"])
        assert table.exit_code == 0, table.output
        assert table.output.count("\n") > 3 and "# " in table.output
    assert "Male" in runner.invoke(cli, ["stats", "--by", "sex"]).output
    listed = runner.invoke(cli, ["release", "list"])
    assert listed.exit_code == 0 and listed.output.startswith("1\t")
    refused = runner.invoke(cli, ["stats", "--by", "sex", "--epsilon", "1"])
    assert refused.exit_code != 0 and "epsilon" in refused.output


def test_a_release_number_too_long_for_the_database_is_a_bad_request(
    client: FlaskClient, advocate_h: dict[str, str]
) -> None:
    resp = client.get("/api/v1/stats?by=sex&release=99999999999999999999", headers=advocate_h)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"]["release"]


def test_a_release_that_does_not_exist_is_named_as_missing(
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    """Releases exist: asking for one that does not says so, not that none was published."""
    resp = client.get("/api/v1/stats?by=sex&release=99", headers=advocate_h)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["message"] == "There is no statistics release 99."
    ar = client.get(
        "/api/v1/stats?by=sex&release=99", headers={**advocate_h, "Accept-Language": "ar"}
    )
    assert "لا يوجد إصدار إحصائي رقمه 99" in ar.get_json()["error"]["message"]


def _meaning_of_cells(docs: list[dict]) -> dict[tuple, tuple]:  # type: ignore[type-arg]
    """Each cell key of _attack_release with what it counts (scope and category sets), so
    that a number of one release can be found in another whose groups differ."""
    out: dict[tuple, tuple] = {}  # type: ignore[type-arg]
    for doc in docs:
        dims, scope = doc["dimensions"], "verified" if doc["verified_only"] else "all"
        groups = doc.get("groups", {})

        def mem(d: str, code: str, groups: dict = groups) -> tuple[str, ...]:  # type: ignore[type-arg]
            return tuple(sorted(groups.get(d, {}).get(code, [code])))

        out[(scope, "total")] = (scope, "total")
        if len(dims) == 1:
            d = dims[0]
            for c in doc["cells"]:
                ms = mem(d, c[d]) if doc["grouped"] else (c[d],)
                out[(scope, d, ms)] = (scope, d, ms)
            continue
        a, b = dims
        for c in doc["cells"]:
            out[(scope, a, c[a], b, c[b])] = (scope, a, mem(a, c[a]), b, mem(b, c[b]))
        for d in (a, b):
            for m in doc["margins"][d]:
                ms = mem(d, m["value"])
                out[(scope, d, ms)] = (scope, d, ms)
    return out


def _shown_numbers(docs: list[dict]) -> dict[tuple, int]:  # type: ignore[type-arg]
    """Every number a release shows, by what it counts (see _meaning_of_cells)."""
    meaning = _meaning_of_cells(docs)
    out: dict[tuple, int] = {}  # type: ignore[type-arg]
    for doc in docs:
        dims, scope = doc["dimensions"], "verified" if doc["verified_only"] else "all"
        if doc["total"] is not None:
            out[(scope, "total")] = doc["total"]
        groups = doc.get("groups", {})
        for c in doc["cells"]:
            if c["count"] is None:
                continue
            if len(dims) == 1:
                d = dims[0]
                ms = (
                    tuple(sorted(groups.get(d, {}).get(c[d], [c[d]])))
                    if doc["grouped"]
                    else (c[d],)
                )
                out[(scope, d, ms)] = c["count"]
            else:
                a, b = dims
                out[meaning[(scope, a, c[a], b, c[b])]] = c["count"]
        for d, ms_list in (doc.get("margins") or {}).items():
            for m in ms_list:
                if m["count"] is not None:
                    ms = tuple(sorted(groups.get(d, {}).get(m["value"], [m["value"]])))
                    out[(scope, d, ms)] = m["count"]
    return out


def _release_lp(
    docs: list[dict],  # type: ignore[type-arg]
    var: Callable[[tuple], int],  # type: ignore[type-arg]
) -> tuple[
    list[tuple[dict[int, int], int]],
    dict[tuple, tuple[dict[int, int], int | None]],  # type: ignore[type-arg]
    dict[str, tuple[dict[int, int], list[int]]],
]:
    """The attacker's linear system of one release's tables: linking equations, every cell
    (by key: its variables and the number shown, None where hidden), rounded totals."""

    flags = {"all": "vu", "verified": "v"}
    fine = {
        d["dimensions"][0]: [c[d["dimensions"][0]] for c in d["cells"]]
        for d in docs
        if len(d["dimensions"]) == 1 and not d["grouped"]
    }
    eqs: list[tuple[dict[int, int], int]] = []
    for f in "vu":
        for d, cats in fine.items():
            eqs.append(({**{var(("1", f, d, c)): 1 for c in cats}, var(("T", f)): -1}, 0))
        for y in fine["arrest_year"]:
            ms = [m for m in fine["arrest_month"] if (m[:4] == y if y.isdigit() else m == y)]
            parts = {var(("1", f, "arrest_month", m)): 1 for m in ms}
            eqs.append(({**parts, var(("1", f, "arrest_year", y)): -1}, 0))
    cells: dict[tuple, tuple[dict[int, int], int | None]] = {}  # type: ignore[type-arg]
    ranges: dict[str, tuple[dict[int, int], list[int]]] = {}  # a total published rounded

    def add(key: tuple, coefs: dict[int, int], value: int | None) -> None:  # type: ignore[type-arg]
        if key not in cells or cells[key][1] is None:
            cells[key] = (coefs, value)

    for doc in docs:
        dims, scope = doc["dimensions"], "verified" if doc["verified_only"] else "all"
        groups = doc.get("groups", {})

        def mem(d: str, code: str, groups: dict = groups) -> list[str]:  # type: ignore[type-arg]
            return groups.get(d, {}).get(code, [code])  # type: ignore[no-any-return]

        add((scope, "total"), {var(("T", f)): 1 for f in flags[scope]}, doc["total"])
        if doc["total"] is None and doc.get("total_range"):
            ranges[scope] = ({var(("T", f)): 1 for f in flags[scope]}, doc["total_range"])
        if len(dims) == 1:
            d = dims[0]
            for c in doc["cells"]:
                ms = mem(d, c[d]) if doc["grouped"] else [c[d]]
                one = {var(("1", f, d, m)): 1 for f in flags[scope] for m in ms}
                add((scope, d, tuple(sorted(ms))), one, c["count"])
            continue
        a, b = dims
        ga = [m["value"] for m in doc["margins"][a]]
        gb = [m["value"] for m in doc["margins"][b]]
        for f in "vu":
            for ca in ga:
                row = {var(("2", f, a, ca, b, cb)): 1 for cb in gb}
                eqs.append(({**row, **{var(("1", f, a, m)): -1 for m in mem(a, ca)}}, 0))
            for cb in gb:
                col = {var(("2", f, a, ca, b, cb)): 1 for ca in ga}
                eqs.append(({**col, **{var(("1", f, b, m)): -1 for m in mem(b, cb)}}, 0))
        for c in doc["cells"]:
            two = {var(("2", f, a, c[a], b, c[b])): 1 for f in flags[scope]}
            add((scope, a, c[a], b, c[b]), two, c["count"])
        for d in (a, b):
            for m in doc["margins"][d]:
                ms = mem(d, m["value"])
                one = {var(("1", f, d, x)): 1 for f in flags[scope] for x in ms}
                add((scope, d, tuple(sorted(ms))), one, m["count"])
    return eqs, cells, ranges


def _attack_release(
    docs: list[dict],  # type: ignore[type-arg]
    known: dict[tuple, int] | None = None,  # type: ignore[type-arg]
    want: Callable[[tuple], bool] | None = None,  # type: ignore[type-arg]
) -> dict[tuple, tuple[float, float]]:  # type: ignore[type-arg]
    """An attacker over every table it was given (all and verified; fine, grouped, two-way):
    each hidden cell's, and each derived unverified cell's, LP interval, by cell key.
    `known`: numbers it holds from elsewhere (another release), by what they count; `want`:
    the cells to solve for (all by default)."""
    index: dict[tuple, int] = {}  # type: ignore[type-arg]

    def var(name: tuple) -> int:  # type: ignore[type-arg]
        return index.setdefault(name, len(index))

    flags = {"all": "vu", "verified": "v"}
    eqs, cells, ranges = _release_lp(docs, var)
    by_meaning: dict[tuple, list[tuple]] = {}  # type: ignore[type-arg]
    for c, m in _meaning_of_cells(docs).items():
        by_meaning.setdefault(m, []).append(c)
    for key, value in (known or {}).items():
        ours = by_meaning.get(key, [])
        if ours:
            for c in ours:
                if cells[c][1] is None:
                    cells[c] = (cells[c][0], value)
        elif len(key) == 3 and key[1] != "total":  # a one-way number over other categories
            scope, d, ms = key
            if all(("1", "v", d, m) in index for m in ms):
                cells[key] = ({var(("1", f, d, m)): 1 for f in flags[scope] for m in ms}, value)
    published = [(co, v) for co, v in cells.values() if v is not None]
    hidden = [(key, co) for key, (co, v) in cells.items() if v is None]
    # a scope whose total is rounded hides its zeros too
    at_least = [(co, 0 if key[0] in ranges else 1) for key, co in hidden]
    targets = list(hidden)
    for key, (co, v) in cells.items():  # unverified = all - verified, wherever either is hidden
        other = cells.get(("verified", *key[1:])) if key[0] == "all" else None
        if other is not None and (v is None or other[1] is None):
            targets.append((("unverified", *key[1:]), {j: 1 for j in co if j not in other[0]}))
    return _intervals(
        len(index),
        [*eqs, *published],
        at_least,
        [(co, low, high) for co, (low, high) in ranges.values()],
        [(key, co) for key, co in targets if want is None or want(key)],
    )


def _truth_of(exact: dict) -> Callable[[tuple], int]:  # type: ignore[type-arg]
    """The true count of an attacked cell (a key of _attack_release), from a release's exact
    counts (the operator's truth)."""

    def truth(key: tuple) -> int:  # type: ignore[type-arg]
        flags = {"all": "vu", "verified": "v", "unverified": "u"}[key[0]]
        if key[1] == "total":
            return sum(exact["total"].get(f, 0) for f in flags)
        if len(key) == 3:
            return sum(exact["one_way"].get(f"{f}|{key[1]}|{m}", 0) for f in flags for m in key[2])
        _, a, ca, b, cb = key
        return sum(exact["two_way"].get(f"{f}|{a}|{ca}|{b}|{cb}", 0) for f in flags)

    return truth


def _intervals(
    n: int,
    equal: list[tuple[dict[int, int], int]],
    at_least: list[tuple[dict[int, int], int]],
    between: list[tuple[dict[int, int], float, float]],
    targets: list[tuple[tuple, dict[int, int]]],  # type: ignore[type-arg]
) -> dict[tuple, tuple[float, float]]:  # type: ignore[type-arg]
    """Each target sum's lowest and highest value over non-negative variables under the
    equations and bounds (HiGHS). One model, solved again for each objective: the attacks
    ask thousands of sums of one system, and a cold solve of each took most of the
    statistics tests' time."""
    inf = highspy.kHighsInf
    rows = [
        *((co, rhs, rhs) for co, rhs in equal),
        *((co, low, inf) for co, low in at_least),  # sum of c * x >= low
        *((dict.fromkeys(co, 1), low, high) for co, low, high in between),  # low <= sum <= high
    ]
    solver = _Highs()
    solver.setOptionValue("output_flag", False)
    # From the last basis with primal simplex: only the objective changes between runs, so
    # the basis stays feasible (dual simplex took 40 times the iterations here).
    solver.setOptionValue("presolve", "off")
    solver.setOptionValue("simplex_strategy", 4)
    solver.addVars(n, np.zeros(n), np.full(n, inf))
    if rows:
        starts = np.cumsum([0, *(len(co) for co, _, _ in rows[:-1])]).astype(np.int32)
        index = np.array([j for co, _, _ in rows for j in co], dtype=np.int32)
        value = np.array([float(c) for co, _, _ in rows for c in co.values()])
        lower = np.array([float(low) for _, low, _ in rows])
        upper = np.array([float(high) for _, _, high in rows])
        solver.addRows(len(rows), lower, upper, len(index), starts, index, value)
    out = {}
    for key, co in targets:
        cols = np.array(sorted(co), dtype=np.int32)
        solver.changeColsCost(len(cols), cols, np.ones(len(cols)))
        solver.changeObjectiveSense(highspy.ObjSense.kMinimize)
        solver.run()
        assert solver.getModelStatus() == highspy.HighsModelStatus.kOptimal, (
            "the published tables must be consistent"
        )
        lo = solver.getInfo().objective_function_value
        solver.changeObjectiveSense(highspy.ObjSense.kMaximize)
        solver.run()
        bounded = solver.getModelStatus() == highspy.HighsModelStatus.kOptimal
        out[key] = (
            float(lo),
            float(solver.getInfo().objective_function_value) if bounded else math.inf,
        )
        solver.changeColsCost(len(cols), cols, np.zeros(len(cols)))
    return out


def test_a_larger_k_is_protected_jointly_across_every_table_of_the_release(
    app: Flask,
    client: FlaskClient,
    advocate_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    """At a larger k the attacker takes every table of the release at that k, both scopes: no
    cell of 1..k-1 (all, verified, or unverified) is narrowed below k. A k no pattern can
    protect (the total is always shown) is refused whole, never served half-protected."""
    from casebook.stats.services import _open, latest_release
    from casebook.stats.tables import all_tables

    with app.extensions["casebook.db"].sessionmaker() as s:  # the operator's truth
        exact = _open(app.extensions["casebook.vault"], latest_release(s), "exact_enc")["counts"]

    truth = _truth_of(exact)
    attacked = 0
    for k in (14, 20):
        refused = client.get(f"/api/v1/stats?by=perpetrator,facility&k={k}", headers=advocate_h)
        if refused.status_code == 422:
            assert "cannot be protected" in refused.get_json()["error"]["fields"]["k"][0]
            assert client.get(f"/api/v1/stats?by=sex&k={k}", headers=advocate_h).status_code == 422
            continue
        docs = []
        for table in all_tables():
            by = table[0] if table[-1] == "grouped" else ",".join(table)
            extra = "&grouped=1" if table[-1] == "grouped" else ""
            for verified in ("", "&verified=1"):
                docs.append(_get(client, advocate_h, f"by={by}{extra}{verified}&k={k}"))
        checked = 0
        for key, (lo, hi) in _attack_release(docs).items():
            if 0 < truth(key) < k:
                assert hi - lo >= k - 1e-6, (k, key, truth(key), lo, hi)
                checked += 1
        assert checked > 20
        attacked += 1
    assert attacked


def test_a_case_written_while_a_release_is_cut_is_saved(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The long part of a cut (counting and protecting) holds no write lock: a documenter
    saving a case meanwhile gets 201, not an error after the database's busy timeout. The cut
    is held at its protection step (a pause point, not a sleep) while the case is written."""
    import threading

    from casebook.stats import services

    _seed(client, lawyer_h, 40)
    entered, go = threading.Event(), threading.Event()
    protect = services.protect_release

    def paused(*args: object, **kwargs: object) -> set:  # type: ignore[type-arg]
        entered.set()
        assert go.wait(60)
        return protect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "protect_release", paused)
    result: list[tuple[int, str]] = []
    cutter = threading.Thread(target=lambda: result.append(_cut(app)))
    cutter.start()
    try:
        assert entered.wait(60)
        resp = client.post("/api/v1/cases", json=_case(random.Random(7)), headers=lawyer_h)
        assert resp.status_code == 201, resp.status_code
    finally:
        go.set()
        cutter.join(120)
    assert result and result[0][0] == 0, result
    assert "release 1: 40 cases counted" in result[0][1]  # the snapshot it read


def test_padding_the_changes_with_own_cases_does_not_reveal_the_one_other_case(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    advocate_h: dict[str, str],
    users: dict[str, UserFixture],
) -> None:
    """A documenter working with an advocate adds 24 cases of their own (every attribute known)
    so that one real case entered by someone else makes the 25 changes a release needs, then
    subtracts release 1 and their own cases from release 2 to read the real case's categories.
    The cut is refused while the changes the documenter did not make or see are fewer than k;
    once k such changes exist, the residual mixes them and no category holds the case alone."""
    documenter_h = bearer(app, users["documenter"])
    _seed(client, lawyer_h, 40)
    assert _cut(app)[0] == 0
    dims = ("governorate", "sex", "status")
    before = {d: _get(client, advocate_h, f"by={d}") for d in dims}

    def fake() -> dict:  # type: ignore[type-arg]
        data = minimal_case(first_name="مزيف", sex="male")
        data["arrests"][0]["governorate"] = "damascus"  # type: ignore[index]
        data["status"][0]["status"] = "detained"  # type: ignore[index]
        return data

    for _ in range(24):
        assert client.post("/api/v1/cases", json=fake(), headers=documenter_h).status_code == 201
    real = minimal_case(first_name="حقيقي", sex="female")
    real["arrests"][0]["governorate"] = "quneitra"  # type: ignore[index]
    real["status"][0]["status"] = "released"  # type: ignore[index]
    assert client.post("/api/v1/cases", json=real, headers=lawyer_h).status_code == 201

    code, out = _cut(app)
    assert code != 0 and "one account" in out  # 25 changes, but 24 of them the attacker's own
    after = {d: _get(client, advocate_h, f"by={d}") for d in dims}
    assert after == before  # still release 1: nothing to difference

    def residual(doc: dict, old: dict, d: str) -> dict[str, int | None]:  # type: ignore[type-arg]
        mine = {"governorate": "damascus", "sex": "male", "status": "detained"}[d]
        was = {c[d]: c["count"] for c in old["cells"]}
        out: dict[str, int | None] = {}
        for c in doc["cells"]:
            if c["count"] is None or was.get(c[d]) is None:
                out[c[d]] = None
            else:
                out[c[d]] = c["count"] - was[c[d]] - (24 if c[d] == mine else 0)
        return out

    _seed(client, lawyer_h, 11, seed=5)  # k changes the documenter neither made nor saw
    code, out = _cut(app)
    assert code == 0, out
    for d in dims:
        diff = residual(_get(client, advocate_h, f"by={d}"), before[d], d)
        # the attacker's reading: a category whose residual is exactly the one real case
        singled = [cat for cat, r in diff.items() if r == 1]
        others = sum(r for r in diff.values() if r)
        assert not (singled and others == 1), (d, diff)


def test_a_realistic_caseload_keeps_every_one_way_table_and_its_totals() -> None:
    """1,500 demo cases (40% verified): protecting the release hides no one-way table whole,
    fine or coarser, in either scope, and both totals are published; rare categories go into
    coarser groups (a status too rare to protect beside the years is merged) instead."""
    from casebook.cases.demo import synthetic_case
    from casebook.cases.derived import facets
    from casebook.stats.queries import ONE_BASE, tally
    from casebook.stats.tables import ReleaseSystem, protect_release

    rng = random.Random(3)
    rows = []
    for i in range(1500):
        data = synthetic_case(rng)
        rows.append((f"case-{i}", rng.random() < 0.4, facets(data, data["consent"])))
    counts, _ = tally(rows, 2026, 11)
    system = ReleaseSystem(counts)
    hidden = protect_release(system, 11)
    tables = [(d,) for d in ONE_BASE] + [(d, "grouped") for d in BASE]
    for table in tables:
        for scope in ("all", "verified"):
            doc = system.render(table, scope, hidden)
            assert len(set(doc["rows"])) == len(doc["rows"]), (table, doc["rows"])
            assert len(set(doc["cols"])) == len(doc["cols"]), (table, doc["cols"])
            values = [v for row in doc["values"] for v in row]
            assert any(v is not None for v in values), (table, scope)
            assert doc["total"] == {"all": 1500, "verified": counts.total["v"]}[scope]
    for d in BASE:  # the coarser tables: at most one number hidden
        for scope in ("all", "verified"):
            grouped = system.render((d, "grouped"), scope, hidden)["values"]
            assert sum(row[0] is None for row in grouped) <= 1, (d, scope)


@pytest.mark.parametrize("other_count", [0, 3, 40])
def test_the_merged_group_and_the_category_other_are_one_column(other_count: int) -> None:
    """Rare perpetrators merged into "other" beside a category "other" of their own made two
    columns of one name; the protection took them for two cells, so a row's total minus its
    published cells gave the group's hidden cell exactly (an outside attack recovered 13 small
    cells of one release this way). Now the category joins the group: one "other"."""
    rare = {"sdf": 6, "isis": 6, "hts": 6}  # each below k, together enough for a group
    counts = {
        "v": {"regime": 60, "other": other_count // 2, "unknown": 20, **rare},
        "u": {"regime": 90, "other": other_count - other_count // 2, "unknown": 30, **rare},
    }
    categories = ["regime", "sdf", "isis", "hts", "other", "unknown"]
    groups = group("perpetrator", categories, counts, 11)
    codes = [code for code, _ in groups]
    assert len(codes) == len(set(codes)), groups
    members = dict(groups)
    assert {"sdf", "isis", "hts"} <= set(members["other"])
    assert "other" in members["other"]


def test_a_release_after_the_first_needs_at_least_k_changes_whatever_the_setting(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    released: list[dict],  # type: ignore[type-arg]
) -> None:
    """An operator who sets fewer changes per release than k would let two releases bound
    how far any number moved by less than k: the cut asks for k changes anyway, and says so."""
    import dataclasses

    from tests.conftest import login, make_user

    app.config["CASEBOOK"] = dataclasses.replace(app.config["CASEBOOK"], release_min_changes=5)
    _seed(client, lawyer_h, 6, seed=3)
    code, out = _cut(app)
    assert code != 0 and "6 cases were added, changed or removed" in out and "at least 11" in out
    # the releases page says the same before the button, and counts the changes when asked
    web = app.test_client()
    login(web, make_user(app, "lawyer"))
    page = web.get("/stats/releases").get_data(as_text=True)
    assert "at least 11 cases added" in page and "6 cases added" not in page
    counted = web.get("/stats/releases?changes=1").get_data(as_text=True)
    assert "6 cases added, changed or removed since release 1, of the 11 needed" in counted
    assert "A cut now would be refused" in counted
    _seed(client, lawyer_h, 30, seed=4)
    counted = web.get("/stats/releases?changes=1").get_data(as_text=True)
    assert "36 cases added, changed or removed since release 1" in counted
    assert "A cut now has enough changes" in counted
    code, out = _cut(app)
    assert code == 0, out


@pytest.mark.parametrize("verified", [0, 6])
def test_a_few_verified_cases_leave_the_two_way_tables_of_all_cases_readable(
    verified: int,
) -> None:
    """Six verified cases among 308 merged every category of every dimension into one group
    (each group's verified count had to be 0 or at least k), so that every two-way table of
    all cases was only its total: "Sex: Other = male, female, unknown". The groups are made
    for all cases when the verified counts would more than halve them; the release still
    passes its own audit and no table of all cases collapses to one group."""
    from casebook.cases.demo import synthetic_case
    from casebook.cases.derived import facets
    from casebook.stats.queries import tally
    from casebook.stats.tables import ReleaseSystem, protect_release

    rng = random.Random(11)
    rows = []
    for i in range(308):
        data = synthetic_case(rng)
        rows.append((f"case-{i}", i < verified, facets(data, data["consent"])))
    counts, _ = tally(rows, 2026, 11)
    sizes = {d: len(g) for d, g in counts.groups.items()}
    assert all(n >= 2 for n in sizes.values()), sizes
    assert sizes["governorate"] >= 4, sizes
    system = ReleaseSystem(counts)
    hidden = protect_release(system, 11, strict=True)  # refused if its own audit fails
    doc = system.render(("governorate", "sex"), "all", hidden)
    assert len(doc["rows"]) >= 4 and len(doc["cols"]) >= 2
    assert any(v is not None for row in doc["values"] for v in row)
