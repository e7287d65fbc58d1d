"""The phone's side of field collection: a device credential from the documenter's page, the
form list and form, encrypted submissions built exactly as the ODK specification says and
posted as ODK Collect posts them, the field inbox, and every refusal in OpenRosa's form."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casebook import create_app, vocab
from casebook.audit.models import AuditEntry
from casebook.cases.models import Attachment, Case
from casebook.config import Settings
from casebook.field.models import FieldKey, FieldSubmission
from casebook.keys.models import CaseKey
from tests.conftest import EnglishClient, cli_env, csrf_token, login, make_user
from tests.field.phone import (
    JPEG,
    encrypt_submission,
    instance_xml,
    new_instance_id,
    post,
    public_key_from_form,
)

CANARY = "ZQXFIELDCANARY"


def add_device(client: FlaskClient, label: str = "Rami's phone") -> str:
    """Add a device through the documenter's page; the token from the shown server URL."""
    resp = client.post(
        "/field/devices", data={"label": label, "csrf_token": csrf_token(client, "/field/devices")}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    html = resp.get_data(as_text=True)
    assert "<svg" in html
    match = re.search(r"/field/(cbf_[A-Za-z0-9_-]+)", html)
    assert match
    return match.group(1)


def _form(phone: FlaskClient, token: str) -> tuple[str, rsa.RSAPublicKey]:
    listing = phone.get(f"/field/{token}/formList", headers={"X-OpenRosa-Version": "1.0"})
    assert listing.status_code == 200
    assert listing.headers["X-OpenRosa-Version"] == "1.0"
    body = listing.get_data(as_text=True)
    version = re.search(r"<version>([^<]+)</version>", body)
    url = re.search(r"<downloadUrl>([^<]+)</downloadUrl>", body)
    assert version and url and "<hash>md5:" in body
    form = phone.get(url.group(1).replace("http://localhost", ""))
    assert form.status_code == 200
    return version.group(1), public_key_from_form(form.get_data(as_text=True))


def _rows(app: Flask) -> list[FieldSubmission]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return list(s.scalars(select(FieldSubmission)))


def test_a_phone_submission_lands_in_the_inbox_and_becomes_a_case(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    head = phone.open(f"/field/{token}/submission", method="HEAD")
    assert head.status_code == 204
    assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) > 1024 * 1024

    iid = new_instance_id()
    xml = instance_xml(version, iid, first_name=f"{CANARY}", photo_file="photo1.jpg")
    sub = encrypt_submission(public, version, xml, [("photo1.jpg", JPEG)], iid)
    resp = post(phone, token, sub)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert "<OpenRosaResponse" in resp.get_data(as_text=True)
    assert resp.headers["X-OpenRosa-Version"] == "1.0"

    # the same submission again (a phone that lost the answer): idempotent
    again = post(phone, token, sub)
    assert again.status_code == 202
    assert len(_rows(app)) == 1

    # nothing readable was written anywhere in the instance folder
    instance = Path(app.config["CASEBOOK"].instance)
    for path in instance.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CANARY.encode() not in data, path
            assert JPEG[20:60] not in data, path

    inbox = client.get("/field/inbox")
    assert inbox.status_code == 200
    assert CANARY in inbox.get_data(as_text=True)
    sid = _rows(app)[0].id
    page = client.get(f"/field/inbox/{sid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert CANARY in html and "photo1.jpg" in html and 'value="aleppo" selected' in html

    # the documenter corrects the form (a Latin name added) and saves it
    form = {
        "person.first_name": CANARY,
        "person.family_name": "الحلبي",
        "person.latin_name": "Ahmad al-Halabi",
        "person.sex": "male",
        "person.birth_date": "1985",
        "arrests.0.date": "2013-05",
        "arrests.0.governorate": "aleppo",
        "status.0.status": "forcibly_disappeared",
        "status.0.date": "2013-05",
        "source.name": "أم أحمد",
        "source.confidential": "yes",
        "consent.documentation.granted": "yes",
        "consent.documentation.date": "2024-05-01",
        "testimony.text": "اعتقل من الحاجز",
        "testimony.language": "ar",
        "csrf_token": csrf_token(client, f"/field/inbox/{sid}"),
    }
    saved = client.post(f"/field/inbox/{sid}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    case_url = saved.headers["Location"]
    case_page = client.get(case_url).get_data(as_text=True)
    assert "Ahmad al-Halabi" in case_page and "photo1.jpg" in case_page
    with app.extensions["casebook.db"].sessionmaker() as s:
        row = s.get(FieldSubmission, sid)
        assert row is not None and row.state == "saved" and row.body_enc is None
        assert s.get(CaseKey, sid) is None  # the submission's key is destroyed
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        attachment = s.scalars(select(Attachment)).one()
        assert attachment.case_id == row.case_id
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"field.device_create", "field.submission_receive", "field.submission_save"} <= actions
    assert client.get(f"/field/inbox/{sid}").status_code == 404  # no longer in the inbox
    # still idempotent after it became a case
    assert post(phone, token, sub).status_code == 202
    with app.extensions["casebook.db"].sessionmaker() as s:
        details = " ".join(e or "" for e in s.scalars(select(AuditEntry.details)))
    assert CANARY not in details and "cbf_" not in details

    # erasing the case leaves the inbox row naming no case
    from casebook.audit.services import Actor
    from casebook.cases.services import case_erase

    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        row = s.get(FieldSubmission, sid)
        assert row is not None and row.case_id is not None
        case = s.get(Case, row.case_id)
        assert case is not None
        case_erase(
            s,
            Actor.cli(),
            case,
            case.reference,
            instance / "attachments",
            instance / "erasures.jsonl",
        )
    with app.extensions["casebook.db"].sessionmaker() as s:
        row = s.get(FieldSubmission, sid)
        assert row is not None and row.case_id is None


def test_the_form_carries_the_vocabularies_both_languages_and_the_public_key(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, _public = _form(phone, token)
    xform = phone.get(f"/field/{token}/forms/casebook_case.xml").get_data(as_text=True)
    for vocabulary in (vocab.GOVERNORATES, vocab.PERPETRATORS, vocab.STATUSES):
        for term in vocabulary.terms:
            assert f"<name>{term.code}</name>" in xform, term.code
            assert term.ar in xform
            assert term.en in xform or term.en.replace("'", "&apos;") in xform
    assert 'lang="العربية (ar)"' in xform and 'lang="English (en)"' in xform
    with app.extensions["casebook.db"].sessionmaker() as s:
        key = s.scalars(select(FieldKey)).one()
        assert key.public_key in xform
        assert s.get(CaseKey, key.id) is not None  # the private key is wrapped by the KEK
    assert f'version="{version}"' in xform


def test_the_qr_code_configures_collect_with_the_device_url(
    app: Flask, client: FlaskClient, documenter: object
) -> None:
    from casebook.field.views import collect_settings

    payload = collect_settings("https://casebook.example/field/cbf_x")
    settings = json.loads(zlib.decompress(base64.b64decode(payload)))
    assert settings["general"]["server_url"] == "https://casebook.example/field/cbf_x"
    assert settings["admin"] == {}


def _submit(phone: FlaskClient, token: str, public: rsa.RSAPublicKey, version: str, **kw: str):  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    return encrypt_submission(public, version, instance_xml(version, iid, **kw), [], iid)


@pytest.mark.parametrize(
    "attack", ["tampered", "truncated", "wrong_key", "unencrypted", "replayed", "unsigned_media"]
)
def test_bad_submissions_are_refused_in_openrosa_form(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient, attack: str
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    sub = _submit(phone, token, public, version)
    expected = 400
    if attack == "tampered":
        enc = bytearray(sub.files["submission.xml.enc"])
        enc[40] ^= 0x01
        sub.files["submission.xml.enc"] = bytes(enc)
    elif attack == "truncated":
        sub.files["submission.xml.enc"] = sub.files["submission.xml.enc"][:-16]
    elif attack == "wrong_key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        sub = encrypt_submission(
            other, version, instance_xml(version, sub.instance_id), [], sub.instance_id
        )
    elif attack == "unencrypted":
        sub = dataclasses.replace(sub, manifest=instance_xml(version, sub.instance_id), files={})
    elif attack == "replayed":
        assert post(phone, token, sub).status_code == 201
        # the same instance ID with other content (another key, other answers)
        sub = encrypt_submission(
            public,
            version,
            instance_xml(version, sub.instance_id, first_name="Other"),
            [],
            sub.instance_id,
        )
        expected = 409
    elif attack == "unsigned_media":
        # a file slipped in that the phone never listed nor signed: the manifest is what
        # counts, so an extra part is ignored, but a listed file that is swapped fails
        iid = new_instance_id()
        xml = instance_xml(version, iid, photo_file="a.jpg")
        sub = encrypt_submission(public, version, xml, [("a.jpg", JPEG)], iid)
        swap = encrypt_submission(public, version, xml, [("a.jpg", JPEG[::-1])], iid)
        sub.files["a.jpg.enc"] = swap.files["a.jpg.enc"]
    before = len(_rows(app))
    resp = post(phone, token, sub)
    body = resp.get_data(as_text=True)
    assert resp.status_code == expected, body
    assert '<message nature="error">' in body and "OpenRosaResponse" in body
    assert resp.headers["X-OpenRosa-Version"] == "1.0"
    assert len(_rows(app)) == before
    # the refused submission left no file behind
    field_dir = Path(app.config["CASEBOOK"].instance) / "attachments" / "field"
    assert not field_dir.exists() or not any(field_dir.iterdir())
    with app.extensions["casebook.db"].sessionmaker() as s:
        refusals = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "field.submission_receive", AuditEntry.outcome == "failure")
        )
    assert refusals == 1


def test_a_revoked_device_gets_401_and_cannot_send(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    page = client.get("/field/devices").get_data(as_text=True)
    device_id = re.search(r"/field/devices/([0-9a-f-]{36})/revoke", page)
    assert device_id
    resp = client.post(
        f"/field/devices/{device_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(client, "/field/devices")},
    )
    assert resp.status_code == 302
    for r in (
        phone.get(f"/field/{token}/formList"),
        phone.open(f"/field/{token}/submission", method="HEAD"),
        post(phone, token, _submit(phone, token, public, version)),
    ):
        assert r.status_code == 401
        assert r.headers["X-OpenRosa-Version"] == "1.0"
        assert r.request.method == "HEAD" or "OpenRosaResponse" in r.get_data(as_text=True)
    assert _rows(app) == []
    assert phone.get("/field/cbf_nonsense/formList").status_code == 401


def test_a_device_submits_only_to_its_owners_inbox(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    assert post(phone, token, _submit(phone, token, public, version)).status_code == 201
    sid = _rows(app)[0].id
    other = app.test_client()
    login(other, make_user(app, "documenter"))
    assert str(sid) not in other.get("/field/inbox").get_data(as_text=True)
    assert other.get(f"/field/inbox/{sid}").status_code == 404
    resp = other.post(
        f"/field/inbox/{sid}/discard", data={"csrf_token": csrf_token(other, "/field/inbox")}
    )
    assert resp.status_code == 404
    # the owner discards it: gone, its key destroyed, audited
    resp = client.post(
        f"/field/inbox/{sid}/discard", data={"csrf_token": csrf_token(client, "/field/inbox")}
    )
    assert resp.status_code == 302
    with app.extensions["casebook.db"].sessionmaker() as s:
        row = s.get(FieldSubmission, sid)
        assert row is not None and row.state == "discarded" and s.get(CaseKey, sid) is None
        assert "field.submission_discard" in set(s.scalars(select(AuditEntry.action)))


def test_a_submission_with_problems_waits_with_them_listed(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    sub = _submit(
        phone,
        token,
        public,
        version,
        consent_documentation="no",
        birth_date="85/13/99",
        first_name="<script>alert(1)</script>",
    )
    assert post(phone, token, sub).status_code == 201
    html = client.get("/field/inbox").get_data(as_text=True)
    # problems named by the case form's labels, not by internal paths
    assert "Date of birth" in html and "Consent of the family" in html
    assert "person.birth_date" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


@pytest.fixture
def small_app(settings: Settings) -> Iterator[Flask]:
    application = create_app(dataclasses.replace(settings, max_attachment_bytes=64 * 1024))
    application.test_client_class = EnglishClient
    application.extensions["casebook.vault"].load()
    yield application
    application.extensions["casebook.db"].dispose()


def test_a_submission_over_the_limit_is_413_in_openrosa_form(small_app: Flask) -> None:
    client = small_app.test_client()
    login(client, make_user(small_app, "documenter"))
    token = add_device(client)
    phone = small_app.test_client()
    version, public = _form(phone, token)
    assert (
        int(
            phone.open(f"/field/{token}/submission", method="HEAD").headers[
                "X-OpenRosa-Accept-Content-Length"
            ]
        )
        == small_app.config["MAX_CONTENT_LENGTH"]
    )
    iid = new_instance_id()
    big = JPEG + bytes(small_app.config["MAX_CONTENT_LENGTH"])
    sub = encrypt_submission(
        public, version, instance_xml(version, iid, photo_file="a.jpg"), [("a.jpg", big)], iid
    )
    resp = post(phone, token, sub)
    assert resp.status_code == 413
    assert '<message nature="error">' in resp.get_data(as_text=True)
    assert _rows(small_app) == []


def test_keys_rotate_rewraps_the_form_key_and_submissions_stay_readable(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    from casebook.audit.services import Actor
    from casebook.keys.services import keys_retire, keys_rotate

    token = add_device(client)
    version, public = _form(phone, token)
    vault = app.extensions["casebook.vault"]
    factory = app.extensions["casebook.db"].sessionmaker
    old_kek = vault.keyring.primary_id
    with factory() as s, s.begin():
        new_kek = keys_rotate(s, Actor.cli(), vault)
    with factory() as s:
        key = s.scalars(select(FieldKey)).one()
        wrapped = s.get(CaseKey, key.id)
        assert wrapped is not None and wrapped.kek_id == new_kek  # no `keys rewrap` needed
    with factory() as s, s.begin():
        keys_retire(s, Actor.cli(), vault, old_kek)  # nothing depends on the old KEK any more
    vault.forget_all()
    assert post(phone, token, _submit(phone, token, public, version)).status_code == 201
    assert client.get("/field/inbox").status_code == 200


def test_the_cli_writes_the_xlsform_workbook(app: Flask, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from casebook.cli import cli

    settings = app.config["CASEBOOK"]
    env = cli_env(settings)
    out = tmp_path / "case.xlsx"
    result = CliRunner().invoke(cli, ["field", "form", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames == ["survey", "choices", "settings"]
    names = {row[1] for row in wb["choices"].iter_rows(min_row=2, values_only=True)}
    assert vocab.GOVERNORATES.codes <= names
    survey = list(wb["survey"].iter_rows(values_only=True))
    required = {row[1] for row in survey[1:] if row[survey[0].index("required")] == "yes"}
    assert "first_name" in required and "family_name" not in required  # may not be known
    settings = list(wb["settings"].iter_rows(values_only=True))
    assert settings[0][:2] == ("form_title", "form_id") and settings[1][1] == "casebook_case"
    wb.close()


def test_a_new_key_pair_from_the_cli_changes_the_form_and_old_phones_still_deliver(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    """After a phone is lost the admin makes a new key pair: phones downloading the form get
    the new public key and version; a submission encrypted for the old key still opens."""
    from click.testing import CliRunner

    from casebook.cli import cli

    settings = app.config["CASEBOOK"]
    env = cli_env(settings)
    token = add_device(client)
    old_version, old_public = _form(phone, token)
    result = CliRunner().invoke(cli, ["field", "new-key"], env=env)
    assert result.exit_code == 0, result.output
    new_version, new_public = _form(phone, token)
    assert new_version != old_version and new_version in result.output
    assert new_public.public_numbers() != old_public.public_numbers()
    iid = new_instance_id()
    sub = encrypt_submission(old_public, old_version, instance_xml(old_version, iid), [], iid)
    assert post(phone, token, sub).status_code == 201
    iid = new_instance_id()
    sub = encrypt_submission(new_public, new_version, instance_xml(new_version, iid), [], iid)
    assert post(phone, token, sub).status_code == 201
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(FieldKey)) == 2
        assert "field.key_create" in set(s.scalars(select(AuditEntry.action)))
    result = CliRunner().invoke(cli, ["field", "expire", "--older-than-hours", "0"], env=env)
    assert result.exit_code == 0, result.output
    assert "0 unfinished" in result.output


def test_a_submission_from_an_older_form_version_is_kept_with_a_note(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    _version, public = _form(phone, token)
    iid = new_instance_id()
    old = "1.1.00000000"  # the first key pair's form, with questions since changed
    sub = encrypt_submission(public, old, instance_xml(old, iid), [], iid)
    assert post(phone, token, sub).status_code == 201
    assert "Sent with an older version of the form." in client.get("/field/inbox").get_data(
        as_text=True
    )


def test_an_older_form_version_that_fails_the_case_rules_is_refused_with_the_reason(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    _version, public = _form(phone, token)
    iid = new_instance_id()
    old = "1.1.00000000"
    xml = instance_xml(old, iid, consent_documentation="no", first_name=CANARY)
    resp = post(phone, token, encrypt_submission(public, old, xml, [], iid))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert '<message nature="error">' in body and "consent" in body
    assert CANARY not in body  # the reason names fields, never what was typed
    assert _rows(app) == []


def test_a_submission_split_over_several_requests_is_put_back_together(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    """ODK Collect splits a submission larger than X-OpenRosa-Accept-Content-Length: every
    request but the last carries `*isIncomplete*` = yes and some of the files."""
    token = add_device(client)
    version, public = _form(phone, token)
    iid = new_instance_id()
    xml = instance_xml(version, iid, photo_file="a.jpg", audio_file="b.jpg")
    sub = encrypt_submission(public, version, xml, [("a.jpg", JPEG), ("b.jpg", JPEG)], iid)
    first = dataclasses.replace(sub, files={"a.jpg.enc": sub.files["a.jpg.enc"]})
    resp = post(phone, token, first, fields={"*isIncomplete*": "yes"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert CANARY not in client.get("/field/inbox").get_data(as_text=True)
    assert [r.state for r in _rows(app)] == ["partial"]
    rest = dataclasses.replace(sub, files={k: v for k, v in sub.files.items() if k != "a.jpg.enc"})
    resp = post(phone, token, rest)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    rows = _rows(app)
    assert [r.state for r in rows] == ["inbox"]
    page = client.get(f"/field/inbox/{rows[0].id}").get_data(as_text=True)
    assert "a.jpg" in page and "b.jpg" in page
    assert post(phone, token, sub).status_code == 202


def test_a_split_submission_that_never_finishes_is_shredded_and_can_be_sent_again(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    """A phone that loses its connection after the first part leaves encrypted testimony on
    the server; after two days without the rest it is shredded (files overwritten, key
    destroyed), and the phone's later full resend lands in the inbox as new."""
    token = add_device(client)
    version, public = _form(phone, token)
    iid = new_instance_id()
    xml = instance_xml(version, iid, photo_file="a.jpg", audio_file="b.jpg")
    sub = encrypt_submission(public, version, xml, [("a.jpg", JPEG), ("b.jpg", JPEG)], iid)
    first = dataclasses.replace(sub, files={"a.jpg.enc": sub.files["a.jpg.enc"]})
    assert post(phone, token, first, fields={"*isIncomplete*": "yes"}).status_code == 201
    (partial,) = _rows(app)
    field_dir = Path(app.config["CASEBOOK"].instance) / "attachments" / "field"
    files_before = set(field_dir.iterdir())
    assert files_before, "the first part's file is kept, sealed, while the rest is awaited"

    # A fresh part keeps it: expiry counts from the latest part.
    other_iid = new_instance_id()
    other = encrypt_submission(public, version, instance_xml(version, other_iid), [], other_iid)
    assert post(phone, token, other).status_code == 201
    assert {r.state for r in _rows(app)} == {"partial", "inbox"}

    with app.extensions["casebook.db"].sessionmaker() as s:
        row = s.get(FieldSubmission, partial.id)
        assert row is not None
        row.received_at = row.received_at - timedelta(hours=49)
        s.commit()

    # The next submission from any device does the housekeeping.
    third_iid = new_instance_id()
    third = encrypt_submission(public, version, instance_xml(version, third_iid), [], third_iid)
    assert post(phone, token, third).status_code == 201
    states = {r.id: r.state for r in _rows(app)}
    assert states[partial.id] == "expired"
    assert not (files_before & set(field_dir.iterdir())), "the waiting part is shredded"
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalar(select(func.count()).where(CaseKey.owner_id == partial.id)) == 0
        actions = list(s.scalars(select(AuditEntry.action)))
        assert "field.submission_expire" in actions

    # ODK Collect retries the whole submission later: it is received, not "already received".
    resp = post(phone, token, sub)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    rows = [r for r in _rows(app) if r.state == "inbox"]
    assert len(rows) == 3
    inbox = client.get("/field/inbox").get_data(as_text=True)
    assert inbox.count("/field/inbox/") >= 3
