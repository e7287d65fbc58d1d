"""An attachment over the limit is refused with the limit stated (never a server error), and the
upload form says the limit before anyone tries."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casebook import create_app
from casebook.config import Settings
from tests.conftest import EnglishClient, bearer, csrf_from, login, make_user, minimal_case

LIMIT = 100 * 1024


@pytest.fixture
def small_app(settings: Settings) -> Iterator[Flask]:
    application = create_app(dataclasses.replace(settings, max_attachment_bytes=LIMIT))
    application.test_client_class = EnglishClient
    application.extensions["casebook.vault"].load()
    yield application
    application.extensions["casebook.db"].dispose()


def _case(app: Flask, client: FlaskClient) -> tuple[str, dict[str, str]]:
    h = bearer(app, make_user(app, "lawyer"))
    return client.post("/api/v1/cases", json=minimal_case(), headers=h).get_json()["id"], h


def test_just_over_the_limit_is_a_clean_413_stating_the_limit(small_app: Flask) -> None:
    client = small_app.test_client()
    cid, h = _case(small_app, client)
    resp = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers={**h, "Accept-Language": "en"},
        data={"file": (io.BytesIO(b"%PDF-" + b"0" * (LIMIT + 100 - 5)), "big.pdf")},
    )
    assert resp.status_code == 413
    error = resp.get_json()["error"]
    assert error["code"] == "too_large" and "100 KB" in error["message"]


def test_too_large_a_file_returns_to_the_case_with_the_limit_beside_the_field(
    small_app: Flask,
) -> None:
    client = small_app.test_client()
    cid, _h = _case(small_app, client)
    login(client, make_user(small_app, "lawyer"))
    html = client.get(f"/cases/{cid}").get_data(as_text=True)
    assert "100 KB" in html
    resp = client.post(
        f"/cases/{cid}/attachments",
        data={
            "csrf_token": csrf_from(html),
            "file": (io.BytesIO(b"%PDF-" + b"0" * (LIMIT + 100)), "big.pdf"),
        },
    )
    # no dead end: back to the case page, the upload field marked and the limit beside it
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/cases/{cid}#attach-file")
    page = client.get(f"/cases/{cid}").get_data(as_text=True)
    field = page[page.index('id="attach-file"') - 200 : page.index('id="attach-file-error"') + 200]
    assert 'aria-invalid="true"' in field
    assert "too large" in field and "100 KB" in field and "Traceback" not in page


def test_a_file_of_the_wrong_type_is_named_beside_the_field_in_arabic(small_app: Flask) -> None:
    client = small_app.test_client()
    cid, _h = _case(small_app, client)
    login(client, make_user(small_app, "lawyer", language="ar"))
    headers = {"Accept-Language": "ar"}
    html = client.get(f"/cases/{cid}", headers=headers).get_data(as_text=True)
    resp = client.post(
        f"/cases/{cid}/attachments",
        data={"csrf_token": csrf_from(html), "file": (io.BytesIO(b"MZ\x90\x00"), "tool.exe")},
        headers=headers,
    )
    assert resp.status_code == 303
    page = client.get(f"/cases/{cid}", headers=headers).get_data(as_text=True)
    error = page[page.index('id="attach-file-error"') :].split("</span>", 1)[0]
    assert "Only images" not in page and "PDF" in error  # translated, beside the field
