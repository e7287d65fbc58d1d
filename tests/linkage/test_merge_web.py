"""Deduplication started from the review queue, and merges a lawyer previews, confirms and can
undo, through the web app as a lawyer meets them."""

from __future__ import annotations

import dataclasses
import io
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.linkage.models import LinkageRun, MatchCandidate
from tests.conftest import bearer, csrf_from, form_fields, login, make_user, minimal_case
from tests.linkage.test_linkage import _create, _population


def _join_runs(app: Flask) -> None:
    """Wait for the runs this app started (the deterministic hook: no sleeping)."""
    threads: list[threading.Thread] = app.extensions.get("casebook.linkage_threads", [])
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()


def _actions(app: Flask) -> list[str]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_lawyer_starts_one_background_run_and_reads_its_summary_in_plain_words(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer")
    _population(app, client, bearer(app, lawyer))
    login(client, lawyer)
    page = client.get("/linkage/").get_data(as_text=True)
    assert "Start a deduplication run" in page
    token = csrf_from(page)
    db = app.extensions["casebook.db"]
    # a run already holding the slot (as another worker's would): the lawyer is told, no second
    with db.sessionmaker() as s, s.begin():
        s.add(LinkageRun(id=uuid.uuid4(), threshold=0.9, cases=41, read=2000, slot=1))
    busy = client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.6"})
    assert busy.status_code == 303
    page = client.get("/linkage/").get_data(as_text=True)
    assert "already going" in page and "2000 of 41 cases read" in page
    assert "Start a deduplication run" not in page
    with db.sessionmaker() as s, s.begin():
        for r in s.scalars(select(LinkageRun)):
            r.slot, r.state = None, "failed"
    # typed on an Arabic keyboard: Arabic-Indic digits and the Arabic decimal separator
    resp = client.post("/linkage/runs", data={"csrf_token": token, "threshold": "٠٫٦"})
    assert resp.status_code == 303
    _join_runs(app)
    page = client.get("/linkage/").get_data(as_text=True)
    assert "Pairs compared" in page and "New in the review queue" in page
    # the model's summary is for the logs; the lawyer reads what was weighed, in words
    assert "built-in weights" in page or "adjusted to this organisation" in page
    assert "model:" not in page and "shipped u" not in page
    with db.sessionmaker() as s:
        run = s.scalars(select(LinkageRun).where(LinkageRun.state == "done")).one()
        queued = s.scalars(select(MatchCandidate).where(MatchCandidate.kind == "dedupe")).all()
    assert run.threshold == 0.6
    assert run.slot is None and run.read == run.cases >= 41
    assert run.compared and run.compared > 0 and run.queued == len(queued)
    assert run.pairs and run.pairs >= 1  # the planted duplicate (queued already at entry)
    actions = _actions(app)
    assert {"linkage.run_start", "linkage.dedupe", "linkage.run_end"} <= set(actions)
    assert "Already decided by a lawyer" not in page  # nothing was decided yet
    # the planted duplicate was raised at entry: the run counts it as waiting, not as new
    first = page.split('class="grid run-result"')[1].split("</dl>")[0]
    waiting = run.pairs - run.queued - (run.decided or 0)
    assert waiting >= 1 and "Already waiting in the review queue" in first
    assert f'<dd dir="ltr">{waiting}</dd>' in first

    # the lawyer decides every pair "not the same person"; the next run finds them again and
    # says why none came back to the queue
    h = bearer(app, lawyer)
    with db.sessionmaker() as s:
        ids = [
            c.id for c in s.scalars(select(MatchCandidate).where(MatchCandidate.status == "open"))
        ]
    for candidate_id in ids:
        decided = client.post(
            f"/api/v1/linkage/candidates/{candidate_id}/decision",
            json={"decision": "not_duplicate"},
            headers=h,
        )
        assert decided.status_code == 200, decided.get_json()
    client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.6"})
    _join_runs(app)
    with db.sessionmaker() as s:
        again = s.scalars(select(LinkageRun).order_by(LinkageRun.started_at.desc())).first()
    assert again is not None and again.state == "done" and again.queued == 0
    assert again.decided == again.pairs == run.pairs
    page = client.get("/linkage/").get_data(as_text=True)
    block = page.split('class="grid run-result"')[1].split("</dl>")[0]
    assert "Already decided by a lawyer, not raised again" in block
    assert "Already waiting in the review queue" not in block  # every pair was decided
    assert f'<dd dir="ltr">{again.decided}</dd>' in block
    run_json = client.get("/api/v1/linkage/runs/latest", headers=h).get_json()["run"]
    assert run_json["decided"] == again.decided


def test_a_run_that_cannot_score_says_so_and_queues_nothing(
    app: Flask, client: FlaskClient
) -> None:
    # too little memory for any model: DuckDB refuses, as it would with a huge caseload
    app.config["CASEBOOK"] = dataclasses.replace(app.config["CASEBOOK"], linkage_memory="1MB")
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    for first in ("سامر", "زياد", "خالد"):
        _create(client, h, first_name=first)
    login(client, lawyer)
    token = csrf_from(client.get("/linkage/").get_data(as_text=True))
    client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.6"})
    _join_runs(app)
    page = client.get("/linkage/").get_data(as_text=True)
    assert "could not score" in page and "nothing was written" in page
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(LinkageRun)).one().state == "failed"
        kinds = {c.kind for c in s.scalars(select(MatchCandidate))}
    assert "dedupe" not in kinds


def test_only_lawyers_start_runs(app: Flask, client: FlaskClient, users: dict[str, Any]) -> None:
    login(client, users["documenter"])
    token = csrf_from(client.get("/cases/new").get_data(as_text=True))
    assert client.post("/linkage/runs", data={"csrf_token": token}).status_code == 403


def _merge_pair(app: Flask, client: FlaskClient) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Two reports of one person (the second with a release, a testimony and a photo), raised
    by the check at entry; the lawyer signed in on `client`. Returns (lawyer, kept, absorbed)."""
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    kept = _create(client, h)
    absorbed = _create(client, h, first_name="احمد", family_name="حلبي", birth_date="1986")
    resp = client.post(
        f"/api/v1/cases/{absorbed['id']}/status",
        json={"status": "released", "date": "2020-01", "source": "brother"},
        headers=h,
    )
    assert resp.status_code == 201
    photo = client.post(
        f"/api/v1/cases/{absorbed['id']}/attachments",
        headers=h,
        data={"file": (io.BytesIO(PNG), "photo.png")},
    )
    assert photo.status_code == 201, photo.get_json()
    login(client, lawyer)
    return lawyer, kept, absorbed


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _candidate(app: Flask) -> MatchCandidate:
    with app.extensions["casebook.db"].sessionmaker() as s:
        candidate = s.scalar(select(MatchCandidate).where(MatchCandidate.kind == "entry"))
    assert candidate is not None
    return candidate


def test_merge_shows_what_it_would_do_and_needs_confirmation(
    app: Flask, client: FlaskClient
) -> None:
    _, kept, absorbed = _merge_pair(app, client)
    candidate = _candidate(app)
    keep = "a" if str(candidate.case_a) == kept["id"] else "b"
    item = client.get(f"/linkage/{candidate.id}").get_data(as_text=True)
    token = csrf_from(item)
    # the old one-click merge now only leads to the preview; nothing is merged
    one_click = client.post(
        f"/linkage/{candidate.id}/decide",
        data={"csrf_token": token, "decision": "duplicate", "keep": keep},
    )
    assert one_click.status_code == 303 and "/merge" in one_click.headers["Location"]
    assert client.get(f"/api/v1/cases/{absorbed['id']}").status_code in (200, 401)
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.get(MatchCandidate, candidate.id).status == "open"  # type: ignore[union-attr]
    preview = client.get(f"/linkage/{candidate.id}/merge?keep={keep}")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Merge: check before confirming" in html and 'name="confirm"' in html
    section = html[html.index('class="merge-statuses"') :]
    assert "2020-01" in section.split("</ul>")[0]  # the release comes over
    assert "Date of birth" in html and "1986" in html  # a differing person field, both values
    assert 'class="merge-testimonies"' in html
    done = client.post(
        f"/linkage/{candidate.id}/decide",
        data={"csrf_token": token, "decision": "duplicate", "keep": keep, "confirm": "yes"},
    )
    assert done.status_code == 302
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    # the message names the absorbed case and links to the kept one
    link = f'<a href="/cases/{kept["id"]}" dir="ltr">{kept["reference"]}</a>'
    absorbed_ref = f'<bdi dir="ltr">{absorbed["reference"]}</bdi>'
    assert f"{absorbed_ref} was merged into {link}." in page


def _merged(app: Flask, client: FlaskClient) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    lawyer, kept, absorbed = _merge_pair(app, client)
    candidate = _candidate(app)
    keep = "a" if str(candidate.case_a) == kept["id"] else "b"
    token = csrf_from(client.get(f"/linkage/{candidate.id}/merge?keep={keep}").get_data(True))
    resp = client.post(
        f"/linkage/{candidate.id}/decide",
        data={"csrf_token": token, "decision": "duplicate", "keep": keep, "confirm": "yes"},
    )
    assert resp.status_code == 302
    return lawyer, kept, absorbed


def test_absorbed_case_is_sealed_links_to_the_kept_one_and_kept_shows_provenance(
    app: Flask, client: FlaskClient
) -> None:
    lawyer, kept, absorbed = _merged(app, client)
    page = client.get(f"/cases/{absorbed['id']}").get_data(as_text=True)
    assert f'href="/cases/{kept["id"]}"' in page and "sealed" in page
    assert f"/cases/{absorbed['id']}/edit" not in page
    assert "/packet/" not in page and "/dossier" not in page
    assert f"/cases/{absorbed['id']}/testimonies" not in page
    # no form the sealed case would refuse: review, legal note, erasure
    for action in ("review", "legal-notes", "legal_note", "erase"):
        assert f"/cases/{absorbed['id']}/{action}" not in page, action
    assert "Undo the merge" in page and 'id="undo"' in page
    # a lawyer who opens its edit page is told why, not to "ask a lawyer"
    told = client.get(f"/cases/{absorbed['id']}/edit", follow_redirects=True).get_data(True)
    assert "merged into another case: edit that one, or undo the merge" in told
    assert "Ask a lawyer" not in told
    h = bearer(app, lawyer)
    patch = client.patch(
        f"/api/v1/cases/{absorbed['id']}", json={"person": {"occupation": "x"}}, headers=h
    )
    assert (
        patch.status_code == 409 and "merged into another" in patch.get_json()["error"]["message"]
    )
    for path, body in (
        (f"/api/v1/cases/{absorbed['id']}/status", {"status": "released", "date": "2021"}),
        (f"/api/v1/cases/{absorbed['id']}/testimonies", {"text": "more", "language": "en"}),
    ):
        assert client.post(path, json=body, headers=h).status_code == 409
    assert client.get(f"/api/v1/cases/{absorbed['id']}/packets/wgeid", headers=h).status_code == 409
    dossier = client.get(f"/cases/{absorbed['id']}/dossier")
    assert dossier.status_code == 409 and kept["reference"] in dossier.get_data(as_text=True)
    token = csrf_from(page)
    edit = client.post(
        f"/cases/{absorbed['id']}/status", data={"csrf_token": token, "status": "released"}
    )
    assert edit.status_code in (302, 303)
    doc = client.get(f"/api/v1/cases/{absorbed['id']}", headers=h).get_json()
    assert doc["merged_into"] == kept["id"] and len(doc["status"]) == 2  # nothing was added
    kept_page = client.get(f"/cases/{kept['id']}").get_data(as_text=True)
    # each "from CB-… (merged)" links to the absorbed case, and the kept case leads to its undo
    link = f'<a href="/cases/{absorbed["id"]}" dir="ltr">{absorbed["reference"]}</a>'
    assert kept_page.count(f"from {link} (merged)") >= 2  # arrest and status
    assert f'href="/cases/{absorbed["id"]}#undo"' in kept_page
    assert f"/cases/{kept['id']}/edit" in kept_page
    # the person and the source as the absorbed report gave them stay on the kept case's page
    # (its own fields win): a lawyer saw the second report's spelling and its mother nowhere
    reports = kept_page.split('class="merged-reports"')[1].split("</ul>")[0]
    assert absorbed["reference"] in reports and "احمد" in reports and "حلبي" in reports
    assert "1986" in reports and "أم أحمد" in reports


def test_lawyer_undoes_a_merge_and_both_cases_are_as_before(
    app: Flask, client: FlaskClient
) -> None:
    lawyer, kept, absorbed = _merged(app, client)
    h = bearer(app, lawyer)
    page = client.get(f"/cases/{absorbed['id']}").get_data(as_text=True)
    token = csrf_from(page)
    unconfirmed = client.post(f"/linkage/merges/{absorbed['id']}/undo", data={"csrf_token": token})
    assert unconfirmed.status_code == 422  # the page again, the message beside the box
    assert client.get(f"/api/v1/cases/{absorbed['id']}", headers=h).get_json()["merged_into"]
    resp = client.post(
        f"/linkage/merges/{absorbed['id']}/undo", data={"csrf_token": token, "confirm": "yes"}
    )
    assert resp.status_code == 303
    shown = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "The merge was undone" in shown and f"/cases/{absorbed['id']}/edit" in shown
    other = client.get(f"/api/v1/cases/{absorbed['id']}", headers=h).get_json()
    assert other["merged_into"] is None and other["verification"] == "unverified"
    assert len(other["testimonies"]) == 1 and len(other["attachments"]) == 1
    assert other["current_status"] == "released"
    got = client.get(
        f"/api/v1/cases/{absorbed['id']}/attachments/{other['attachments'][0]['id']}", headers=h
    )
    assert got.status_code == 200 and got.data == PNG  # re-encrypted back under its own key
    doc = client.get(f"/api/v1/cases/{kept['id']}", headers=h).get_json()
    assert len(doc["testimonies"]) == 1  # its own, not the absorbed one's
    assert doc["attachments"] == [] and "merged" not in doc
    assert all(not x.get("merged_from") for x in doc["status"] + doc["arrests"])
    assert doc["current_status"] != "released"
    edit = client.patch(
        f"/api/v1/cases/{absorbed['id']}", json={"person": {"occupation": "baker"}}, headers=h
    )
    assert edit.status_code == 200
    actions = _actions(app)
    assert actions.index("case.merge") < actions.index("case.merge_undo")
    again = client.post(
        f"/linkage/merges/{absorbed['id']}/undo", data={"csrf_token": token, "confirm": "yes"}
    )
    assert again.status_code == 303
    assert "not merged into another" in client.get(again.headers["Location"]).get_data(True)
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.get(MatchCandidate, _candidate(app).id).status == "open"  # type: ignore[union-attr]


def test_documenters_cannot_undo_a_merge(app: Flask, client: FlaskClient) -> None:
    _, _, absorbed = _merged(app, client)
    documenter = app.test_client()
    login(documenter, make_user(app, "documenter"))
    token = csrf_from(documenter.get("/cases/new").get_data(as_text=True))
    resp = documenter.post(
        f"/linkage/merges/{absorbed['id']}/undo", data={"csrf_token": token, "confirm": "yes"}
    )
    assert resp.status_code == 403


def test_run_preview_and_sealed_pages_speak_arabic(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer", language="ar")
    h = bearer(app, lawyer)
    kept = _create(client, h)
    _create(client, h, first_name="احمد", family_name="حلبي", birth_date="1986")
    login(client, lawyer)
    queue = client.get("/linkage/").get_data(as_text=True)
    assert "بدء البحث عن التكرارات" in queue and "Start a deduplication run" not in queue
    candidate = _candidate(app)
    keep = "a" if str(candidate.case_a) == kept["id"] else "b"
    preview = client.get(f"/linkage/{candidate.id}/merge?keep={keep}").get_data(as_text=True)
    assert "الدمج: راجِع قبل التأكيد" in preview and "تأكيد الدمج" in preview
    assert "Confirm the merge" not in preview


def test_a_run_whose_worker_died_no_longer_blocks_the_next(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    for first in ("سامر", "زياد", "خالد"):
        _create(client, h, first_name=first)
    db = app.extensions["casebook.db"]
    dead = uuid.uuid4()
    with db.sessionmaker() as s, s.begin():
        s.add(
            LinkageRun(
                id=dead,
                threshold=0.9,
                cases=3,
                slot=1,
                heartbeat_at=datetime.now(UTC) - timedelta(minutes=6),
            )
        )
    login(client, lawyer)
    token = csrf_from(client.get("/linkage/").get_data(as_text=True))
    resp = client.post("/linkage/runs", data={"csrf_token": token, "threshold": "0.9"})
    assert resp.status_code == 303
    _join_runs(app)
    with db.sessionmaker() as s:
        old = s.get(LinkageRun, dead)
        assert old is not None and old.state == "failed" and old.slot is None
        assert s.scalars(select(LinkageRun).where(LinkageRun.state == "done")).one()


def test_editing_the_kept_case_keeps_what_the_undo_must_remove(
    app: Flask, client: FlaskClient
) -> None:
    lawyer, kept, absorbed = _merged(app, client)
    h = bearer(app, lawyer)
    form = client.get(f"/cases/{kept['id']}/edit").get_data(as_text=True)
    assert 'merged_from" value="' + absorbed["reference"] in form
    fields = form_fields(form, "case-form")
    fields["person.occupation"] = "baker"
    saved = client.post(f"/cases/{kept['id']}/edit", data=fields)
    body = saved.get_data(as_text=True)
    assert saved.status_code == 302, re.findall(r"error-summary.*?</div>", body, re.S)
    doc = client.get(f"/api/v1/cases/{kept['id']}", headers=h).get_json()
    assert doc["person"]["occupation"] == "baker"
    assert [s.get("merged_from") for s in doc["status"]].count(absorbed["reference"]) == 2
    token = csrf_from(client.get(f"/cases/{absorbed['id']}").get_data(as_text=True))
    client.post(
        f"/linkage/merges/{absorbed['id']}/undo", data={"csrf_token": token, "confirm": "yes"}
    )
    doc = client.get(f"/api/v1/cases/{kept['id']}", headers=h).get_json()
    assert len(doc["status"]) == 1 and len(doc["arrests"]) == 1
    assert doc["person"]["occupation"] == "baker"


def test_the_api_starts_runs_one_at_a_time_and_undoes_merges(
    app: Flask, client: FlaskClient
) -> None:
    lawyer, kept, absorbed = _merged(app, client)
    h = bearer(app, lawyer)
    assert client.get("/api/v1/linkage/runs/latest", headers=h).get_json() == {"run": None}
    few = client.post("/api/v1/linkage/runs", json={}, headers=h)  # the other is a duplicate
    assert few.status_code == 200 and few.get_json()["run"] is None
    _create(client, h, first_name="زياد")
    bad = client.post("/api/v1/linkage/runs", json={"threshold": 2}, headers=h)
    assert bad.status_code == 422 and "threshold" in bad.get_json()["error"]["fields"]
    db = app.extensions["casebook.db"]
    with db.sessionmaker() as s, s.begin():
        s.add(LinkageRun(id=uuid.uuid4(), threshold=0.9, cases=2, slot=1))
    busy = client.post("/api/v1/linkage/runs", json={}, headers=h)
    assert busy.status_code == 409 and "already going" in busy.get_json()["error"]["message"]
    with db.sessionmaker() as s, s.begin():
        for r in s.scalars(select(LinkageRun)):
            r.slot, r.state = None, "failed"
    started = client.post("/api/v1/linkage/runs", json={"threshold": 0.8}, headers=h)
    assert started.status_code == 202 and started.get_json()["run"]["state"] == "running"
    _join_runs(app)
    latest = client.get("/api/v1/linkage/runs/latest", headers=h).get_json()["run"]
    assert latest["state"] == "done" and latest["summary"].startswith("model: ")
    unconfirmed = client.post(f"/api/v1/linkage/merges/{absorbed['id']}/undo", json={}, headers=h)
    assert unconfirmed.status_code == 422
    undone = client.post(
        f"/api/v1/linkage/merges/{absorbed['id']}/undo", json={"confirm": True}, headers=h
    )
    assert undone.get_json() == {"restored": absorbed["reference"], "kept": kept["reference"]}
    again = client.post(
        f"/api/v1/linkage/merges/{absorbed['id']}/undo", json={"confirm": True}, headers=h
    )
    assert again.status_code == 409
    advocate = bearer(app, make_user(app, "advocate"))
    assert client.post("/api/v1/linkage/runs", json={}, headers=advocate).status_code == 403


def _keep_option(html: str) -> str:
    select_ = html[html.index('name="keep"') :].split("</select>")[0]
    chosen = [o for o in select_.split("<option")[1:] if " selected" in o.split(">")[0]]
    assert len(chosen) == 1, select_
    return chosen[0].split('value="')[1].split('"')[0]


def test_every_differing_row_is_marked_and_the_richer_case_is_kept_by_default(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    thin = _create(client, h)
    case = minimal_case(first_name="احمد", family_name="حلبي", birth_date="1986")
    case["arrests"] = [{**case["arrests"][0], "place": "حي الشعار قرب الجامع"}]  # type: ignore[index]
    case["testimonies"] = [*case["testimonies"], {"text": "شهادة ثانية", "language": "ar"}]  # type: ignore[misc]
    rich = client.post("/api/v1/cases", json=case, headers=h).get_json()
    login(client, lawyer)
    candidate = _candidate(app)
    html = client.get(f"/linkage/{candidate.id}").get_data(as_text=True)
    rows = {r.split("</th>")[0].split("<th>")[-1]: r for r in html.split("<tr")[1:]}
    for label in ("Arrests", "Testimonies"):
        row = next(r for k, r in rows.items() if k.startswith(label))
        assert 'class="diff"' in row and "≠" in row, label
    status = next(r for k, r in rows.items() if k.startswith("Current status"))
    assert "≠" not in status  # the same status on both sides stays unmarked
    rich_side = "a" if str(candidate.case_a) == rich["id"] else "b"
    assert _keep_option(html) == rich_side
    assert f"{rich['reference']} is pre-selected: its record is the richer one" in html
    assert thin["reference"] not in html.split('id="keep-why"')[1].split("</p>")[0]


def test_two_records_as_rich_keep_the_older_case_by_default(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer", language="ar")
    h = bearer(app, lawyer)
    older = _create(client, h)
    _create(client, h, first_name="احمد", family_name="حلبي", birth_date="1986")
    login(client, lawyer)
    candidate = _candidate(app)
    html = client.get(f"/linkage/{candidate.id}").get_data(as_text=True)
    assert _keep_option(html) == ("a" if str(candidate.case_a) == older["id"] else "b")
    assert f"اختيرت {older['reference']} مسبقاً: السجلّان متساويان، وهي الحالة الأقدم." in html


def test_a_merge_confirmed_without_the_box_answers_beside_the_box(
    app: Flask, client: FlaskClient
) -> None:
    _, kept, _absorbed = _merge_pair(app, client)
    candidate = _candidate(app)
    keep = "a" if str(candidate.case_a) == kept["id"] else "b"
    preview = client.get(f"/linkage/{candidate.id}/merge?keep={keep}").get_data(as_text=True)
    assert "(required)" in preview.split('for="confirm"')[1].split("</label>")[0]
    form = preview[preview.index('action="/linkage/') :].split("</form>")[0]
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
    resp = client.post(
        f"/linkage/{candidate.id}/decide", data={**fields, "csrf_token": csrf_from(preview)}
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    beside = html.split('id="confirm"')[1].split("</div>")[0]
    assert "Tick the box to confirm the merge." in beside
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.get(MatchCandidate, candidate.id).status == "open"  # type: ignore[union-attr]
    with client.session_transaction() as sess:
        sess["lang"] = "ar"
    ar = client.post(
        f"/linkage/{candidate.id}/decide", data={**fields, "csrf_token": csrf_from(preview)}
    ).get_data(as_text=True)
    assert "ضع علامة في المربع لتأكيد الدمج." in ar.split('id="confirm"')[1].split("</div>")[0]


def test_an_undo_without_the_box_answers_beside_the_box(app: Flask, client: FlaskClient) -> None:
    lawyer, _, absorbed = _merged(app, client)
    page = client.get(f"/cases/{absorbed['id']}").get_data(as_text=True)
    box = page[page.index('id="undo"') :].split("</form>")[0]
    assert "(required)" in box
    with client.session_transaction() as sess:
        sess["lang"] = "ar"
    resp = client.post(
        f"/linkage/merges/{absorbed['id']}/undo", data={"csrf_token": csrf_from(page)}
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    box = html[html.index('id="undo"') :].split("</form>")[0]
    assert "ضع علامة في المربع لتأكيد التراجع." in box
    h = bearer(app, lawyer)
    assert client.get(f"/api/v1/cases/{absorbed['id']}", headers=h).get_json()["merged_into"]


def test_the_merge_preview_leaves_no_separator_hanging(app: Flask, client: FlaskClient) -> None:
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    kept = _create(client, h)
    case = minimal_case(first_name="احمد", family_name="حلبي", birth_date="1986")
    case["arrests"] = [{"date": "2013-01", "governorate": "idlib"}]  # no place
    assert client.post("/api/v1/cases", json=case, headers=h).status_code == 201
    login(client, lawyer)
    candidate = _candidate(app)
    keep = "a" if str(candidate.case_a) == kept["id"] else "b"
    html = client.get(f"/linkage/{candidate.id}/merge?keep={keep}").get_data(as_text=True)
    arrests = html.split('class="merge-arrests">')[1].split("</ul>")[0]
    text = re.sub(r"<[^>]+>", "", arrests)
    assert "Idlib" in text and not re.search(r"·\s*$", text.strip()), text


def test_a_name_in_latin_letters_is_marked_as_the_same_name_not_as_a_difference(
    app: Flask, client: FlaskClient
) -> None:
    """محمد beside Mohammad is one name in two scripts: marked ≠ it sent a lawyer looking for
    a difference, and the keep reason called the Latin spelling a possible misspelling."""
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    arabic = _create(client, h, first_name="محمد", mother_name="فاطمة", birth_date="1985")
    latin = _create(
        client,
        h,
        first_name="Mohammad",
        father_name="Mahmoud",  # محمود: the same name
        family_name="Al-Halabi",
        mother_name="Khadija",  # not فاطمة: a real difference
        birth_date="1985-02-03",  # the same year, given more precisely
    )
    with app.extensions["casebook.db"].sessionmaker() as s:
        if s.scalar(select(MatchCandidate)) is None:  # the check at entry may not raise it
            a, b = sorted((uuid.UUID(arabic["id"]), uuid.UUID(latin["id"])), key=str)
            s.add(MatchCandidate(kind="entry", case_a=a, case_b=b, score=0.9, status="open"))
            s.commit()
    candidate = _candidate_any(app)
    for lang, note in (
        ("en", "≈ marks values that agree but are written otherwise"),
        ("ar", "العلامة ≈ تدل على قيمتين متفقتين كُتبتا بشكلين مختلفين"),
    ):
        reader = app.test_client()
        login(reader, make_user(app, "lawyer", language=lang))
        html = reader.get(f"/linkage/{candidate.id}").get_data(as_text=True)
        rows = {r.split("</th>")[0].split("<th>")[-1]: r for r in html.split("<tr")[1:]}
        marks = {
            k.split(" <span")[0]: ("≠" in r, "≈" in r)
            for k, r in rows.items()
            if "<span class=" in k
        }
        assert note in html, lang
        if lang == "en":
            assert marks["First name"] == (False, True)
            assert marks["Father's name"] == (False, True)
            assert marks["Family name"] == (False, True)
            assert marks["Mother's name"] == (True, False)
            assert marks["Date of birth"] == (False, True)
            arabic_side = "a" if str(candidate.case_a) == arabic["id"] else "b"
            assert _keep_option(html) == arabic_side
            why = html.split('id="keep-why"')[1].split("</p>")[0]
            assert "written in Arabic letters" in why and "misspelt" not in why


def _candidate_any(app: Flask) -> MatchCandidate:
    with app.extensions["casebook.db"].sessionmaker() as s:
        candidate = s.scalar(select(MatchCandidate))
    assert candidate is not None
    return candidate


@pytest.mark.parametrize(
    ("field", "one", "other", "alike"),
    [
        ("first_name", "محمد", "Mohammad", True),
        ("first_name", "Mohammad", "Mohamed", True),  # two Latin spellings of محمد
        ("father_name", "Khaled", "Khalid", True),
        ("first_name", "Ammar", "Omar", False),  # عمار and عمر
        ("first_name", "عمر", "Ammar", False),
        ("first_name", "هشام", "هاشم", False),  # two names, not a spelling
        ("first_name", "Hisham", "هاشم", False),
        ("mother_name", "Fatima", "Khadija", False),
        ("family_name", "الحلبي", "Halabi", True),
        ("birth_date", "1985", "1985-02-03", True),  # the same year, given more precisely
        ("birth_date", "1985-02", "1985-02-03", True),
        ("birth_date", "1985", "1986", False),
        ("birth_date", "1985-02-03", "1985-03-02", False),
    ],
)
def test_values_that_agree_but_are_written_otherwise_are_told_from_conflicts(
    field: str, one: str, other: str, alike: bool
) -> None:
    from casebook.linkage.views import _alike

    assert (field in _alike({field: one}, {field: other})) is alike
