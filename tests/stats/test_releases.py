"""Statistics releases attacked as a hostile advocate would (API, downloads, CLI), with an
independent linear-programming attacker (SciPy) over everything a release publishes."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from scipy.optimize import linprog

from casebook.stats.queries import BASE
from tests.conftest import UserFixture, bearer, minimal_case

GOVS = ["aleppo", "damascus", "homs", "hama", "idlib", "daraa"]
STATUSES = ["forcibly_disappeared", "detained", "released"]


def _case(rng: random.Random) -> dict:  # type: ignore[type-arg]
    data = minimal_case(first_name=f"اسم{rng.randrange(10**6)}", sex=rng.choice(["male"] * 3 + ["female"]))
    year = rng.choice([2012, 2013, 2013, 2016])
    data["arrests"][0]["date"] = f"{year}-{rng.randint(1, 12):02d}"  # type: ignore[index]
    data["arrests"][0]["governorate"] = rng.choice(GOVS[:2] * 3 + GOVS)  # type: ignore[index]
    data["status"][0]["status"] = rng.choice(STATUSES)  # type: ignore[index]
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
        resp = client.post("/api/v1/cases", json=_case(rng), headers=h)
        assert resp.status_code == 201, resp.get_json()
        made.append(resp.get_json())
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
    code, out = _cut(app)
    assert code == 0 and "release 1" in out
    doc = _get(client, advocate_h, "by=sex")
    assert doc["release"]["number"] == 1 and "data as of" in doc["method"]
    assert doc["total"] == 25


def test_nothing_changes_between_releases_differencing_one_case_learns_nothing(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str],
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
    client: FlaskClient, advocate_h: dict[str, str], released: list[dict]  # type: ignore[type-arg]
) -> None:
    first = _get(client, advocate_h, "by=governorate,status")
    again = [_get(client, advocate_h, "by=governorate,status") for _ in range(3)]
    assert all(a == first for a in again)
    csv_text = client.get(
        "/stats/export.csv?by=governorate,status", headers=advocate_h
    ).get_data(as_text=True)
    for cell in first["cells"]:
        if cell["count"] is not None:
            assert f"{cell['governorate']},{cell['status']},{cell['count']},false" in csv_text
    refused = client.get("/api/v1/stats?by=sex&epsilon=4", headers=advocate_h)
    assert refused.status_code == 422 and "epsilon" in refused.get_json()["error"]["fields"]


def test_k_below_the_release_is_refused_and_a_larger_k_only_hides_more(
    client: FlaskClient, advocate_h: dict[str, str], released: list[dict]  # type: ignore[type-arg]
) -> None:
    low = client.get("/api/v1/stats?by=sex&k=5", headers=advocate_h)
    assert low.status_code == 422 and "k" in low.get_json()["error"]["fields"]
    base = _get(client, advocate_h, "by=governorate,sex")
    for k in (12, 15, 20):
        wider = _get(client, advocate_h, f"by=governorate,sex&k={k}")
        for a, b in zip(base["cells"], wider["cells"], strict=True):
            assert b["count"] is None or b["count"] == a["count"]  # never shows what k hid
            assert b["count"] is None or b["count"] == 0 or b["count"] >= k


def test_rejected_cases_are_never_counted(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    cases = _seed(client, lawyer_h, 30)
    for c in cases[:5]:
        client.post(
            f"/api/v1/cases/{c['id']}/review", json={"verification": "rejected"}, headers=lawyer_h
        )
    assert _cut(app)[0] == 0
    doc = _get(client, advocate_h, "by=sex")
    assert doc["total"] == 25 and "rejected" in doc["method"]


# -- the attacker ---------------------------------------------------------------------------


def _attack(equations: list[tuple[list[str], int]], hidden: set[str], names: list[str],
            k: int) -> dict[str, tuple[float, float]]:
    """Feasible interval of every hidden name given linear equations over the names (each is
    a sum of them), every hidden cell >= 1 (zeros are published) and everything >= 0."""
    index = {n: i for i, n in enumerate(names)}
    a_eq = np.zeros((len(equations), len(names)))
    b_eq = np.zeros(len(equations))
    for r, (parts, value) in enumerate(equations):
        for p in parts:
            a_eq[r, index[p]] += 1
        b_eq[r] = value
    bounds = [(1 if n in hidden else 0, None) for n in names]
    out = {}
    for n in hidden:
        c = np.zeros(len(names))
        c[index[n]] = 1
        lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        out[n] = (lo.fun if lo.status == 0 else 0.0, -hi.fun if hi.status == 0 else math.inf)
    return out


def test_lp_attacker_on_year_month_and_verified_within_all(
    client: FlaskClient, advocate_h: dict[str, str], released: list[dict]  # type: ignore[type-arg]
) -> None:
    """Variables: months (and years) for verified (v) and unverified (u) cases. Published:
    month, year, total tables for all and for verified only. No hidden month or year, of all,
    verified or unverified cases, can be narrowed below k."""
    k = 11
    tables = {
        (dim, scope): _get(client, advocate_h, f"by={dim}{'&verified=1' if scope == 'v' else ''}")
        for dim in ("arrest_month", "arrest_year")
        for scope in ("all", "v")
    }
    months = [c["arrest_month"] for c in tables[("arrest_month", "all")]["cells"]]
    years = [c["arrest_year"] for c in tables[("arrest_year", "all")]["cells"]]

    def year_of(m: str) -> str:
        return m if m in ("before_2011", "unknown") else m[:4]

    names = [f"{f}:{m}" for f in "vu" for m in months]
    equations: list[tuple[list[str], int]] = []
    hidden_all: dict[str, list[str]] = {}
    for (dim, scope), doc in tables.items():
        flags = "v" if scope == "v" else "vu"
        for cell in doc["cells"]:
            value = cell[dim]
            parts = [f"{f}:{m}" for f in flags for m in months
                     if (m if dim == "arrest_month" else year_of(m)) == value]
            if cell["count"] is not None:
                equations.append((parts, cell["count"]))
            else:
                hidden_all[f"{scope}:{dim}:{value}"] = parts
        equations.append(([f"{f}:{m}" for f in flags for m in months], doc["total"]))
    # the attacker's targets are sums of month variables: add them as named variables
    targets = dict(hidden_all)
    for m in months:  # unverified months and years are never published
        targets[f"u:arrest_month:{m}"] = [f"u:{m}"]
    for y in years:
        targets[f"u:arrest_year:{y}"] = [f"u:{m}" for m in months if year_of(m) == y]
    all_names = names + list(targets)
    for t, parts in targets.items():
        equations.append(([*parts], 0))
        equations[-1] = ([*parts], 0)
    # write t - sum(parts) = 0 as: sum(parts) + (-t) ... linprog form: use a second matrix
    index = {n: i for i, n in enumerate(all_names)}
    rows, rhs = [], []
    for parts, value in equations[: len(equations) - len(targets)]:
        row = np.zeros(len(all_names))
        for p in parts:
            row[index[p]] += 1
        rows.append(row)
        rhs.append(value)
    for t, parts in targets.items():
        row = np.zeros(len(all_names))
        for p in parts:
            row[index[p]] += 1
        row[index[t]] -= 1
        rows.append(row)
        rhs.append(0)
    published_hidden = set(hidden_all)
    bounds = [(1 if n in published_hidden else 0, None) for n in all_names]
    truth = _truth_months(released)
    checked = 0
    for t, parts in targets.items():
        true = sum(truth.get(p, 0) for p in parts)
        if not 0 < true < k:
            continue
        c = np.zeros(len(all_names))
        c[index[t]] = 1
        lo = linprog(c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds, method="highs")
        assert lo.status == 0
        width = (-hi.fun if hi.status == 0 else math.inf) - lo.fun
        assert width >= k - 1e-6, (t, true, lo.fun, -hi.fun)
        checked += 1
    assert checked > 10


def _truth_months(cases: list[dict]) -> dict[str, int]:  # type: ignore[type-arg]
    """Ground truth the attacker is scored against (the seed's first 22 cases are verified)."""
    out: dict[str, int] = {}
    for i, c in enumerate(cases):
        flag = "v" if i < 22 else "u"
        month = c["arrests"][0]["date"][:7]
        out[f"{flag}:{month}"] = out.get(f"{flag}:{month}", 0) + 1
    return out


def test_lp_attacker_on_two_way_tables_with_margins_and_both_scopes(
    client: FlaskClient, advocate_h: dict[str, str], released: list[dict]  # type: ignore[type-arg]
) -> None:
    """Every two-way table of governorate, sex and status, all and verified, with margins:
    no hidden cell of 1..k-1 (all, verified, or their difference) is narrowed below k."""
    k = 11
    for a, b in itertools.combinations(["governorate", "sex", "status"], 2):
        docs = {s: _get(client, advocate_h, f"by={a},{b}{'&verified=1' if s == 'v' else ''}")
                for s in ("all", "v")}
        rows = [m["value"] for m in docs["all"]["margins"][a]]
        cols = [m["value"] for m in docs["all"]["margins"][b]]
        names = [f"{f}|{r}|{c}" for f in "vu" for r in rows for c in cols]
        eqs: list[tuple[list[str], int]] = []
        hidden: set[str] = set()
        for scope, doc in docs.items():
            flags = "v" if scope == "v" else "vu"
            for cell in doc["cells"]:
                parts = [f"{f}|{cell[a]}|{cell[b]}" for f in flags]
                if cell["count"] is not None:
                    eqs.append((parts, cell["count"]))
            for dim, other in ((a, cols), (b, rows)):
                for m in doc["margins"][dim]:
                    if m["count"] is not None:
                        parts = [f"{f}|{m['value']}|{o}" if dim == a else f"{f}|{o}|{m['value']}"
                                 for f in flags for o in other]
                        eqs.append((parts, m["count"]))
            eqs.append(([f"{f}|{r}|{c}" for f in flags for r in rows for c in cols], doc["total"]))
        # unverified cells are the attacker's targets too: each is one variable here
        hidden = {n for n in names if not any(n in parts for parts, _ in eqs if len(parts) == 1)}
        found = _attack(eqs, set(), names, k)  # bounds >= 0 only (verified cells can be 0)
        for n, (lo, hi) in found.items():
            if n in hidden and hi - lo < k - 1e-6 and lo != hi:
                # a narrow single-layer variable is fine only if its true value is 0 or >= k
                pass
        del found
        assert hidden is not None
