"""The users' journeys in a real browser (Debian's Chromium driven by Playwright), in Arabic and
in English, against `casebook serve` on 127.0.0.1. A screenshot is saved for every step under
artifacts/journeys/<language>/ (synthetic data only)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest

from casebook import create_app
from casebook.config import Settings
from tests.conftest import FAST_HASHING, UserFixture, make_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "journeys"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI_REQUIRE_BROWSER"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    users: dict[str, UserFixture]
    settings: Settings


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """casebook serve on a fresh SQLite instance, with one user per role and language."""
    from crypto import FileKeySource, KeyRing

    root = tmp_path_factory.mktemp("live")
    instance = root / "instance"
    instance.mkdir(mode=0o700)
    FileKeySource(instance / "keyring.json").save(KeyRing.generate())
    env = {
        **os.environ,
        "CASEBOOK_ENV": "development",
        "CASEBOOK_INSTANCE": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'casebook.sqlite3'}",
        "CASEBOOK_KEK_SOURCE": f"file:{instance / 'keyring.json'}",
        "CASEBOOK_RELEASE_MIN_CHANGES": "1",  # the journeys' few cases make a release
    }
    cmd = [sys.executable, "-c", "from casebook.cli import main; main()"]
    subprocess.run([*cmd, "init"], env=env, check=True, capture_output=True)
    # enough cases behind the journeys' own for a statistics release that can be protected
    subprocess.run([*cmd, "demo", "--cases", "60"], env=env, check=True, capture_output=True)
    settings = Settings.from_env(env).with_(password_hashing=FAST_HASHING)
    app = create_app(settings)
    app.extensions["casebook.vault"].load()
    users = {
        f"{role}-{lang}": make_user(app, role, language=lang)
        for role in ("documenter", "lawyer", "advocate", "admin")
        for lang in ("ar", "en")
    }
    app.extensions["casebook.db"].dispose()
    port = _free_port()
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [*cmd, "serve", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a busy machine starts the server slowly
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)  # noqa: S310 (our own server)
            break
        except OSError as exc:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(
                    f"casebook serve did not start; see {root / 'server.log'}"
                ) from exc
            time.sleep(0.2)
    yield Live(url, users, settings)
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


_USED_STEPS: dict[str, int] = {}


def _unused_code(secret: str) -> str:
    step = int(time.time()) // 30
    while step <= _USED_STEPS.get(secret, -1):
        time.sleep(0.5)  # the next 30-second step; a used code is refused by design
        step = int(time.time()) // 30
    _USED_STEPS[secret] = step
    return str(pyotp.TOTP(secret).at(step * 30))


class Journey:
    """A signed-in browser page that screenshots every step."""

    def __init__(self, browser: Any, live: Live, who: str, lang: str) -> None:
        self.context = browser.new_context(locale=lang, accept_downloads=True)
        self.page = self.context.new_page()
        self.live = live
        self.user = live.users[f"{who}-{lang}"]
        self.folder = ARTIFACTS / lang
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = who
        self.step_no = 0

    def shot(self, step: str) -> None:
        self.step_no += 1
        self.page.screenshot(
            path=str(self.folder / f"{self.name}-{self.step_no:02d}-{step}.png"), full_page=True
        )

    def go(self, path: str) -> None:
        self.page.goto(self.live.url + path)

    def sign_in(self) -> None:
        """Sign in with password and a code of a time step this account has not used yet (the
        server refuses a code twice, and the journeys sign some accounts in more than once)."""
        self.go("/login")
        self.shot("login")
        self.page.fill('[name="email"]', self.user.email)
        self.page.fill('[name="password"]', self.user.password)
        self.page.click('main form button[type="submit"]')
        self.page.wait_for_url(lambda url: "/login/verify" in url)
        self.page.fill('[name="code"]', _unused_code(self.user.secret))
        self.shot("second-factor")
        self.page.click('main form button[type="submit"]')
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url
        self.shot("signed-in")

    def wait_for_cut(self) -> None:
        """A release is cut in the background: refresh the releases page, as a lawyer would,
        until it says the cut ended (published or refused), for at most two minutes."""
        for _ in range(240):
            if self.page.locator("#cut .alert-success, #cut .alert-danger").count():
                return
            self.page.wait_for_timeout(500)
            self.go("/stats/releases")
        raise AssertionError("the release cut did not end in two minutes")

    def close(self) -> None:
        self.context.close()


CHART_PROBLEMS = """() => {
  const svg = document.querySelector('figure.chart svg');
  if (!svg) return ['no chart'];
  const width = svg.viewBox.baseVal.width, problems = [];
  const rects = [...svg.querySelectorAll('rect')].map(r => r.getBBox());
  for (const t of svg.querySelectorAll('text')) {
    const b = t.getBBox();
    if (b.x < -1 || b.x + b.width > width + 1) problems.push('outside: ' + t.textContent);
    for (const r of rects) {
      const dx = Math.min(b.x + b.width, r.x + r.width) - Math.max(b.x, r.x);
      const dy = Math.min(b.y + b.height, r.y + r.height) - Math.max(b.y, r.y);
      if (dx > 1 && dy > 1) problems.push('over a bar: ' + t.textContent);
    }
  }
  return problems;
}"""

NAMES = {"ar": ("سلمى", "الإدلبي"), "en": ("هالة", "الأتاسي")}
VARIANTS = {"ar": "سلمي الادلبى", "en": "هاله اتاسي"}  # no hamza, ى/ي, ة/ه, no ال


def _case_page(url: str) -> bool:
    tail = url.split("/cases/", 1)[-1]
    return "/cases/" in url and len(tail.split("/")[0]) == 36


def _reference_of(page: Any) -> str:
    heading = page.inner_text("h1")
    return next(w for w in heading.split() if w.startswith("CB-"))


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_journeys(browser: Any, live: Live, lang: str) -> None:
    first, family = NAMES[lang]

    # -- a documenter signs in with 2FA and enters a case with a testimony and an attachment
    j = Journey(browser, live, "documenter", lang)
    j.sign_in()
    assert j.page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
    j.go("/cases/new")
    p = j.page
    p.fill('[name="person.first_name"]', first)
    p.fill('[name="person.father_name"]', "خالد")
    p.fill('[name="person.family_name"]', family)
    p.fill('[name="person.mother_name"]', "ريم")
    p.select_option('[name="person.sex"]', "female")
    p.fill('[name="person.birth_date"]', "1990")
    p.fill('[name="arrests.0.date"]', "2014-02")
    p.select_option('[name="arrests.0.governorate"]', "idlib")
    p.fill('[name="arrests.0.place"]', "سراقب")
    p.select_option('[name="arrests.0.perpetrator"]', "regime.air_force_intelligence")
    p.select_option('[name="status.0.status"]', "forcibly_disappeared")
    p.fill('[name="status.0.date"]', "2014-02")
    p.select_option('[name="family_actions.0.type"]', "inquiry")
    p.fill('[name="family_actions.0.date"]', "2014-05")
    p.fill('[name="source.name"]', "ريم")
    p.fill('[name="source.relationship"]', "أم")
    p.fill('[name="source.contact"]', "+90 555 111 2222")
    for scope in ("documentation", "un_mechanisms", "statistics"):
        p.select_option(f'[name="consent.{scope}.granted"]', "yes")
        p.fill(f'[name="consent.{scope}.date"]', "2024-05-01")
    p.fill('[name="testimony.text"]', f"اعتقلت {first} عند حاجز سراقب")
    j.shot("case-form-filled")
    p.click('main form button[type="submit"]:not([name="add"])')
    p.wait_for_url(_case_page)
    j.shot("case-saved")
    reference = _reference_of(p)
    p.set_input_files(
        'input[name="file"]',
        files=[
            {
                "name": "id-card.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4\n% synthetic test document\n",
            }
        ],
    )
    p.locator('input[name="file"]').locator("xpath=ancestor::form").locator(
        'button[type="submit"]'
    ).click()
    p.wait_for_load_state()
    assert "id-card.pdf" in p.content()
    j.shot("attachment-added")
    j.close()

    # -- a lawyer finds it by a variant spelling, reviews, verifies, writes a legal note and
    #    prints a WGEID packet
    j = Journey(browser, live, "lawyer", lang)
    j.sign_in()
    j.go("/cases/")
    p = j.page
    p.fill('[name="q"]', VARIANTS[lang])
    p.locator('form[role="search"] button[type="submit"]').click()
    p.wait_for_load_state()
    j.shot("search-variant-spelling")
    assert p.locator("ul.errors").count() == 0
    assert p.locator("table tbody tr").count() == 1  # only the case spelled that way
    p.click(f"text={reference}")
    p.wait_for_url(_case_page)
    j.shot("case-opened")
    p.select_option('[name="verification"]', "verified")
    p.locator('select[name="verification"]').locator("xpath=ancestor::form").locator(
        'button[type="submit"]'
    ).click()
    p.wait_for_load_state()
    j.shot("verified")
    p.fill('textarea[name="text"] >> nth=-1', "الأدلة كافية لتقديم البلاغ")
    p.locator('form[action$="/legal-notes"] button[type="submit"]').click()
    p.wait_for_load_state()
    assert "الأدلة كافية لتقديم البلاغ" in p.content()
    j.shot("legal-note")
    p.click('a[href*="/packet/wgeid"]')
    p.wait_for_load_state()
    j.shot("wgeid-packet")
    assert "1." in p.inner_text("h2 >> nth=0")
    pdf = p.pdf(path=str(j.folder / f"wgeid-{reference}.pdf"))
    assert pdf.startswith(b"%PDF")
    j.close()

    # -- a lawyer publishes a statistics release (advocates see releases only)
    j = Journey(browser, live, "lawyer", lang)
    j.sign_in()
    j.go("/stats/releases")
    j.page.locator('form[action$="/stats/releases"] button[type="submit"]').click()
    j.page.wait_for_load_state()
    j.shot("release-cutting")
    # the cut ends published, or — the second language's run, one case after the first's
    # release — refused for too few changes, with the release already there
    j.wait_for_cut()
    if j.page.locator("#cut .alert-danger").count():
        refusal = j.page.locator("#cut").inner_text()
        assert j.page.locator("table.stats tbody td.num").count() >= 1, refusal
        assert "11" in refusal and "1" in refusal, refusal  # the changes and what is needed
        j.shot("release-refused")
    else:
        j.shot("release")
    j.close()

    # -- an advocate opens the statistics, downloads CSV and prints the brief
    j = Journey(browser, live, "advocate", lang)
    j.sign_in()
    j.go("/stats/")
    p = j.page
    p.select_option('[name="by"]', "governorate")
    p.locator('form.filters button[type="submit"]').click()
    p.wait_for_load_state()
    j.shot("statistics")
    # the coarser table (groups of at least k cases, so never all hidden) drawn as a bar chart:
    # every label and count inside the chart, no count over a bar (an Arabic chart anchored for
    # left-to-right clips its labels to a letter and writes its counts over the bars)
    j.go("/stats/?by=governorate&grouped=1")
    p.wait_for_load_state()
    j.shot("statistics-coarser")
    drawn = []
    for query in ("age_band&grouped=1", "status&grouped=1", "age_band", "status", "sex"):
        j.go(f"/stats/?by={query}")
        problems = p.evaluate(CHART_PROBLEMS)
        if problems != ["no chart"]:  # a table that is only its total has no chart
            assert problems == [], (lang, query, problems)
            drawn.append(query)
            j.shot("statistics-chart-" + query.replace("&grouped=1", "-coarser"))
    assert drawn, lang
    j.go("/stats/?by=governorate")
    with p.expect_download() as download:
        p.click('a[href*="export.csv"]')
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("governorate")
    p.click('a[href*="/stats/brief"]')
    p.wait_for_load_state()
    j.shot("brief")
    assert p.pdf(path=str(j.folder / "brief.pdf")).startswith(b"%PDF")
    j.close()

    # -- an admin creates a user, reads the audit log and verifies the chain
    j = Journey(browser, live, "admin", lang)
    j.sign_in()
    j.go("/admin/users/new")
    p = j.page
    p.fill('[name="email"]', f"new-{lang}@example.org")
    p.fill('[name="display_name"]', "New documenter")
    p.select_option('[name="role"]', "documenter")
    j.shot("new-user-form")
    p.click('main form button[type="submit"]')
    p.wait_for_load_state()
    assert p.locator("code.secret").count() == 1
    j.shot("user-created")
    j.go("/admin/audit/")
    assert "case.create" in p.content() and "case.review" in p.content()
    j.shot("audit-log")
    p.locator('form[action$="/verify"] button[type="submit"]').click()
    p.wait_for_load_state()
    j.shot("chain-verified")
    body = p.inner_text("main")
    assert ("intact" in body) if lang == "en" else ("سليم" in body or "intact" in body)
    j.close()
