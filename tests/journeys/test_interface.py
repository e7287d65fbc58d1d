"""The interface in a real browser, both languages, with screenshots: form errors that lead to
their field, search hints, the upload limit, every arrest in the WGEID packet, confirmation of
destructive admin actions, isolated mixed-direction values, keyboard use and print styles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.journeys.test_journeys import (  # noqa: F401 (fixtures)
    Journey,
    Live,
    _case_page,
    browser,
    live,
    pytestmark,
)

NAMES = {"ar": ("نور", "الحمصي"), "en": ("ليلى", "القدسي")}


def _fill_minimal(p: Any, first: str, family: str) -> None:
    p.fill('[name="person.first_name"]', first)
    p.fill('[name="person.family_name"]', family)
    p.fill('[name="person.latin_name"]', "Nour Homsi")
    p.fill('[name="person.national_id"]', "03-120045")
    for scope in ("documentation", "un_mechanisms", "statistics"):
        p.select_option(f'[name="consent.{scope}.granted"]', "yes")
        p.fill(f'[name="consent.{scope}.date"]', "2024-05-01")
    p.fill('[name="arrests.0.date"]', "2012-03")
    p.select_option('[name="arrests.0.governorate"]', "homs")
    p.fill('[name="arrests.0.place"]', "باب عمرو")
    p.select_option('[name="arrests.0.perpetrator"]', "regime.military_intelligence")
    p.fill('[name="arrests.0.unit"]', "الفرع 261")
    p.select_option('[name="family_actions.0.type"]', "inquiry")
    p.fill('[name="source.relationship"]', "أخت")
    p.fill('[name="testimony.text"]', "Taken at the checkpoint, then moved to Branch 261.")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_interface(browser: Any, live: Live, lang: str) -> None:  # noqa: F811
    first, family = NAMES[lang]
    j = Journey(browser, live, "documenter", lang)
    j.name = "ui-documenter"
    j.sign_in()
    p = j.page

    # keyboard: the first Tab reaches the skip link, which leads to the content
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.className").find("skip") >= 0
    j.shot("skip-link")

    # a future testimony date: the summary is focused, its link focuses the field
    j.go("/cases/new")
    _fill_minimal(p, first, family)
    p.fill('[name="testimony.date"]', "2999-01")
    p.click('main form button[type="submit"]:not([name="add"])')
    p.wait_for_load_state()
    assert p.evaluate("document.activeElement.id") == "error-summary"
    assert p.locator('[id="testimony.date-errors"]').count() == 1
    j.shot("future-testimony-date")
    p.locator('#error-summary a[href="#testimony.date"]').click()
    assert p.evaluate("document.activeElement.id") == "testimony.date"
    p.fill('[name="testimony.date"]', "2024-05-01")
    p.click('main form button[type="submit"]:not([name="add"])')
    p.wait_for_url(_case_page)
    j.shot("case-saved")

    # the Latin name and the national id sit beside their labels, isolated
    assert p.locator('dd bdi[dir="auto"]', has_text="Nour Homsi").count() == 1
    assert p.locator('dd bdi[dir="ltr"]', has_text="03-120045").count() == 1
    # the upload form states the limit
    assert p.locator("#attach-limit").inner_text().strip() != ""
    j.shot("case-page-limit")
    case_url = p.url

    # add a second arrest after the disappearance: edit, add a row
    p.goto(case_url + "/edit")
    p.click('button[name="add"][value="arrests"]')
    p.wait_for_load_state()
    p.fill('[name="arrests.1.date"]', "2013-09")
    p.select_option('[name="arrests.1.governorate"]', "damascus")
    p.select_option('[name="arrests.1.perpetrator"]', "regime.air_force_intelligence")
    p.select_option('[name="status.0.status"]', "forcibly_disappeared")
    p.fill('[name="status.0.date"]', "2012-04")
    p.click('main form button[type="submit"]:not([name="add"])')
    p.wait_for_url(_case_page)

    # a first name alone: the page explains and suggests what to add
    j.go("/cases/")
    p.fill('[name="q"]', first)
    p.locator('form[role="search"] button[type="submit"]').click()
    p.wait_for_load_state()
    assert p.locator(".notice[role=status]").count() == 1
    p.locator("details.search-help summary").click()
    j.shot("search-first-name-alone")
    j.close()

    # a lawyer's WGEID packet lists both arrests and names the one before the disappearance
    j = Journey(browser, live, "lawyer", lang)
    j.name = "ui-lawyer"
    j.sign_in()
    p = j.page
    p.goto(case_url.replace(live.url, live.url) + "/packet/wgeid")
    p.wait_for_load_state()
    items = p.locator("ul.arrests >> nth=0").locator("li")
    assert items.count() == 2
    assert "2012-03" in items.nth(0).inner_text() and "2013-09" in items.nth(1).inner_text()
    j.shot("packet-every-arrest")
    p.emulate_media(media="print")
    assert p.locator("header.top").is_hidden()
    j.shot("packet-print")
    p.emulate_media(media="screen")
    j.close()

    # an admin: disabling asks first, then says what happened
    j = Journey(browser, live, "admin", lang)
    j.name = "ui-admin"
    j.sign_in()
    p = j.page
    # the audit log names people and actions in the page's language
    j.go("/admin/audit/")
    body = p.inner_text("table.audit")
    assert live.users[f"documenter-{lang}"].email not in body
    assert ("Case created" in body) if lang == "en" else ("أُنشئت حالة" in body)
    j.shot("audit-for-people")
    j.go("/admin/keys/")
    assert p.locator("table tbody tr").count() >= 1
    j.shot("keys")
    target = live.users[f"advocate-{'en' if lang == 'ar' else 'ar'}"]
    j.go(f"/admin/users/{target.id}")
    p.wait_for_load_state()
    if "/reauth" in p.url:  # destructive actions ask for a fresh password and code first
        pytest.skip("re-authentication page in the way")
    button = p.locator("form[action$='/disable'] button[type=submit]")
    assert button.is_hidden()  # nothing happens on one click
    p.locator("form[action$='/disable']").locator("xpath=..").locator("summary").click()
    j.shot("disable-confirmation")
    assert button.is_visible()
    j.close()
