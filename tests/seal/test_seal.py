"""Sealing on the Flask test client: who may seal, what a sealed service answers, what it
forgets, and unsealing with the unlock secret (the real multi-worker server: test_server.py)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.audit.services import Actor
from casebook.cli import cli
from casebook.config import Settings
from casebook.seal.guard import guard_of
from crypto import KeyRing, PassphraseKeySource
from crypto.keyring import Argon2Params
from tests.conftest import (
    EnglishClient,
    UserFixture,
    bearer,
    csrf_token,
    login,
    make_user,
    minimal_case,
    vault_of,
)

SEALED_HTML = "casebook is sealed"


def _actions(app: Flask) -> list[tuple[str, str, dict[str, object]]]:
    with app.extensions["casebook.db"].sessionmaker() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        return [(r.action, r.outcome, json.loads(r.details or "{}")) for r in rows]


def _seal_from_the_menu(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)
    assert 'href="/seal"' in home  # in the menu of every page
    confirm = client.get("/seal")
    assert confirm.status_code == 200
    resp = client.post("/seal", data={"csrf_token": csrf_token(client, "/seal")})
    assert resp.status_code == 503
    assert SEALED_HTML in resp.get_data(as_text=True)


def _get_paths(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        path = re.sub(r"<int:[^>]+>", "0", rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "00000000-0000-4000-8000-000000000000", path)
        out.append((rule.endpoint, path))
    return out


def _create_case(app: Flask, headers: dict[str, str]) -> str:
    resp = app.test_client().post("/api/v1/cases", json=minimal_case(), headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return str(resp.get_json()["id"])


def test_a_lawyer_seals_and_every_route_answers_sealed(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    token = bearer(app, users["lawyer"])
    case_id = _create_case(app, token)
    other = app.test_client()
    login(other, users["documenter"])
    vault = vault_of(app)
    ring = vault.keyring
    assert app.test_client().get(f"/api/v1/cases/{case_id}", headers=token).status_code == 200
    dek = vault._deks[uuid.UUID(case_id)]._key  # the bytearray the cache holds
    system_key = vault._derive("system")
    assert any(dek) and any(ring.root)

    login(client, users["lawyer"])
    _seal_from_the_menu(client)

    # every key casebook held is overwritten, not only dropped
    assert vault.sealed
    assert not any(ring.root)
    assert all(not any(k.key or b"") for k in ring.keks)
    assert not any(dek) and not any(system_key)
    assert not vault._deks and not vault._derived

    for c in (client, other, app.test_client()):
        for endpoint, path in _get_paths(app):
            if endpoint in ("static", "seal.unseal"):
                continue
            resp = c.get(path, headers=token if path.startswith("/api/") else {})
            assert resp.status_code == 503, (endpoint, resp.status_code)
            if path.startswith("/api/"):
                body = resp.get_json()
                assert body["error"]["code"] == "sealed" and body["error"]["message"]
            else:
                assert SEALED_HTML in resp.get_data(as_text=True), endpoint
                assert "Sign out" not in resp.get_data(as_text=True)
    assert (
        app.test_client().post("/api/v1/cases", json=minimal_case(), headers=token).status_code
        == 503
    )
    # web unseal is off by default: /unseal is the sealed page, pointing to the operator
    unseal_page = app.test_client().get("/unseal")
    assert unseal_page.status_code == 503
    assert "casebook unseal" in unseal_page.get_data(as_text=True)
    assert 'name="passphrase"' not in unseal_page.get_data(as_text=True)
    css = app.test_client().get("/static/casebook.css")
    assert css.status_code == 200
    css.close()

    seal = [d for a, _o, d in _actions(app) if a == "service.seal"]
    assert seal == [
        {"via": "web", "already_sealed": False, "sessions_ended": 2, "tokens_revoked": 1}
    ]

    # unseal from the command line with the key file; the request after that loads the keys
    result = app.test_cli_runner().invoke(cli, ["unseal"])
    assert result.exit_code == 0, result.output
    assert "unsealed" in result.output
    actions = [a for a, _o, _d in _actions(app)]
    assert actions.index("service.seal") < actions.index("service.unseal")
    guard_of(app).check()
    assert not vault.sealed
    # sessions and tokens stay ended
    for c in (client, other):
        resp = c.get("/cases/")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert app.test_client().get(f"/api/v1/cases/{case_id}", headers=token).status_code == 401
    # nothing lost: the case reads with a new token
    fresh = bearer(app, users["lawyer"])
    resp = app.test_client().get(f"/api/v1/cases/{case_id}", headers=fresh)
    assert resp.status_code == 200 and resp.get_json()["person"]["first_name"] == "أحمد"
    verify = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_the_command_line_seals_and_a_wrong_passphrase_does_not_unseal(
    settings: Settings, tmp_path: Path
) -> None:
    from casebook import create_app

    phrase = "the unlock passphrase 2026"
    sealed_path = settings.instance / "keyring.sealed"
    ring = KeyRing.from_json((settings.instance / "keyring.json").read_bytes())
    PassphraseKeySource(sealed_path, lambda: phrase, Argon2Params(1, 1024, 1)).save(ring)
    passfile = tmp_path / "pass"
    passfile.write_text(phrase)
    passfile.chmod(0o600)
    cfg = settings.with_(kek_source="passphrase", kek_passphrase_file=passfile, web_unseal=True)
    app = create_app(cfg)
    app.test_client_class = EnglishClient
    vault_of(app).load()
    try:
        lawyer = make_user(app, "lawyer")
        token = bearer(app, lawyer)
        case_id = _create_case(app, token)
        result = app.test_cli_runner().invoke(cli, ["seal"])
        assert result.exit_code == 0, result.output
        assert "1 API tokens revoked" in result.output
        passfile.unlink()  # as the deploy guide says: the passphrase is not left on the server
        client = app.test_client()
        assert client.get("/").status_code == 503
        assert vault_of(app).sealed

        page = client.get("/unseal")
        assert page.status_code == 200 and "Unlock passphrase" in page.get_data(as_text=True)
        token_field = csrf_token(client, "/unseal")
        resp = client.post(
            "/unseal", data={"passphrase": "not the passphrase", "csrf_token": token_field}
        )
        assert resp.status_code == 400
        assert "does not unlock" in resp.get_data(as_text=True)
        assert vault_of(app).sealed and client.get("/").status_code == 503
        missing = client.post("/unseal", data={"passphrase": phrase})
        assert missing.status_code == 400 and vault_of(app).sealed  # CSRF on the unseal form

        resp = client.post("/unseal", data={"passphrase": phrase, "csrf_token": token_field})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        assert not vault_of(app).sealed
        assert client.get("/login").status_code == 200
        fresh = bearer(app, lawyer)
        assert app.test_client().get(f"/api/v1/cases/{case_id}", headers=fresh).status_code == 200
        outcomes = [(a, o, d.get("via")) for a, o, d in _actions(app) if a.startswith("service.")]
        assert outcomes == [
            ("service.seal", "success", "cli"),
            ("service.unseal", "failure", "web"),
            ("service.unseal", "success", "web"),
        ]
    finally:
        app.extensions["casebook.db"].dispose()


def test_the_seal_form_needs_its_csrf_token(
    app: Flask, client: FlaskClient, users: dict[str, UserFixture]
) -> None:
    login(client, users["admin"])
    resp = client.post("/seal", data={})
    assert resp.status_code == 400
    assert not vault_of(app).sealed
    assert client.get("/").status_code == 200
    assert not [a for a, _o, _d in _actions(app) if a == "service.seal"]


def test_documenters_and_advocates_cannot_seal(app: Flask, users: dict[str, UserFixture]) -> None:
    for role in ("documenter", "advocate"):
        c = app.test_client()
        login(c, users[role])
        assert 'href="/seal"' not in c.get("/").get_data(as_text=True)
        assert c.get("/seal").status_code == 403
        assert c.post("/seal", data={"csrf_token": csrf_token(c, "/")}).status_code == 403
        assert c.get("/").status_code == 200
    assert not vault_of(app).sealed
    admin = app.test_client()
    login(admin, users["admin"])
    assert 'href="/seal"' in admin.get("/").get_data(as_text=True)


def test_the_duress_password_seals_silently(settings: Settings) -> None:
    from casebook import create_app
    from casebook.auth.passwords import Passwords

    duress = "walnut orchard duress 77"
    cfg = settings.with_(duress_hash=Passwords(settings.password_hashing).hash(duress))
    app = create_app(cfg)
    app.test_client_class = EnglishClient
    vault_of(app).load()
    try:
        lawyer = make_user(app, "lawyer")
        client = app.test_client()
        wrong = client.post(
            "/login",
            data={
                "email": lawyer.email,
                "password": "not it at all 123",
                "csrf_token": csrf_token(client),
            },
        )
        assert not vault_of(app).sealed
        resp = client.post(
            "/login",
            data={"email": lawyer.email, "password": duress, "csrf_token": csrf_token(client)},
        )
        assert resp.status_code == wrong.status_code
        assert "The email or password is not right." in resp.get_data(as_text=True)
        assert vault_of(app).sealed
        assert client.get("/login").status_code == 503
        seal = [(d["via"], o) for a, o, d in _actions(app) if a == "service.seal"]
        assert seal == [("sign-in", "success")]
    finally:
        app.extensions["casebook.db"].dispose()


def test_sealing_twice_is_recorded_and_actors_are_named(app: Flask) -> None:
    from casebook.seal.services import service_seal

    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        first = service_seal(s, Actor.cli(), "cli")
        second = service_seal(s, Actor.cli(), "cli")
    assert not first.already and second.already


def test_the_seal_pages_are_in_one_language(app: Flask, users: dict[str, UserFixture]) -> None:
    from tests.ui.test_language_crawl import foreign_words

    for lang in ("ar", "en"):
        client = app.test_client()
        login(client, make_user(app, "lawyer", language=lang))
        page = client.get("/seal").get_data(as_text=True)
        assert "/seal" in page and not foreign_words(page, lang), lang
    assert app.test_cli_runner().invoke(cli, ["seal"]).exit_code == 0
    for lang in ("ar", "en"):
        for path in ("/", "/login", "/cases/"):
            resp = app.test_client().get(path, headers={"Accept-Language": lang})
            assert resp.status_code == 503
            assert not foreign_words(resp.get_data(as_text=True), lang), (lang, path)


def test_unsealing_with_a_passphrase_fails_loudly_when_no_server_here_takes_the_keys(
    settings: Settings, tmp_path: Path
) -> None:
    """Passphrase mode: `casebook unseal` checks the passphrase, lifts the seal and hands the
    unlock key to the server of this machine; without one (or when it refuses) it says so and
    exits non-zero. A wrong passphrase lifts nothing."""
    import threading

    from casebook import create_app
    from casebook.seal import handoff

    phrase = "the unlock passphrase 2026"
    ring = KeyRing.from_json((settings.instance / "keyring.json").read_bytes())
    PassphraseKeySource(
        settings.instance / "keyring.sealed", lambda: phrase, Argon2Params(1, 1024, 1)
    ).save(ring)
    app = create_app(settings.with_(kek_source="passphrase", kek_passphrase_file=None))
    runner = app.test_cli_runner()
    try:
        assert runner.invoke(cli, ["seal"]).exit_code == 0

        wrong = runner.invoke(cli, ["unseal", "--passphrase-stdin"], input="not it, not at all\n")
        assert wrong.exit_code != 0 and "wrong unlock passphrase" in str(wrong.exception)

        right = runner.invoke(cli, ["unseal", "--passphrase-stdin"], input=phrase + "\n")
        assert right.exit_code == 1, right.output
        assert "unsealed in the database, but the server on this machine did not get its keys" in (
            right.output
        )
        assert "no casebook server of this instance runs on this machine" in right.output
        assert "stay sealed until 'casebook unseal' is run on each" in right.output

        # a server that refuses the key (here: the database was sealed again meanwhile)
        assert runner.invoke(cli, ["seal"]).exit_code == 0
        listener = handoff.HandoffListener(handoff.socket_path(settings.instance))
        listener.open()
        done = threading.Event()
        answers: list[str] = []

        def master() -> None:
            while not done.is_set():
                answers.extend(listener.poll(lambda key: handoff.SEALED))
                done.wait(0.01)

        thread = threading.Thread(target=master)
        thread.start()
        try:
            refused = runner.invoke(cli, ["unseal", "--passphrase-stdin"], input=phrase + "\n")
        finally:
            done.set()
            thread.join()
            listener.close()
        assert answers == [handoff.SEALED]
        assert refused.exit_code == 1
        assert "the server refused the key: the database says casebook is sealed" in (
            refused.output
        )

        outcomes = [(a, o, d.get("via")) for a, o, d in _actions(app) if a.startswith("service.")]
        assert outcomes == [
            ("service.seal", "success", "cli"),
            ("service.unseal", "failure", "cli"),
            ("service.unseal", "success", "cli"),
            ("service.seal", "success", "cli"),
            ("service.unseal", "success", "cli"),
        ]
    finally:
        app.extensions["casebook.db"].dispose()


def test_the_master_takes_only_a_right_key_while_unsealed_and_the_seal_overwrites_it(
    settings: Settings,
) -> None:
    """What the gunicorn master does with a handed-over unlock key (the server test runs it
    for real): refused and overwritten while the database says sealed or when it does not open
    the keyring; kept otherwise, until the next seal overwrites it with every other key."""
    from casebook import create_app
    from casebook.seal import handoff

    phrase = "the unlock passphrase 2026"
    ring = KeyRing.from_json((settings.instance / "keyring.json").read_bytes())
    path = settings.instance / "keyring.sealed"
    PassphraseKeySource(path, lambda: phrase, Argon2Params(1, 1024, 1)).save(ring)
    probe = PassphraseKeySource(path, lambda: phrase)
    probe.load()
    right = bytes(probe.unlock_key() or b"")
    assert len(right) == 32
    app = create_app(settings.with_(kek_source="passphrase", kek_passphrase_file=None))
    guard, vault = guard_of(app), vault_of(app)
    try:
        assert app.test_cli_runner().invoke(cli, ["seal"]).exit_code == 0
        guard.check()
        assert vault.sealed

        early = bytearray(right)
        assert guard.take_unlock_key(early) == handoff.SEALED  # before the seal is lifted
        assert not any(early) and vault.sealed
        with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
            from casebook.seal.services import service_unseal

            assert service_unseal(s, Actor.cli(), "cli")
        wrong = bytearray(b"\x01" * 32)
        assert guard.take_unlock_key(wrong) == handoff.WRONG_KEY
        assert not any(wrong) and vault.sealed

        held = bytearray(right)
        assert guard.take_unlock_key(held) == handoff.UNSEALED
        assert not vault.sealed and not guard.sealed_now()
        assert bytes(vault.keyring.root) == bytes(ring.root)
        assert vault.unlock_key() is held  # the very buffer, not a copy

        again = bytearray(right)
        assert guard.take_unlock_key(again) == handoff.ALREADY and not any(again)

        assert app.test_cli_runner().invoke(cli, ["seal"]).exit_code == 0
        guard.check()
        assert vault.sealed and not any(held)  # the seal overwrote the key the master kept
    finally:
        app.extensions["casebook.db"].dispose()
