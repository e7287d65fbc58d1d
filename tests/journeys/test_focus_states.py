"""Contrast in the states a page takes under a mouse and a keyboard, measured in Debian's chromium
on a representative page of each kind for every role, in both languages: the navigation, a form
refused with its errors, the case page, the statistics and the release page.

- placeholder text against its field's background, at least 4.5:1;
- every link, button and form control while the pointer is on it (:hover): its text at least
  4.5:1 against its effective background (3:1 for large text);
- the keyboard: Tab from the top of the page to its end reaches every visible, enabled control,
  without being held anywhere; each element it stops on is visible, shows a focus indicator
  (an outline or a box-shadow ring) at least 3:1 against the colours next to it (WCAG 2.2
  1.4.11, 2.4.7), and its text stays readable (4.5:1, 3:1 large); the skip link comes first and
  takes focus to the content.

Screenshots of the focused skip link and of the first focused control of the content are saved
with the journeys' (artifacts/journeys/<language>/focus-*), and the counts and lowest ratios in
artifacts/journeys/<language>/focus-states.json."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.journeys.test_contrast import NO_BROWSER_CHECKS
from tests.journeys.test_interface import _fill_minimal
from tests.journeys.test_journeys import (  # noqa: F401 (fixtures)
    Journey,
    Live,
    _case_page,
    browser,
    live,
    pytestmark,
)

STATES = (Path(__file__).parent / "states.js").read_text(encoding="utf-8").split("*/", 1)[1]
SUBMIT = 'main form button[type="submit"]:not([name="add"])'


@dataclass
class Findings:
    """What was measured, the lowest ratio of each measure, and what fell short."""

    counts: Counter[str] = field(default_factory=Counter)
    lowest: dict[str, float] = field(default_factory=dict)
    lowest_at: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def ratio(self, kind: str, where: str, m: dict[str, Any], need: float) -> None:
        self.counts[kind] += 1
        if m["ratio"] < self.lowest.get(kind, 99.0):
            self.lowest[kind] = m["ratio"]
            self.lowest_at[kind] = f"{where}: {m['element']} ({m.get('detail')})"
        if m["ratio"] < need - 0.005:
            self.fail(kind, where, f"{m['element']} {m['ratio']}:1 < {need}:1 ({m.get('detail')})")

    def fail(self, kind: str, where: str, what: str) -> None:
        self.failures.append(f"{kind}: {where}: {what}")


def _run(j: Journey, mode: str, index: int | None = None) -> Any:
    return j.page.evaluate(STATES, {"mode": mode, "index": index})


def _states(j: Journey, found: Findings, label: str, *, shots: bool = True) -> None:
    """Every measure on the page as it is now."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    where = f"{label} {urlparse(j.page.url).path}"
    controls = _run(j, "controls")
    assert len(controls) >= 3, f"{where}: almost no controls found"

    for m in _run(j, "placeholders"):
        m["detail"] = f"“{m['text']}” {m['color']} on {m['background']}"
        found.ratio("placeholder", where, m, 4.5)

    for c in controls:
        if c["skip"]:
            continue  # off screen until focused: the keyboard part measures it
        try:
            j.page.locator(f'[data-kbd="{c["index"]}"]').hover(timeout=3000)
        except PlaywrightTimeout:  # covered, or never still
            found.fail("hover", where, f"{c['element']} cannot be pointed at")
            continue
        for m in _run(j, "text", c["index"]):
            m["detail"] = f"“{m['text']}” {m['color']} on {m['background']}"
            found.ratio("hover", where, m, m["need"])
    j.page.mouse.move(0, 0)

    page = "case" if _case_page(j.page.url) else urlparse(j.page.url).path.strip("/")
    page = page.replace("/", "-") or "home"
    page += "-errors" if "(errors)" in label else ""
    _keyboard(j, found, where, controls, shots=page if shots else None)


def _keyboard(
    j: Journey, found: Findings, where: str, controls: list[dict[str, Any]], *, shots: str | None
) -> None:
    """Tab through the page; `shots` names the screenshots of the focused states."""
    p = j.page
    limit = len(controls) + 25
    # to the end of the page first: a page may have put focus on its error summary
    for _ in range(limit):
        if _run(j, "focus")["body"]:
            break
        p.keyboard.press("Tab")
    else:
        found.fail("keyboard", where, f"Tab never leaves {_run(j, 'focus')['element']} (trap)")
        return
    order: list[dict[str, Any]] = []
    for _ in range(limit):
        p.keyboard.press("Tab")
        f = _run(j, "focus")
        if f["body"]:
            break
        order.append(f)
        if len(order) >= 3 and all(o["key"] == f["key"] for o in order[-3:]):
            found.fail("keyboard", where, f"Tab never leaves {f['element']} (trap)")
            return
        if not f["visible"]:
            found.fail("focus", where, f"{f['element']} is focused but not visible")
        for m in _run(j, "text", int(f["index"])) if f["index"] is not None else []:
            m["detail"] = f"“{m['text']}” {m['color']} on {m['background']}"
            found.ratio("focused text", where, m, m["need"])
        if f["indicator"] is None:
            f.update(ratio=0.0, detail="no focus indicator: no outline, no box-shadow ring")
        else:
            f["detail"] = f"{f['indicator']} {f['color']} next to {f['against']}"
        found.ratio("focus", where, f, 3.0)
    else:
        found.fail("keyboard", where, "Tab never reaches the end of the page (trap)")
        return

    reached = {int(f["index"]) for f in order if f["index"] is not None}
    groups = {c["radio"] for c in controls if c["radio"] and c["index"] in reached}
    for c in controls:
        if c["index"] not in reached and not (c["radio"] and c["radio"] in groups):
            found.fail("keyboard", where, f"{c['element']} is never reached with Tab")

    skip = [c for c in controls if c["skip"]]
    if not skip:
        return
    if not order or order[0]["index"] != str(skip[0]["index"]):
        found.fail("keyboard", where, "the skip link is not the first stop")
    p.keyboard.press("Tab")  # from the end of the page round to the skip link
    if shots:
        j.shot(f"{shots}-skip-link-focused")
    p.keyboard.press("Enter")
    if not _run(j, "focus")["isMain"]:
        found.fail("keyboard", where, "the skip link does not take focus to the content")
    if any(f["inMain"] for f in order):
        p.keyboard.press("Tab")
        if not _run(j, "focus")["inMain"]:
            found.fail("keyboard", where, "Tab after the skip link leaves the content")
        elif shots:
            j.shot(f"{shots}-content-focused")


def _states_see_poor_contrast(j: Journey) -> None:
    """The measures themselves, on probes planted in a real page: a faint placeholder, a link
    that fades under the pointer, a button without a focus indicator, one with a faint
    indicator, a button Tab cannot reach, and then a control that holds the keyboard; the same
    controls styled well are not reported."""
    j.page.evaluate(
        """() => {
          const sheet = [...document.styleSheets].find(s => s.href && s.href.includes('casebook'));
          [
            '.probe-ph::placeholder { color: #bbb !important }',
            '.probe-hover:hover { color: #ddd !important }',
            '.probe-none:focus-visible { outline: none !important; box-shadow: none !important }',
            '.probe-faint:focus-visible { outline: 3px solid #e0e0e0 !important }',
            '.probe-ok::placeholder { color: #595959 !important }',
            'a.probe-ok:hover { color: #000 !important }',
            '.probe-ok:focus-visible { outline: 3px solid #000 !important }',
          ].forEach(rule => sheet.insertRule(rule, sheet.cssRules.length));
          const main = document.querySelector('main');
          const add = (html) => main.insertAdjacentHTML('beforeend', html);
          add('<p class="probe"><input class="probe-ph" placeholder="probe placeholder"></p>');
          add('<p class="probe"><input class="probe-ok" placeholder="probe fine placeholder"></p>');
          add('<p class="probe"><a class="probe-hover" href="#main">probe hover</a></p>');
          add('<p class="probe"><a class="probe-ok" href="#main">probe fine hover</a></p>');
          const button = (attrs, text) =>
            add(`<p class="probe"><button type="button" ${attrs}>${text}</button></p>`);
          button('class="probe-none"', 'probe none');
          button('class="probe-faint"', 'probe faint');
          button('class="probe-ok"', 'probe fine focus');
          button('tabindex="-1"', 'probe unreachable');
        }"""
    )
    probed = Findings()
    _states(j, probed, "probe", shots=False)
    caught = {
        f.split(":")[0] + " " + m.group(1)
        for f in probed.failures
        if (m := re.search(r"“(probe[^”]*)”", f))
    }
    planted = {
        "placeholder probe placeholder",
        "hover probe hover",
        "focus probe none",
        "focus probe faint",
        "keyboard probe unreachable",
    }
    assert planted <= caught, probed.failures
    assert not [f for f in probed.failures if "probe fine" in f], probed.failures

    j.page.evaluate(
        """() => {
          const b = document.querySelector('main .probe button');
          b.addEventListener('keydown', (e) => { if (e.key === 'Tab') e.preventDefault(); });
        }"""
    )
    trapped = Findings()
    _keyboard(j, trapped, "probe", _run(j, "controls"), shots=None)
    assert any("probe none" in f and "(trap)" in f for f in trapped.failures), trapped.failures
    j.page.reload()


def _form_with_errors(j: Journey, path: str) -> None:
    """The form sent empty, past the browser's own checks, as the server refuses it."""
    j.go(path)
    j.page.evaluate(NO_BROWSER_CHECKS)
    j.page.click(SUBMIT)
    j.page.wait_for_load_state()
    assert j.page.locator("#error-summary").count() == 1, f"{path}: no error summary"


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_hover_focus_and_placeholders_meet_contrast(
    browser: Any,  # noqa: F811
    live: Live,  # noqa: F811
    lang: str,
) -> None:
    by_role: dict[str, Findings] = {}

    # the sign-in form, and refused, before anyone is signed in; the measures first
    j = Journey(browser, live, "documenter", lang)
    j.name = "focus-anonymous"
    j.go("/login")
    _states_see_poor_contrast(j)
    found = by_role["anonymous"] = Findings()
    _states(j, found, "anonymous")
    _form_with_errors(j, "/login")
    _states(j, found, "anonymous (errors)")
    j.close()

    case_url = ""
    for role in ("documenter", "lawyer", "advocate", "admin"):
        j = Journey(browser, live, role, lang)
        j.name = f"focus-{role}"
        found = by_role[role] = Findings()
        j.sign_in()
        _states(j, found, role)  # the navigation, on the home page
        if role == "documenter":
            _form_with_errors(j, "/cases/new")
            _states(j, found, role + " (errors)")
            _fill_minimal(j.page, "سلمى", "الإدلبي")
            j.page.click(SUBMIT)
            j.page.wait_for_url(_case_page)
            case_url = j.page.url
            _states(j, found, role)
        if role == "lawyer":
            _form_with_errors(j, "/account/password")
            _states(j, found, role + " (errors)")
            j.page.goto(case_url)
            _states(j, found, role)
            j.go("/stats/?by=sex")
            _states(j, found, role)
            j.go("/stats/releases")
            j.page.click('main form button[type="submit"]')
            j.page.wait_for_load_state()
            _states(j, found, role + " (release)")
        if role == "advocate":
            _form_with_errors(j, "/account/password")
            _states(j, found, role + " (errors)")
            j.go("/stats/?by=sex")
            _states(j, found, role)
            j.go("/stats/brief?by=sex")
            _states(j, found, role)
        if role == "admin":
            _form_with_errors(j, "/admin/users/new")
            _states(j, found, role + " (errors)")
            j.go("/stats/releases")
            _states(j, found, role + " (release)")
        j.close()

    summary = {
        role: {
            "measured": dict(f.counts),
            "lowest": f.lowest,
            "lowest at": f.lowest_at,
            "failures": len(f.failures),
        }
        for role, f in by_role.items()
    }
    (j.folder / "focus-states.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for role, f in by_role.items():
        assert f.counts["hover"] >= 5 and f.counts["focus"] >= 5, (role, summary[role])
    assert by_role["documenter"].counts["placeholder"] >= 1  # the case form's dates
    failures = [f for found in by_role.values() for f in found.failures]
    assert not failures, f"{len(failures)} states below WCAG AA:\n" + "\n".join(failures)
