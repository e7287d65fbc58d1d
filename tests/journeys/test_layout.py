"""Layout a new user met in a real browser, both languages: the focused skip link beside (never
over) the casebook link, the import checkboxes beside their labels, and Enter in a field of the
case form saving the case rather than adding another arrest."""

from __future__ import annotations

from typing import Any

import pytest

from tests.journeys.test_interface import _fill_minimal
from tests.journeys.test_journeys import (  # noqa: F401 (fixtures)
    Journey,
    Live,
    _case_page,
    browser,
    live,
    pytestmark,
)


def _box(p: Any, selector: str) -> dict[str, float]:
    box = p.locator(selector).first.bounding_box()
    assert box, selector
    return dict(box)


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"]) > 0
        and min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"]) > 0
    )


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_layout(browser: Any, live: Live, lang: str) -> None:  # noqa: F811
    j = Journey(browser, live, "documenter", lang)
    j.name = "layout-documenter"
    j.sign_in()
    p = j.page

    # the focused skip link covers nothing: the casebook link is below it, still whole
    j.go("/cases/")
    p.keyboard.press("Tab")
    assert "skip" in p.evaluate("document.activeElement.className")
    skip, brand = _box(p, "a.skip"), _box(p, "a.brand")
    assert not _overlap(skip, brand), (skip, brand)
    assert p.evaluate(
        "(() => { const b = document.querySelector('a.brand').getBoundingClientRect();"
        " return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2)"
        ".closest('a.brand') !== null; })()"
    )
    j.shot("skip-link-focused")

    # each import checkbox is on the line of its label, before it in the reading direction
    j.go("/imports/")
    for name in ("dry_run", "skip_invalid"):
        box, label = _box(p, f"#{name}"), _box(p, f'label[for="{name}"]')
        middle = box["y"] + box["height"] / 2
        assert label["y"] <= middle <= label["y"] + label["height"], (name, box, label)
        if lang == "ar":
            assert box["x"] >= label["x"] + label["width"] - 1, (name, box, label)
        else:
            assert box["x"] + box["width"] <= label["x"] + 1, (name, box, label)
    j.shot("import-checkboxes")

    # Enter in a text field saves the case (the arrest rows stay one)
    j.go("/cases/new")
    _fill_minimal(p, "وداد", "القباني")
    p.fill('[name="testimony.date"]', "2024-05-01")
    p.focus('[name="arrests.0.place"]')
    p.keyboard.press("Enter")
    p.wait_for_url(_case_page)
    assert p.locator("h1", has_text="القباني").count() == 1
    j.shot("saved-with-enter")
    # and the add-arrest button still adds a row, saving nothing
    p.goto(p.url + "/edit")
    p.click('button[name="add"][value="arrests"]')
    p.wait_for_load_state()
    assert p.locator('[name="arrests.1.date"]').count() == 1
    assert "/edit" in p.url
    j.close()
