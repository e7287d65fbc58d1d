"""Many people changing one case at once: every acknowledged change is in the record after."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import UserFixture, bearer, form_fields, make_user, minimal_case


def test_simultaneous_changes_to_one_case_are_all_kept(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """Eight lawyers each add status changes to one case while another edits its person: each
    request reads the sealed record, changes it and writes it whole, so without a lock on the
    case the later of two writes drops what the earlier added (a load test on PostgreSQL lost a
    status change that had been answered 201)."""
    lawyer = bearer(app, users["lawyer"])
    made = app.test_client().post("/api/v1/cases", json=minimal_case(), headers=lawyer)
    assert made.status_code == 201
    case_id = made.get_json()["id"]
    start = threading.Barrier(9)

    def add_statuses(n: int) -> list[int]:
        client = app.test_client()
        start.wait()
        return [
            client.post(
                f"/api/v1/cases/{case_id}/status",
                json={"status": "detained", "date": "2024", "source": f"worker {n} change {i}"},
                headers=lawyer,
            ).status_code
            for i in range(5)
        ]

    def edit_person() -> list[int]:
        client = app.test_client()
        start.wait()
        return [
            client.patch(
                f"/api/v1/cases/{case_id}",
                json={"person": {"occupation": f"نجار {i}"}},
                headers=lawyer,
            ).status_code
            for i in range(5)
        ]

    with ThreadPoolExecutor(9) as pool:
        adders = [pool.submit(add_statuses, n) for n in range(8)]
        editor = pool.submit(edit_person)
        codes = [c for f in adders for c in f.result()]
        edits = editor.result()
    assert codes == [201] * 40, codes
    assert edits == [200] * 5, edits
    doc = app.test_client().get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()
    sources = {entry.get("source") for entry in doc["status"]}
    missing = {f"worker {n} change {i}" for n in range(8) for i in range(5)} - sources
    assert not missing, f"{len(missing)} acknowledged status changes lost"
    assert doc["person"]["occupation"] == "نجار 4"


def test_each_change_locks_its_case_once_and_every_request_locks_it_again(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """The API's load-then-authorise locks the case before deciding, and the service that
    changes it asks again: the lock a transaction holds is not taken (and the record read)
    twice, and the next request, a new transaction, takes its own (a note of locks kept past
    its transaction would let two writers in at once: the lost update above)."""
    import pytest
    from sqlalchemy import event

    engine = app.extensions["casebook.db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite's writer holds the database")
    lawyer = bearer(app, users["lawyer"])
    client = app.test_client()
    case_id = client.post("/api/v1/cases", json=minimal_case(), headers=lawyer).get_json()["id"]
    locks: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FOR UPDATE" in statement and "FROM cases" in statement:
            locks.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        for n in range(2):
            added = client.post(
                f"/api/v1/cases/{case_id}/status",
                json={"status": "detained", "date": "2024", "source": f"change {n}"},
                headers=lawyer,
            )
            assert added.status_code == 201
        edited = client.patch(
            f"/api/v1/cases/{case_id}", json={"person": {"occupation": "نجار"}}, headers=lawyer
        )
        assert edited.status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(locks) == 3, locks


def test_a_merge_racing_status_changes_and_another_decision_keeps_every_acknowledged_change(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """Two lawyers decide one pair at once (one merges, one says "not a duplicate") while
    others add status changes to both cases: exactly one decision stands, and every status
    change answered 201 is in the kept case's record after (those on the absorbed case carried
    over by the merge), not dropped by a merge that read the records before they were added."""
    from sqlalchemy import select

    from casebook.linkage.models import MatchCandidate

    lawyer = bearer(app, users["lawyer"])
    other = bearer(app, make_user(app, "lawyer"))
    client = app.test_client()
    first = client.post("/api/v1/cases", json=minimal_case(), headers=lawyer).get_json()
    second = client.post(
        "/api/v1/cases", json=minimal_case(first_name="احمد", family_name="حلبي"), headers=lawyer
    ).get_json()
    with app.extensions["casebook.db"].sessionmaker() as s:
        candidate = s.scalar(select(MatchCandidate).where(MatchCandidate.kind == "entry"))
    assert candidate is not None, "the check at entry should have raised this pair"
    keep = "a" if str(candidate.case_a) == first["id"] else "b"
    start = threading.Barrier(6)

    def add_statuses(case_id: str, n: int) -> list[tuple[str, int]]:
        c = app.test_client()
        start.wait()
        out = []
        for i in range(6):
            source = f"{n}/{i}"
            code = c.post(
                f"/api/v1/cases/{case_id}/status",
                json={"status": "detained", "date": "2024", "source": source},
                headers=lawyer,
            ).status_code
            out.append((source, code))
        return out

    def decide(decision: str, headers: dict[str, str]) -> int:
        c = app.test_client()
        start.wait()
        return c.post(
            f"/api/v1/linkage/candidates/{candidate.id}/decision",
            json={"decision": decision, "keep": keep},
            headers=headers,
        ).status_code

    with ThreadPoolExecutor(6) as pool:
        adders = [
            pool.submit(add_statuses, case_id, n)
            for n, case_id in enumerate((first["id"], first["id"], second["id"], second["id"]))
        ]
        merged = pool.submit(decide, "duplicate", lawyer)
        refused = pool.submit(decide, "not_duplicate", other)
        answers = [a for f in adders for a in f.result()]
        decisions = sorted([merged.result(), refused.result()])
    assert decisions == [200, 422], decisions
    assert {code for _, code in answers} <= {201, 409}  # 409: added to a case already merged
    acknowledged = {source for source, code in answers if code == 201}
    if merged.result() == 200:
        doc = client.get(f"/api/v1/cases/{first['id']}", headers=lawyer).get_json()
        kept = {entry.get("source") for entry in doc["status"]}
    else:
        kept = set()
        for case in (first, second):
            doc = client.get(f"/api/v1/cases/{case['id']}", headers=lawyer).get_json()
            kept |= {entry.get("source") for entry in doc["status"]}
    assert not acknowledged - kept, f"{len(acknowledged - kept)} acknowledged changes lost"


def test_an_edit_waiting_on_a_verification_is_refused_once_the_case_is_verified(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """A documenter's edit that arrives while a lawyer's verification of the case is being
    written waits for it, and is then refused as any edit of a verified case is: it must not be
    let through on what the case was before the verification committed."""
    import time
    import uuid

    from sqlalchemy import select

    from casebook.cases.models import Case

    documenter = bearer(app, users["documenter"])
    client = app.test_client()
    made = client.post("/api/v1/cases", json=minimal_case(), headers=documenter)
    case_id = made.get_json()["id"]
    answer: list[int] = []
    with app.extensions["casebook.db"].sessionmaker() as lawyer_session:
        case = lawyer_session.execute(
            select(Case).where(Case.id == uuid.UUID(case_id)).with_for_update()
        ).scalar_one()
        case.verification = "verified"
        lawyer_session.flush()
        edit = threading.Thread(
            target=lambda: answer.append(
                app.test_client()
                .patch(
                    f"/api/v1/cases/{case_id}",
                    json={"person": {"occupation": "نجار"}},
                    headers=documenter,
                )
                .status_code
            )
        )
        edit.start()
        time.sleep(1.0)  # the edit has read the case and waits on its lock
        lawyer_session.commit()
    edit.join(timeout=60)
    assert answer == [409]
    doc = client.get(f"/api/v1/cases/{case_id}", headers=documenter).get_json()
    assert doc["verification"] == "verified" and "occupation" not in doc["person"]


def test_lawyers_merging_overlapping_pairs_at_once_get_answers_not_errors(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """One person reported three times makes three review items that share cases; three
    lawyers merging them at once (while the cases get status changes) must each get a decision
    or a refusal, never a server error (an outside check found 500s from merges waiting on each
    other), and every status change answered 201 ends up in the one case left."""
    from sqlalchemy import select

    from casebook.linkage.models import MatchCandidate

    headers = [bearer(app, users["lawyer"])] + [
        bearer(app, make_user(app, "lawyer")) for _ in range(2)
    ]
    client = app.test_client()
    ids = [
        client.post("/api/v1/cases", json=minimal_case(), headers=headers[0]).get_json()["id"]
        for _ in range(3)
    ]
    with app.extensions["casebook.db"].sessionmaker() as s:
        items = list(s.scalars(select(MatchCandidate).where(MatchCandidate.status == "open")))
    assert len(items) == 3, "three reports of one person should make three review items"
    start = threading.Barrier(6)

    def decide(item: str, lawyer: dict[str, str]) -> int:
        c = app.test_client()
        start.wait()
        return c.post(
            f"/api/v1/linkage/candidates/{item}/decision",
            json={"decision": "duplicate", "keep": "a"},
            headers=lawyer,
        ).status_code

    def add_statuses(case_id: str) -> list[tuple[str, int]]:
        c = app.test_client()
        start.wait()
        return [
            (
                f"{case_id}/{i}",
                c.post(
                    f"/api/v1/cases/{case_id}/status",
                    json={"status": "detained", "date": "2024", "source": f"{case_id}/{i}"},
                    headers=headers[0],
                ).status_code,
            )
            for i in range(4)
        ]

    with ThreadPoolExecutor(6) as pool:
        decisions = [
            pool.submit(decide, str(item.id), lawyer)
            for item, lawyer in zip(items, headers, strict=True)
        ]
        adders = [pool.submit(add_statuses, case_id) for case_id in ids]
        codes = [f.result() for f in decisions]
        answers = [a for f in adders for a in f.result()]
    assert 200 in codes and set(codes) <= {200, 409, 422}, codes
    assert {code for _, code in answers} <= {201, 409}, answers
    live = [
        doc
        for doc in (
            client.get(f"/api/v1/cases/{case_id}", headers=headers[0]).get_json() for case_id in ids
        )
        if not doc.get("merged_into")
    ]
    kept = {entry.get("source") for doc in live for entry in doc["status"]}
    acknowledged = {source for source, code in answers if code == 201}
    assert not acknowledged - kept, f"{len(acknowledged - kept)} acknowledged changes lost"


def test_a_change_made_on_a_stale_copy_is_refused_when_the_copy_is_named(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """A client that read a case, then replaces its status list, would drop a status another
    person added since: sent with the ETag it read (If-Match), the change is refused with 412
    and nothing is written; with the current ETag it is made and answered with the new one."""
    lawyer, other = bearer(app, users["lawyer"]), bearer(app, make_user(app, "lawyer"))
    client = app.test_client()
    made = client.post("/api/v1/cases", json=minimal_case(), headers=lawyer)
    case_id = made.get_json()["id"]
    assert made.headers["Location"].endswith(f"/api/v1/cases/{case_id}")
    read = client.get(made.headers["Location"], headers=lawyer)
    etag = read.headers["ETag"]
    assert made.headers["ETag"] == etag  # the version it created, to name in a first change
    statuses = read.get_json()["status"]
    added = client.post(
        f"/api/v1/cases/{case_id}/status",
        json={"status": "released", "date": "2024", "source": "the other lawyer"},
        headers=other,
    )
    assert added.status_code == 201
    stale = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"status": [*statuses, {"status": "deceased", "date": "2025"}]},
        headers={**lawyer, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "precondition_failed"
    again = client.post(
        f"/api/v1/cases/{case_id}/status",
        json={"status": "deceased", "date": "2025"},
        headers={**lawyer, "If-Match": etag},
    )
    assert again.status_code == 412
    now = client.get(f"/api/v1/cases/{case_id}", headers=lawyer)
    assert [s.get("source") for s in now.get_json()["status"]][-1] == "the other lawyer"
    assert now.headers["ETag"] != etag
    # every answer names the version it leaves (a refusal, the one it found)
    assert added.headers["ETag"] == again.headers["ETag"] == now.headers["ETag"]
    weak = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"person": {"occupation": "نجار"}},
        headers={**lawyer, "If-Match": "W/" + now.headers["ETag"]},
    )
    assert (
        weak.status_code == 412
        and "weak W/ tags never match" in weak.get_json()["error"]["message"]
    )
    fresh = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"status": [*now.get_json()["status"], {"status": "deceased", "date": "2025"}]},
        headers={**lawyer, "If-Match": now.headers["ETag"]},
    )
    assert fresh.status_code == 200
    assert [s["status"] for s in fresh.get_json()["status"]][-2:] == ["released", "deceased"]
    assert fresh.headers["ETag"] not in (etag, now.headers["ETag"])
    star = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"person": {"occupation": "نجار"}},
        headers={**lawyer, "If-Match": "*"},
    )
    assert star.status_code == 200  # any version, as HTTP has it


def _documenter_with_a_case(
    app: Flask, users: dict[str, UserFixture]
) -> tuple[FlaskClient, str, dict[str, str]]:
    from tests.conftest import login

    documenter = app.test_client()
    login(documenter, users["documenter"])
    headers = bearer(app, users["documenter"])
    made = documenter.post("/api/v1/cases", json=minimal_case(), headers=headers)
    case_id = made.get_json()["id"]
    fields = form_fields(
        documenter.get(f"/cases/{case_id}/edit").get_data(as_text=True), "case-form"
    )
    assert fields.get("_version") and fields.get("_base"), "the form says what it opened"
    return documenter, case_id, fields


def test_an_edit_form_saved_after_a_status_was_added_keeps_both(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """The edit form sends every section it showed: saved as it was after a lawyer added a
    status, it would replace the status list without it. Merged with what the form opened on,
    the documenter's new occupation and the lawyer's status are both kept, and the page says
    someone else changed the case. Had the documenter added a status too, the order decides
    which is current: nothing is saved until they have seen it, then both are kept."""
    from tests.conftest import csrf_from

    documenter, case_id, fields = _documenter_with_a_case(app, users)
    fields["person.occupation"] = "معلّم"
    lawyer = bearer(app, users["lawyer"])

    def lawyer_adds(status: str, source: str) -> None:
        added = app.test_client().post(
            f"/api/v1/cases/{case_id}/status",
            json={"status": status, "date": "2024", "source": source},
            headers=lawyer,
        )
        assert added.status_code == 201

    lawyer_adds("released", "the lawyer")
    saved = documenter.post(f"/cases/{case_id}/edit", data=fields)
    assert saved.status_code == 302
    page = documenter.get(saved.headers["Location"]).get_data(as_text=True)
    assert "This case had been changed after you opened the form (by someone else" in page
    doc = app.test_client().get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()
    assert doc["person"]["occupation"] == "معلّم"
    assert doc["status"][-1].get("source") == "the lawyer"

    fields = form_fields(
        documenter.get(f"/cases/{case_id}/edit").get_data(as_text=True), "case-form"
    )
    rows = sum(1 for name in fields if name.startswith("status.") and name.endswith(".status"))
    fields[f"status.{rows}.status"] = "forcibly_disappeared"  # a row added in the form
    fields[f"status.{rows}.date"] = "2014-01"
    lawyer_adds("deceased", "the lawyer again")
    refused = documenter.post(f"/cases/{case_id}/edit", data=fields)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "Rows were added here too after you opened the form" in html
    shown = form_fields(html, "case-form")
    saved = documenter.post(f"/cases/{case_id}/edit", data={**shown, "csrf_token": csrf_from(html)})
    assert saved.status_code == 302
    doc = app.test_client().get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()
    assert [(s["status"], s.get("source")) for s in doc["status"]][-2:] == [
        ("deceased", "the lawyer again"),
        ("forcibly_disappeared", None),
    ]


def test_an_edit_form_that_changed_a_field_someone_else_changed_saves_nothing_and_says_so(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """Both changed the occupation: nothing is saved, the form shows the lawyer's value with
    what the documenter typed beside it (and keeps the documenter's other change); saving that
    form as it is keeps the lawyer's value and the other change."""
    from tests.conftest import csrf_from

    documenter, case_id, fields = _documenter_with_a_case(app, users)
    fields["person.occupation"] = "مهندس"
    fields["person.birth_place"] = "حمص"
    lawyer = bearer(app, users["lawyer"])
    changed = app.test_client().patch(
        f"/api/v1/cases/{case_id}", json={"person": {"occupation": "محامٍ"}}, headers=lawyer
    )
    assert changed.status_code == 200
    refused = documenter.post(f"/cases/{case_id}/edit", data=fields)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "This case was changed after you opened this form" in html
    assert "you had entered “مهندس”" in html
    assert "correct the fields" not in html  # not the validation summary: nothing to correct
    doc = app.test_client().get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()
    assert doc["person"]["occupation"] == "محامٍ" and "birth_place" not in doc["person"]
    shown = form_fields(html, "case-form")
    assert shown["person.occupation"] == "محامٍ" and shown["person.birth_place"] == "حمص"
    saved = documenter.post(f"/cases/{case_id}/edit", data={**shown, "csrf_token": csrf_from(html)})
    assert saved.status_code == 302
    doc = app.test_client().get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()
    assert doc["person"]["occupation"] == "محامٍ" and doc["person"]["birth_place"] == "حمص"


def test_an_edit_form_sent_after_the_case_was_verified_gives_back_what_was_typed(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """Verified while the documenter's form was open: nothing is saved, and the page says why
    and shows what was typed, to hand to a lawyer (it was dropped with a redirect)."""
    documenter, case_id, fields = _documenter_with_a_case(app, users)
    fields["person.occupation"] = "مهندس"
    lawyer = bearer(app, users["lawyer"])
    reviewed = app.test_client().post(
        f"/api/v1/cases/{case_id}/review", json={"verification": "verified"}, headers=lawyer
    )
    assert reviewed.status_code == 200
    refused = documenter.post(f"/cases/{case_id}/edit", data=fields)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "This case can no longer be edited by you: it was verified" in html
    assert 'value="مهندس"' in html
    doc = app.test_client().get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()
    assert "occupation" not in doc["person"]


def _updates(app: Flask, case_id: str) -> int:
    from sqlalchemy import func, select

    from casebook.audit.models import AuditEntry

    with app.extensions["casebook.db"].sessionmaker() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    AuditEntry.action == "case.update", AuditEntry.object_id == case_id
                )
            )
            or 0
        )


def test_a_change_that_changes_nothing_keeps_the_case_as_it_was(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """An empty PATCH, or one that sends what the case already says, writes nothing: the case
    keeps its version (a documenter's open form is not made stale by it) and no update is
    audited; a real change after it is written as before."""
    lawyer = bearer(app, users["lawyer"])
    client = app.test_client()
    case_id = client.post("/api/v1/cases", json=minimal_case(), headers=lawyer).get_json()["id"]
    read = client.get(f"/api/v1/cases/{case_id}", headers=lawyer)
    etag, doc = read.headers["ETag"], read.get_json()
    for body in (
        {},
        {"person": doc["person"]},
        {"status": doc["status"], "arrests": doc["arrests"]},
    ):
        same = client.patch(
            f"/api/v1/cases/{case_id}", json=body, headers={**lawyer, "If-Match": etag}
        )
        assert same.status_code == 200 and same.headers["ETag"] == etag, body
    assert _updates(app, case_id) == 0
    changed = client.patch(
        f"/api/v1/cases/{case_id}", json={"person": {"occupation": "خياط"}}, headers=lawyer
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert _updates(app, case_id) == 1


def test_an_edit_form_saved_untouched_says_nothing_changed_and_stales_no_other_form(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    """A documenter opens the form and saves it without typing: the page says there was
    nothing to save and the case keeps its version: the same form, changed and saved again,
    is a plain save, not one merged with changes "made after you opened the form"."""
    documenter, case_id, fields = _documenter_with_a_case(app, users)
    headers = bearer(app, users["documenter"])
    before = documenter.get(f"/api/v1/cases/{case_id}", headers=headers).headers["ETag"]
    saved = documenter.post(f"/cases/{case_id}/edit", data=fields, follow_redirects=True)
    assert saved.status_code == 200
    assert "Nothing to save: the case is as it was." in saved.get_data(as_text=True)
    assert documenter.get(f"/api/v1/cases/{case_id}", headers=headers).headers["ETag"] == before
    assert _updates(app, case_id) == 0
    fields["person.occupation"] = "خياط"
    again = documenter.post(f"/cases/{case_id}/edit", data=fields, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert "Changes saved." in page and "after you opened the form" not in page
    assert _updates(app, case_id) == 1
