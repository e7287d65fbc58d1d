"""Every page of every role, in Arabic and in English: no text of the other script outside the
values people typed (isolated in <bdi>/dir="auto" blocks), codes (<code>) and language names.

The crawl walks every GET route of the app's URL map with sample ids, so a new page is checked
the day it is added. An Arabic page may show a short list of Latin words (the product's name,
the mechanisms' acronyms, file formats); an English page no Arabic at all outside user data.
"""

from __future__ import annotations

import io
import re
import uuid
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, csrf_from, login, make_user, minimal_case

LATIN_ALLOWED = {
    "casebook",
    "WGEID",
    "IIMP",
    "ICRC",
    "ICMP",
    "UN",
    "CSV",
    "JSON",
    "XLSX",
    "PDF",
    "SHA",
    "UTC",
    "ID",
    "API",
    "TOTP",
    "QR",
    "CB",
    "ODS",
    "UTF",
    "KEK",
    "Windows",
    "ODK",  # the field apps are named, not translated
    "Collect",
    "KoboCollect",
    "Tella",
    "k",
}
LATIN_WORD = re.compile(r"[A-Za-zÀ-ÿ]+(?:['’-][A-Za-zÀ-ÿ]+)*")
ENDONYMS = {"English", "Kurdî", "العربية"}  # a language's own name, in language menus
ARABIC = re.compile(r"[\u0600-\u06FF]+")
SKIPPED = {"script", "style", "code", "bdi", "textarea", "title"}
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}


class _Text(HTMLParser):
    """The page's own words: text outside user values, codes and other-language elements."""

    def __init__(self, page_lang: str) -> None:
        super().__init__()
        self.page_lang = page_lang
        self.stack: list[bool] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            a = dict(attrs)
            for name in ("placeholder", "aria-label", "title", "alt"):
                if a.get(name) and not (self.stack and self.stack[-1]):
                    self.words.append(str(a[name]))
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.words.append(str(a["value"]))
            return
        a = dict(attrs)
        skip = (
            tag in SKIPPED
            or (a.get("dir") in ("auto", "ltr") and tag != "html")
            or (a.get("lang") not in (None, self.page_lang) and tag != "html")
            or "translate" in a
        )
        self.stack.append(skip or bool(self.stack and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.words.append(data)


def foreign_words(html: str, lang: str) -> set[str]:
    parser = _Text(lang)
    parser.feed(html)
    text = " ".join(parser.words)
    if lang == "ar":
        return {w for w in LATIN_WORD.findall(text) if w not in LATIN_ALLOWED | ENDONYMS}
    return set(ARABIC.findall(text)) - ENDONYMS


@pytest.fixture
def sample(app: Flask) -> dict[str, str]:
    """One case with everything a page shows (Latin name, attachment, notes), and its ids."""
    lawyer = make_user(app, "lawyer")
    h = bearer(app, lawyer)
    client = app.test_client()
    case = minimal_case(latin_name="Ahmad Halabi", national_id="0123456789")
    case["family_actions"] = [{"type": "submission", "body": "wgeid", "reference": "G/SO 217"}]
    case["consent"]["un_mechanisms"] = {"granted": True, "date": "2024-05-01"}  # type: ignore[index]
    case["testimonies"] = [{"text": "He was taken at the checkpoint.", "language": "en"}]
    cid = client.post("/api/v1/cases", json=case, headers=h).get_json()["id"]
    att = client.post(
        f"/api/v1/cases/{cid}/attachments",
        headers=h,
        data={"file": (io.BytesIO(b"%PDF-1.4 sample"), "letter.pdf")},
    ).get_json()["id"]
    return {
        "case_id": cid,
        "attachment_id": att,
        "user_id": str(lawyer.id),
        "mechanism": "wgeid",
        "candidate_id": str(uuid.uuid4()),
        "run_id": str(uuid.uuid4()),
    }


def _pages(app: Flask, sample: dict[str, str]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(("/api", "/static")):
            continue
        if rule.endpoint in ("auth.enrol", "auth.verify", "home.healthz"):
            continue
        if not all(arg in sample for arg in rule.arguments):
            continue
        urls.append(rule.rule.replace("<", "{").replace(">", "}").format(**sample))
    urls.append("/no/such/page")
    return sorted(urls)


def _crawl(app: Flask, client: FlaskClient, lang: str, pages: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for url in pages:
        resp = client.get(url, follow_redirects=True, headers={"Accept-Language": lang})
        if resp.mimetype != "text/html":
            continue
        words = foreign_words(resp.get_data(as_text=True), lang)
        if words:
            found[url] = words
    return found


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_every_page_of_every_role_is_in_one_language(
    app: Flask, sample: dict[str, str], lang: str
) -> None:
    pages = _pages(app, sample)
    found: dict[str, set[str]] = {}
    anonymous = app.test_client()
    for url, words in _crawl(app, anonymous, lang, ["/login", "/no/such/page"]).items():
        found[f"anonymous {url}"] = words
    for role in ("documenter", "lawyer", "advocate", "admin"):
        client = app.test_client()
        login(client, make_user(app, role, language=lang))
        for url, words in _crawl(app, client, lang, pages).items():
            found[f"{role} {url}"] = words
        if role == "documenter":  # a refused form shows the schema's messages
            page = client.get("/cases/new").get_data(as_text=True)
            resp = client.post(
                "/cases/new",
                data={
                    "csrf_token": csrf_from(page),
                    "person.birth_date": "2999",
                    "testimony.date": "1800",
                    "person.dependants": "x",
                },
            )
            words = foreign_words(resp.get_data(as_text=True), lang)
            if words:
                found["documenter POST /cases/new"] = words
    assert not found, "\n".join(f"{k}: {sorted(v)}" for k, v in sorted(found.items()))
