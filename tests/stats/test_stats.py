"""Statistics as advocates use them: API, downloads, brief, CLI, consent, ledger, cache."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import func, select

from casebook.audit.models import AuditEntry
from casebook.stats.models import DpRelease
from tests.conftest import (
    CANARY_ARABIC,
    CANARY_LATIN,
    UserFixture,
    bearer,
    csrf_from,
    fresh_code,
    login,
    minimal_case,
)


def _seed(client: FlaskClient, h: dict[str, str], n: int, **kw: str) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for i in range(n):
        data = minimal_case(first_name=f"اسم{i}", **kw)
        out.append(client.post("/api/v1/cases", json=data, headers=h).get_json())
    return out


@pytest.fixture
def lawyer_h(app: Flask, users: dict[str, UserFixture]) -> dict[str, str]:
    return bearer(app, users["lawyer"])


@pytest.fixture
def advocate_h(app: Flask, users: dict[str, UserFixture]) -> dict[str, str]:
    return bearer(app, users["advocate"])


def _cell(doc: dict, **where: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in doc["cells"] if all(c[k] == v for k, v in where.items()))


def test_advocate_gets_counts_with_small_cells_suppressed(
    client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    _seed(client, lawyer_h, 14)  # aleppo, forcibly disappeared
    data = minimal_case()
    data["arrests"][0]["governorate"] = "homs"  # type: ignore[index]
    client.post("/api/v1/cases", json=data, headers=lawyer_h)  # one lone case in homs
    doc = client.get("/api/v1/stats?by=governorate", headers=advocate_h).get_json()
    assert doc["dimensions"] == ["governorate"] and doc["k"] == 11
    assert _cell(doc, governorate="homs") == {
        "governorate": "homs",
        "count": None,
        "suppressed": True,
    }
    aleppo = _cell(doc, governorate="aleppo")
    # with homs hidden and the total published, aleppo would give homs away: one of them goes
    assert aleppo["suppressed"] or doc["total"] is None
    assert _cell(doc, governorate="daraa") == {
        "governorate": "daraa",
        "count": 0,
        "suppressed": False,
    }
    assert all(c["count"] is None or c["count"] == 0 or c["count"] >= 11 for c in doc["cells"])
    assert "suppressed" in doc["method"]


def test_two_way_table_has_margins(
    client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    _seed(client, lawyer_h, 12)
    doc = client.get("/api/v1/stats?by=governorate,sex", headers=advocate_h).get_json()
    assert _cell(doc, governorate="aleppo", sex="male")["count"] == 12
    assert doc["total"] == 12
    margins = doc["margins"]["governorate"]
    assert next(m for m in margins if m["value"] == "aleppo")["count"] == 12


def test_bad_parameters_list_every_problem(client: FlaskClient, advocate_h: dict[str, str]) -> None:
    resp = client.get("/api/v1/stats?by=name,governorate&k=3&epsilon=-1", headers=advocate_h)
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"by", "k", "epsilon"}


@pytest.mark.parametrize("role", ["documenter", "admin"])
def test_only_advocates_and_lawyers(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture], role: str
) -> None:
    assert client.get("/api/v1/stats?by=sex", headers=bearer(app, users[role])).status_code == 403


def test_consent_revocation_takes_effect_at_once(
    client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    cases = _seed(client, lawyer_h, 12)
    first = client.get("/api/v1/stats?by=sex", headers=advocate_h).get_json()
    assert _cell(first, sex="male")["count"] == 12
    client.post(
        f"/api/v1/cases/{cases[0]['id']}/consent",
        json={"scope": "statistics", "granted": False, "date": "2025-01-01"},
        headers=lawyer_h,
    )
    second = client.get("/api/v1/stats?by=sex", headers=advocate_h).get_json()
    assert _cell(second, sex="male")["count"] == 11


def test_duplicates_and_erased_cases_are_not_counted(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    cases = _seed(client, lawyer_h, 13)
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
    doc = client.get("/api/v1/stats?by=sex", headers=advocate_h).get_json()
    assert _cell(doc, sex="male")["count"] == 11


def test_verified_only_filter(
    client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    cases = _seed(client, lawyer_h, 12)
    for c in cases[:11]:
        client.post(
            f"/api/v1/cases/{c['id']}/review", json={"verification": "verified"}, headers=lawyer_h
        )
    doc = client.get("/api/v1/stats?by=sex&verified=true", headers=advocate_h).get_json()
    assert _cell(doc, sex="male")["count"] == 11 and doc["verified_only"] is True


def test_every_export_is_audited_with_its_parameters(
    app: Flask, client: FlaskClient, advocate_h: dict[str, str]
) -> None:
    client.get("/api/v1/stats?by=status,governorate&k=12", headers=advocate_h)
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "stats.export")).one()
    assert '"by":["status","governorate"]' in entry.details and '"k":12' in entry.details


def test_dp_release_and_ledger(
    app: Flask, client: FlaskClient, lawyer_h: dict[str, str], advocate_h: dict[str, str]
) -> None:
    _seed(client, lawyer_h, 30)
    a = client.get("/api/v1/stats?by=sex&epsilon=1", headers=advocate_h).get_json()
    b = client.get("/api/v1/stats?by=status&epsilon=1.5", headers=advocate_h).get_json()
    assert a["epsilon"] == 1.0 and "differentially private" in a["method"]
    male = _cell(a, sex="male")["count"]
    assert male is not None and abs(male - 30) <= 15  # noisy, near the truth
    assert all(c["count"] is None or c["count"] == 0 or c["count"] >= 11 for c in b["cells"])
    budget = client.get("/api/v1/stats/budget", headers=advocate_h).get_json()
    assert budget["spent"] == pytest.approx(2.5) and budget["remaining"] == pytest.approx(1.5)
    refused = client.get("/api/v1/stats?by=sex&epsilon=2", headers=advocate_h)
    assert (
        refused.status_code == 422
        and "budget" in refused.get_json()["error"]["fields"]["epsilon"][0]
    )
    with app.extensions["casebook.db"].sessionmaker() as s:
        total = s.scalar(select(func.sum(DpRelease.epsilon)))
        count = s.scalar(select(func.count()).select_from(DpRelease))
    assert total == pytest.approx(2.5) and count == 2


def test_results_are_cached_until_the_next_write(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    advocate_h: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import casebook.stats.services as services

    _seed(client, lawyer_h, 11)
    calls = []
    real = services.count

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "count", counting)
    client.get("/api/v1/stats?by=sex", headers=advocate_h)
    client.get("/api/v1/stats?by=sex", headers=advocate_h)
    assert len(calls) == 1
    _seed(client, lawyer_h, 1)
    doc = client.get("/api/v1/stats?by=sex", headers=advocate_h).get_json()
    assert len(calls) == 2 and _cell(doc, sex="male")["count"] == 12


def test_pages_need_recent_reauth_and_render_in_arabic(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture], lawyer_h: dict[str, str]
) -> None:
    _seed(client, lawyer_h, 12)
    with freeze_time() as clock:
        login(client, users["advocate"])
        client.post(
            "/language",
            data={
                "lang": "ar",
                "next": "/",
                "csrf_token": csrf_from(client.get("/").get_data(as_text=True)),
            },
        )
        page = client.get("/stats/?by=governorate&by2=sex")
        assert page.status_code == 200 and "حلب" in page.get_data(as_text=True)
        brief = client.get("/stats/brief?by=governorate").get_data(as_text=True)
        assert "<svg" in brief and 'dir="rtl"' in brief and "حد أدنى" in brief
        csv_text = client.get("/stats/export.csv?by=sex").get_data(as_text=True)
        rows = list(csv.reader(io.StringIO(csv_text)))
        assert rows[0] == ["sex", "count", "suppressed"] and ["male", "12", "false"] in rows
        clock.tick(11 * 60)
        assert client.get("/stats/?by=sex").headers["Location"].startswith("/reauth")


def test_no_export_format_carries_personal_data(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],
    advocate_h: dict[str, str],
    users: dict[str, UserFixture],
) -> None:
    for _ in range(12):
        data = minimal_case(first_name=CANARY_ARABIC, latin_name=f"{CANARY_LATIN} X")
        data["testimonies"] = [{"text": CANARY_LATIN}]
        client.post("/api/v1/cases", json=data, headers=lawyer_h)
    bodies = [
        client.get(f"/api/v1/stats?by={d}", headers=advocate_h).get_data(as_text=True)
        for d in ("governorate", "sex,status", "arrest_month")
    ]
    login(client, users["advocate"])
    for path in (
        "/stats/export.csv?by=sex",
        "/stats/export.json?by=status,sex",
        "/stats/brief?by=governorate",
        "/stats/?by=age_band",
    ):
        bodies.append(client.get(path).get_data(as_text=True))
    for body in bodies:
        assert CANARY_LATIN not in body and CANARY_ARABIC not in body


def test_cli_stats(
    app: Flask, settings: object, client: FlaskClient, lawyer_h: dict[str, str], tmp_path: object
) -> None:
    import os
    import subprocess
    import sys

    _seed(client, lawyer_h, 12)
    s = app.config["CASEBOOK"]
    env = {
        **os.environ,
        "CASEBOOK_ENV": "testing",
        "CASEBOOK_INSTANCE": str(s.instance),
        "DATABASE_URL": s.database_url,
        "CASEBOOK_KEK_SOURCE": s.kek_source,
        "CASEBOOK_EXPECTED_CASES": "1000",
    }
    run = [sys.executable, "-c", "from casebook.cli import main; main()", "stats"]
    ok = subprocess.run(
        [*run, "--by", "sex", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert '"count": 12' in ok.stdout
    bad = subprocess.run(
        [*run, "--by", "nope", "--k", "2"], env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode != 0 and "by:" in bad.stderr and "k:" in bad.stderr
    assert re.search(r"no statistics", bad.stderr)
