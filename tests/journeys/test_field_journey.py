"""A documenter's field journey in a real browser: add a field device (its QR code shown), a
phone sends an encrypted form to the device's URL as ODK Collect does, and the documenter turns
the submission into a case from the field inbox. Screenshots under artifacts/journeys/."""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any

import pytest

from tests.field.phone import (
    JPEG,
    encrypt_submission,
    instance_xml,
    new_instance_id,
    public_key_from_form,
)
from tests.journeys.test_journeys import (  # noqa: F401 - the fixtures, shared
    Journey,
    Live,
    _case_page,
    _reference_of,
    browser,
    live,
)

pytestmark = pytest.mark.slow


def _wait_until_serving(url: str, deadline_s: float = 120) -> None:
    """On a loaded machine the server may take longer to start than the shared fixture waits."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)  # noqa: S310 (our own server)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("casebook serve did not start")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_phone_submission_becomes_a_case(browser: Any, live: Live, lang: str) -> None:  # noqa: F811
    _wait_until_serving(live.url)
    j = Journey(browser, live, "documenter", lang)
    j.name = "field-documenter"
    j.sign_in()
    p = j.page
    j.go("/field/devices")
    j.shot("field-devices")
    p.fill('[name="label"]', "هاتف ميداني" if lang == "ar" else "Field phone")
    p.click('main form button[type="submit"]')
    p.wait_for_selector("svg")
    j.shot("field-device-qr")
    server_url = p.inner_text("code.secret").strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/field/cbf_[A-Za-z0-9_-]+", server_url)

    # -- the phone (ODK Collect's requests, made with the browser's own HTTP client)
    phone = browser.new_context().request
    listing = phone.get(f"{server_url}/formList", headers={"X-OpenRosa-Version": "1.0"})
    assert listing.status == 200 and listing.headers["x-openrosa-version"] == "1.0"
    body = listing.text()
    version = re.search(r"<version>([^<]+)</version>", body)
    url = re.search(r"<downloadUrl>([^<]+)</downloadUrl>", body)
    assert version and url
    public = public_key_from_form(phone.get(url.group(1)).text())
    iid = new_instance_id()
    first = "نور" if lang == "ar" else "رنا"
    xml = instance_xml(version.group(1), iid, first_name=first, photo_file="p.jpg")
    sub = encrypt_submission(public, version.group(1), xml, [("p.jpg", JPEG)], iid)
    multipart: dict[str, Any] = {
        "xml_submission_file": {
            "name": "submission.xml",
            "mimeType": "text/xml",
            "buffer": sub.manifest,
        },
    }
    for name, content in sub.files.items():
        multipart[name] = {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    sent = phone.post(
        f"{server_url}/submission", multipart=multipart, headers={"X-OpenRosa-Version": "1.0"}
    )
    assert sent.status == 201, sent.text()
    assert "OpenRosaResponse" in sent.text()

    # -- the documenter opens the inbox, corrects the pre-filled form and saves the case
    j.go("/field/inbox")
    j.shot("field-inbox")
    assert first in p.inner_text("main")
    p.click("main table a")
    p.wait_for_selector('[name="person.first_name"]')
    assert p.input_value('[name="person.first_name"]') == first
    assert p.input_value('[name="arrests.0.date"]') == "2013-05"
    p.fill('[name="person.latin_name"]', "Nour al-Halabi")
    j.shot("field-submission-form")
    p.click('main form button[type="submit"]:not([name="add"])')
    p.wait_for_url(_case_page)
    j.shot("field-case-saved")
    assert _reference_of(p).startswith("CB-")
    assert "p.jpg" in p.inner_text("main")
    j.go("/field/inbox")
    assert first not in p.inner_text("main")
    j.close()
