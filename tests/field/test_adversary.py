"""What an outside tester tried against the phone endpoints, and what a documenter must see:
no padding oracle, a throttle on refused submissions, no database lock held while a slow phone
uploads, nothing identifying in clear on the phone, split submissions handled per documenter,
and the inbox telling the documenter what will and will not be kept."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import re
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import encode_multipart

from casebook.audit.models import AuditEntry
from casebook.field.models import FieldSubmission
from casebook.keys.models import CaseKey
from tests.conftest import csrf_token, login, make_user
from tests.field.phone import (
    JPEG,
    Encrypted,
    encrypt_submission,
    instance_xml,
    new_instance_id,
    post,
)
from tests.field.test_openrosa import _form, _rows, add_device

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _valid(public: rsa.RSAPublicKey, version: str, **answers: str) -> Encrypted:
    iid = new_instance_id()
    xml = instance_xml(version, iid, testimony="اعتقل من الحاجز " * 20, **answers)
    return encrypt_submission(public, version, xml, [], iid)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def _answer(resp: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    return resp.status_code, resp.get_data(), sorted(resp.headers.items())


def _refusal_details(app: Flask) -> list[str]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        return list(
            s.scalars(
                select(AuditEntry.details)
                .where(
                    AuditEntry.action == "field.submission_receive",
                    AuditEntry.outcome == "failure",
                )
                .order_by(AuditEntry.seq)
            )
        )


# -- 1. no padding oracle; a throttle on refusals ------------------------------------------------


def test_a_bad_padding_and_a_bad_signature_get_byte_identical_answers(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    """The oracle the tester used: the last block altered (the CBC/CFB padding breaks) against
    the first block altered (padding fine, content and signature wrong). Truncation, a key
    wrapped for another server and a damaged photo answer the same, byte for byte."""
    token = add_device(client)
    version, public = _form(phone, token)
    answers = {}

    bad_padding = _valid(public, version)
    enc = bad_padding.files["submission.xml.enc"]
    bad_padding.files["submission.xml.enc"] = _flip(enc, len(enc) - 1)
    answers["padding"] = _answer(post(phone, token, bad_padding))

    bad_content = _valid(public, version)
    bad_content.files["submission.xml.enc"] = _flip(bad_content.files["submission.xml.enc"], 3)
    answers["signature"] = _answer(post(phone, token, bad_content))

    truncated = _valid(public, version)
    truncated.files["submission.xml.enc"] = truncated.files["submission.xml.enc"][:-16]
    answers["truncated"] = _answer(post(phone, token, truncated))

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    answers["wrong_key"] = _answer(post(phone, token, _valid(other, version)))

    iid = new_instance_id()
    xml = instance_xml(version, iid, photo_file="a.jpg")
    media = encrypt_submission(public, version, xml, [("a.jpg", JPEG)], iid)
    media.files["a.jpg.enc"] = _flip(media.files["a.jpg.enc"], len(media.files["a.jpg.enc"]) - 1)
    answers["media_padding"] = _answer(post(phone, token, media))

    first = answers["padding"]
    assert first[0] == 400 and b'<message nature="error">' in first[1]
    for name, answer in answers.items():
        assert answer == first, name
    details = _refusal_details(app)
    assert len(details) == len(answers) and len(set(details)) == 1, details
    assert _rows(app) == []


def test_a_device_whose_submissions_keep_being_refused_is_throttled(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    for _ in range(10):
        bad = _valid(public, version)
        bad.files["submission.xml.enc"] = bad.files["submission.xml.enc"][:-16]
        assert post(phone, token, bad).status_code == 400
    # the eleventh within the hour is not even looked at, and neither is a good one
    resp = post(phone, token, _valid(public, version))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 429, body
    assert '<message nature="error">' in body and "OpenRosaResponse" in body
    assert resp.headers["X-OpenRosa-Version"] == "1.0"
    assert _rows(app) == []
    with app.extensions["casebook.db"].sessionmaker() as s:
        denied = s.scalars(
            select(AuditEntry.details).where(
                AuditEntry.action == "field.submission_receive", AuditEntry.outcome == "denied"
            )
        ).all()
    assert denied == ['{"reason":"throttled","status":429}']
    # another device of the same documenter is not held back
    other = add_device(client, "Second phone")
    assert post(phone, other, _valid(public, version)).status_code == 201


# -- 2. a slow upload holds no database lock --------------------------------------------------


class _SlowBody(io.RawIOBase):
    """A request body that stops half-way until released, as a phone on a bad line does."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data, self.pos = data, 0
        self.halfway = threading.Event()
        self.release = threading.Event()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else (self.pos + offset if whence == 1 else len(self.data))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= len(self.data) // 2 and not self.release.is_set():
            self.halfway.set()
            self.release.wait(40)
        chunk = self.data[self.pos : self.pos + min(len(buffer), 512)]
        buffer[: len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


CASE_FORM = {
    "person.first_name": "سامر",
    "person.family_name": "الحلبي",
    "person.sex": "male",
    "arrests.0.date": "2013-05",
    "arrests.0.governorate": "aleppo",
    "status.0.status": "forcibly_disappeared",
    "source.name": "أم سامر",
    "source.confidential": "yes",
    "consent.documentation.granted": "yes",
    "consent.documentation.date": "2024-05-01",
}


def test_a_slow_upload_leaves_the_rest_of_the_site_working(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    iid = new_instance_id()
    xml = instance_xml(version, iid, photo_file="a.jpg")
    sub = encrypt_submission(public, version, xml, [("a.jpg", JPEG * 40)], iid)
    fields: dict[str, Any] = {
        "xml_submission_file": (io.BytesIO(sub.manifest), "submission.xml", "text/xml")
    }
    for name, content in sub.files.items():
        fields[name] = (io.BytesIO(content), name, "application/octet-stream")
    from werkzeug.datastructures import FileStorage, MultiDict

    values = MultiDict(
        {k: FileStorage(stream=v[0], filename=v[1], content_type=v[2]) for k, v in fields.items()}
    )
    boundary, body = encode_multipart(values)
    slow = _SlowBody(body)
    result: dict[str, Any] = {}

    def upload() -> None:
        try:
            resp = app.test_client().post(
                f"/field/{token}/submission",
                input_stream=slow,
                content_length=len(body),
                content_type=f"multipart/form-data; boundary={boundary}",
            )
            result["status"] = resp.status_code
        except BaseException as exc:  # reported by the assertion below
            result["error"] = repr(exc)
            slow.halfway.set()

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert slow.halfway.wait(30), "the upload never started"
        assert "error" not in result, result
        # no timing asserted: while the upload is held half-way (below), a request that had to
        # wait for its transaction would hit the busy timeout and answer 500, never 200/302
        anonymous = app.test_client()
        assert anonymous.get("/login").status_code == 200
        saved = client.post(
            "/cases/new", data={**CASE_FORM, "csrf_token": csrf_token(client, "/cases/new")}
        )
        assert saved.status_code == 302, saved.get_data(as_text=True)[:300]
        assert not slow.release.is_set() and thread.is_alive()  # still mid-upload meanwhile
    finally:
        slow.release.set()
        thread.join(60)
    assert result.get("status") == 201
    assert [r.state for r in _rows(app)] == ["inbox"]


# -- 3. nothing identifying in clear on the phone ---------------------------------------------


def test_the_form_names_no_instance_after_the_person_and_collect_deletes_after_send(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    from casebook.field.views import collect_settings

    token = add_device(client)
    _form(phone, token)
    xform = phone.get(f"/field/{token}/forms/casebook_case.xml").get_data(as_text=True)
    assert "first_name" in xform
    assert "instanceName" not in xform and "family_name)" not in xform
    settings = json.loads(zlib.decompress(base64.b64decode(collect_settings("https://x/field/y"))))
    assert settings["general"]["delete_send"] is True
    page = client.post(
        "/field/devices",
        data={"label": "QR phone", "csrf_token": csrf_token(client, "/field/devices")},
    )
    assert page.status_code == 200


# -- 4. split submissions ------------------------------------------------------------------------


def _split(public: rsa.RSAPublicKey, version: str, iid: str | None = None) -> Encrypted:
    iid = iid or new_instance_id()
    xml = instance_xml(version, iid, photo_file="a.jpg", audio_file="b.jpg")
    return encrypt_submission(public, version, xml, [("a.jpg", JPEG), ("b.jpg", JPEG)], iid)


def _first_part(sub: Encrypted) -> Encrypted:
    return dataclasses.replace(sub, files={"a.jpg.enc": sub.files["a.jpg.enc"]})


def _language(client: FlaskClient, lang: str) -> None:
    switched = client.post(
        "/language",
        data={"lang": lang, "next": "/", "csrf_token": csrf_token(client, "/field/inbox")},
    )
    assert switched.status_code == 302


def test_parts_are_answered_as_parts_and_the_inbox_says_they_are_arriving(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    sub = _split(public, version)
    resp = post(phone, token, _first_part(sub), fields={"*isIncomplete*": "yes"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 201
    assert "Part received; waiting for the rest of the submission." in body
    assert "field inbox" not in body
    inbox = client.get("/field/inbox").get_data(as_text=True)
    assert "1 submission is still arriving from a phone" in inbox and "48 hours" in inbox
    _language(client, "ar")
    assert "إرسال واحد ما زال يصل من هاتف" in client.get("/field/inbox").get_data(as_text=True)
    _language(client, "en")
    rest = dataclasses.replace(sub, files={k: v for k, v in sub.files.items() if k != "a.jpg.enc"})
    resp = post(phone, token, rest)
    assert "Received: it is waiting in your field inbox." in resp.get_data(as_text=True)
    assert "still arriving" not in client.get("/field/inbox").get_data(as_text=True)


def test_revoking_a_device_shreds_its_unfinished_submissions_at_once(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    assert (
        post(
            phone, token, _first_part(_split(public, version)), fields={"*isIncomplete*": "yes"}
        ).status_code
        == 201
    )
    (partial,) = _rows(app)
    field_dir = Path(app.config["CASEBOOK"].instance) / "attachments" / "field"
    kept = set(field_dir.iterdir())
    assert kept
    page = client.get("/field/devices").get_data(as_text=True)
    device_id = re.search(r"/field/devices/([0-9a-f-]{36})/revoke", page)
    assert device_id
    resp = client.post(
        f"/field/devices/{device_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(client, "/field/devices")},
    )
    assert resp.status_code == 302
    assert [r.state for r in _rows(app)] == ["expired"]
    assert not kept & set(field_dir.iterdir())
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.get(CaseKey, partial.id) is None


def test_instance_ids_are_per_documenter(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    """Documenter B's device can neither block A's submission by claiming its instance ID
    nor learn that an instance ID exists in A's inbox; A's resends stay idempotent."""
    token = add_device(client)
    version, public = _form(phone, token)
    other = app.test_client()
    login(other, make_user(app, "documenter"))
    other_token = add_device(other, "B's phone")

    sub = _split(public, version)
    # B's device claims A's instance ID first, with a part of a submission of its own
    claim = _split(public, version, sub.instance_id)
    assert (
        post(phone, other_token, _first_part(claim), fields={"*isIncomplete*": "yes"}).status_code
        == 201
    )
    resp = post(phone, token, sub)  # A's phone: received, not 409
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert post(phone, token, sub).status_code == 202

    third = app.test_client()
    login(third, make_user(app, "documenter"))
    third_token = add_device(third, "C's phone")
    # A's very submission, replayed from C's device, is never decrypted into C's inbox…
    assert post(phone, third_token, sub).status_code == 409
    # …and C's device probing an instance ID in A's inbox learns nothing (no 409)
    probe = encrypt_submission(
        public, version, instance_xml(version, sub.instance_id), [], sub.instance_id
    )
    assert post(phone, third_token, probe).status_code == 201
    states = sorted(r.state for r in _rows(app))
    assert states == ["inbox", "inbox", "partial"]


def test_a_submission_stored_under_the_global_hash_is_still_found(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    """Rows received before instance hashes included the owner keep their global hash: a
    resend of one is still answered 'already received'."""
    token = add_device(client)
    version, public = _form(phone, token)
    sub = _valid(public, version)
    assert post(phone, token, sub).status_code == 201
    vault = app.extensions["casebook.vault"]
    with app.extensions["casebook.db"].sessionmaker() as s:
        row = s.scalars(select(FieldSubmission)).one()
        row.instance_hash = vault.keyed_hash("field-instance", sub.instance_id)
        s.commit()
    assert post(phone, token, sub).status_code == 202
    assert len(_rows(app)) == 1


# -- 5. what the documenter is told ------------------------------------------------------------


def test_the_item_page_says_what_will_not_be_kept_and_what_the_phone_sent(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client, "Phone of Homs team")
    version, public = _form(phone, token)
    iid = new_instance_id()
    xml = instance_xml(version, iid, photo_file="a.jpg", audio_file="evil.svg", sex="<b>alien</b>")
    sub = encrypt_submission(public, version, xml, [("a.jpg", JPEG), ("evil.svg", SVG)], iid)
    assert post(phone, token, sub).status_code == 201
    (row,) = _rows(app)
    inbox = client.get("/field/inbox").get_data(as_text=True)
    assert "Phone of Homs team" in inbox
    assert "Sex: Choose one of the listed values." in inbox and "person.sex" not in inbox
    page = client.get(f"/field/inbox/{row.id}").get_data(as_text=True)
    assert "Phone of Homs team" in page
    accepted, refused = page.split("will not be attached (type not accepted)")
    assert "a.jpg" in accepted.split("will be attached to the case")[-1]
    assert "evil.svg" in refused.split("</p>")[0] and "evil.svg" not in accepted
    assert "The phone sent: &lt;b&gt;alien&lt;/b&gt;" in page and "<b>alien" not in page

    form = {**CASE_FORM, "csrf_token": csrf_token(client, f"/field/inbox/{row.id}")}
    saved = client.post(f"/field/inbox/{row.id}", data=form, follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "1 files from the phone were attached." in html
    assert "1 files from the phone were not attached (type not accepted): evil.svg" in html


def test_problems_are_named_in_the_pages_language_and_unknown_versions_are_called_so(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    iid = new_instance_id()
    made_up = "7.7.whatever"
    xml = instance_xml(made_up, iid)
    assert post(phone, token, encrypt_submission(public, made_up, xml, [], iid)).status_code == 201
    inbox = client.get("/field/inbox").get_data(as_text=True)
    assert "Sent with an unknown form version." in inbox and "older version" not in inbox
    iid = new_instance_id()
    xml = instance_xml(made_up, iid, birth_date="85/13/99")
    resp = post(phone, token, encrypt_submission(public, made_up, xml, [], iid))
    assert resp.status_code == 422
    assert "does not know this version" in resp.get_data(as_text=True)
    iid = new_instance_id()
    xml = instance_xml(version, iid, birth_date="85/13/99")
    assert post(phone, token, encrypt_submission(public, version, xml, [], iid)).status_code == 201
    _language(client, "ar")
    arabic = client.get("/field/inbox").get_data(as_text=True)
    assert "تاريخ الميلاد" in arabic and "person.birth_date" not in arabic


# -- 6. odd inputs -----------------------------------------------------------------------------


def test_deeply_nested_xml_is_refused_before_it_is_walked(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    deep = b"<x>" * 100_000 + b"</x>" * 100_000
    iid = new_instance_id()
    xml = instance_xml(version, iid).replace(b"</data>", deep + b"</data>")
    nested_instance = encrypt_submission(public, version, xml, [], iid)
    nested_manifest = _valid(public, version)
    nested_manifest = dataclasses.replace(
        nested_manifest, manifest=nested_manifest.manifest.replace(b"</data>", deep + b"</data>")
    )
    for sub in (nested_instance, nested_manifest):
        resp = post(phone, token, sub)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 400, body
        assert "nested too deeply" in body and '<message nature="error">' in body
    assert _rows(app) == []


def test_control_characters_in_file_names_are_cleaned_at_receipt(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    iid = new_instance_id()
    name = "photo\u202egpj.exe.jpg"
    xml = instance_xml(version, iid, photo_file=name)
    sub = encrypt_submission(public, version, xml, [(name, JPEG)], iid)
    assert post(phone, token, sub).status_code == 201
    (row,) = _rows(app)
    page = client.get(f"/field/inbox/{row.id}").get_data(as_text=True)
    assert "\u202e" not in page and "photogpj.exe.jpg" in page


def test_the_not_found_page_never_repeats_a_device_token(
    app: Flask,
    client: FlaskClient,
    documenter: object,
    phone: FlaskClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = add_device(client)
    version, public = _form(phone, token)
    resp = phone.get(f"/field/{token}/nothing-here")
    assert resp.status_code == 404
    assert token not in resp.get_data(as_text=True)
    assert post(phone, token, _valid(public, version)).status_code == 201
    assert caplog.records and not any(token in str(vars(r)) for r in caplog.records)
    assert 'name="next" value="/field/inbox"' in client.get("/field/inbox").get_data(as_text=True)


def test_too_many_parts_get_their_own_message(
    app: Flask, client: FlaskClient, documenter: object, phone: FlaskClient
) -> None:
    token = add_device(client)
    version, public = _form(phone, token)
    sub = _valid(public, version)
    for i in range(150):
        sub.files[f"p{i}.enc"] = b"x"
    resp = post(phone, token, sub)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert "too many files" in body and "MB" not in body
