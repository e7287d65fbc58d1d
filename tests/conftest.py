"""Each test builds its own app and database, on SQLite and (when configured) PostgreSQL.

Databases are copied from a template migrated once per run: a file copy on SQLite, CREATE
DATABASE … TEMPLATE on PostgreSQL. Real crypto, real HTTP through Flask's test client.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from casebook import create_app
from casebook.auth import totp
from casebook.config import PasswordHashing, Settings
from casebook.encrypted import Vault
from casebook.migrate import upgrade
from crypto import FileKeySource, KeyRing

PG_URL = os.environ.get("CASEBOOK_TEST_DATABASE_URL")
ENGINES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
FAST_HASHING = PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)
CANARY_LATIN = "ZQX-CANARY-7731"
CANARY_ARABIC = "قناريزكس"


@pytest.fixture(scope="session", autouse=True)
def private_tempdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The app's temporary files go to a folder of this run alone, so canary scans of "the
    temp dir" see what casebook wrote and nothing else on the machine."""
    import tempfile

    path = tmp_path_factory.mktemp("systmp")
    old_env, old_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = str(path)
    yield path
    tempfile.tempdir = old_dir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env


def _pg_admin_engine():  # type: ignore[no-untyped-def]
    assert PG_URL
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"cbtpl_{os.getpid()}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "casebook.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"cbt_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    FileKeySource(instance / "keyring.json").save(KeyRing.generate())
    return Settings(
        env="testing",
        instance=instance,
        database_url=database_url,
        secret_key="test-secret-key-" + uuid.uuid4().hex,
        kek_source=f"file:{instance / 'keyring.json'}",
        password_hashing=FAST_HASHING,
        expected_cases=1000,
    )


class EnglishClient(FlaskClient):
    """Test clients ask for English unless a test sends its own Accept-Language."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    application.test_client_class = EnglishClient
    application.extensions["casebook.vault"].load()
    yield application
    finish_background(application)
    application.extensions["casebook.db"].dispose()


def finish_background(app: Flask) -> None:
    """Wait for the work this app started in the background (release cuts, dedupe runs): the
    deterministic hook, no sleeping. Each thread must end within two minutes."""
    for key in ("casebook.release_threads", "casebook.linkage_threads"):
        for thread in app.extensions.get(key, []):
            thread.join(timeout=120)
            assert not thread.is_alive(), f"{thread.name} did not finish"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a `casebook` command runs with on this test's instance: its folder,
    database, keys and blind-index width (another width would miss every index the app wrote).
    A subprocess takes `{**os.environ, **cli_env(settings)}`."""
    return {
        "CASEBOOK_ENV": "testing",
        "CASEBOOK_INSTANCE": str(settings.instance),
        "DATABASE_URL": settings.database_url,
        "CASEBOOK_KEK_SOURCE": settings.kek_source,
        "CASEBOOK_SECRET_KEY": settings.secret_key,
        "CASEBOOK_EXPECTED_CASES": str(settings.expected_cases),
        **extra,
    }


def vault_of(app: Flask) -> Vault:
    v: Vault = app.extensions["casebook.vault"]
    return v


# -- factories -----------------------------------------------------------------------------------


@dataclass
class UserFixture:
    id: uuid.UUID
    email: str
    password: str
    role: str
    secret: str
    recovery_codes: list[str]

    def code(self, offset: int = 0) -> str:
        return totp.code_at(self.secret, totp.current_step() + offset)


def make_user(
    app: Flask,
    role: str,
    *,
    email: str | None = None,
    password: str = "correct horse battery staple",
    confirmed: bool = True,
    language: str = "en",
) -> UserFixture:
    from datetime import UTC, datetime

    from casebook.audit.services import Actor
    from casebook.auth.services import user_create

    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        user, enrolment = user_create(
            s,
            Actor.cli(),
            app.extensions["casebook.passwords"],
            email=email,
            display_name=f"Test {role}",
            role=role,
            password=password,
            language=language,
        )
        if confirmed:
            user.totp_confirmed_at = datetime.now(UTC)
        uid = user.id
    return UserFixture(uid, email, password, role, enrolment.secret, enrolment.recovery_codes)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def login(client: FlaskClient, user: UserFixture, code_offset: int = 0) -> None:
    """Sign in through the real forms: password, then the second factor."""
    token = csrf_token(client, "/login")
    resp = client.post(
        "/login", data={"email": user.email, "password": user.password, "csrf_token": token}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert "/login/verify" in resp.headers["Location"]
    token = csrf_token(client, "/login/verify")
    resp = client.post("/login/verify", data={"code": user.code(code_offset), "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


@pytest.fixture
def users(app: Flask) -> dict[str, UserFixture]:
    return {role: make_user(app, role) for role in ("documenter", "lawyer", "advocate", "admin")}


def bearer(app: Flask, user: UserFixture, days: int = 30) -> dict[str, str]:
    """Authorization headers with a fresh API token for a user."""
    from casebook.audit.services import Actor
    from casebook.auth.models import User
    from casebook.auth.services import token_issue

    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        _, raw = token_issue(s, Actor.cli(), s.get(User, user.id), days)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {raw}"}


def fresh_code(app: Flask, headers: dict[str, str]) -> dict[str, str]:
    """The bearer headers plus a current authenticator code of the token's user, as erasure and
    other destructive API requests need (`X-Casebook-OTP`); each call gives an unused code."""
    from casebook.auth.services import token_user

    with app.extensions["casebook.db"].sessionmaker() as s:
        user = token_user(s, headers["Authorization"].removeprefix("Bearer "))
        assert user is not None and user.totp_secret
        step = max(totp.current_step(), (user.totp_last_step or 0) + 1)
        code = totp.code_at(user.totp_secret, step)
    return {**headers, "X-Casebook-OTP": code}


def minimal_case(**person: str) -> dict[str, object]:
    """design.md §3's smallest valid case, with person fields overridable."""
    return {
        "person": {
            "first_name": "أحمد",
            "father_name": "محمود",
            "family_name": "الحلبي",
            "mother_name": "فاطمة",
            "sex": "male",
            "birth_date": "1985",
            **person,
        },
        "arrests": [
            {
                "date": "2013-05",
                "governorate": "aleppo",
                "place": "حي الشعار",
                "perpetrator": "regime.air_force_intelligence",
            }
        ],
        "status": [{"status": "forcibly_disappeared", "date": "2013-05", "source": "family"}],
        "source": {"name": "أم أحمد", "relationship": "mother", "contact": "+90 555 000 0000"},
        "consent": {
            "documentation": {"granted": True, "date": "2024-05-01"},
            "statistics": {"granted": True, "date": "2024-05-01"},
        },
        "testimonies": [{"text": "اعتقل من الحاجز", "date": "2024-05-01", "language": "ar"}],
    }


class _FormFields(HTMLParser):
    """Reads what a browser would send back from one form (see `form_fields`)."""

    def __init__(self, form_class: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_class = form_class
        self.values: dict[str, str] = {}
        self._inside = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._area: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = self.form_class in a.get("class", "").split()
        if not self._inside or not (a.get("name") or tag == "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return  # a browser sends only the button clicked
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.values[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._area = a["name"]
            self.values[self._area] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select" and self._select:
            if self._select not in self.values and self._first_option is not None:
                self.values[self._select] = self._first_option  # none selected: the first
            self._select = None
        elif tag == "textarea":
            self._area = None

    def handle_data(self, data: str) -> None:
        if self._area:
            self.values[self._area] += data


def form_fields(page: str, form_class: str) -> dict[str, str]:
    """What a browser would send back, unchanged, from the form of this class on `page`:
    its inputs (checked boxes only, no buttons), each select's chosen option (or its first)
    and its textareas, with the page's character references read as the browser reads them."""
    reader = _FormFields(form_class)
    reader.feed(page)
    reader.close()
    assert reader.values, f"no form of class {form_class!r} with fields on the page"
    return reader.values
