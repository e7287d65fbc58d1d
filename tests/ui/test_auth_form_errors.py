"""The sign-in, second-step and password forms name every problem at the top, each linking to
its field, and show each message beside its field (as the case forms do)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_from, login, make_user

SUMMARY = re.compile(
    r'<div class="alert alert-danger error-summary"[^>]*id="error-summary".*?</div>', re.S
)


def _summary(html: str) -> list[tuple[str, str]]:
    """(link target, text) of every entry of the summary, which comes before the form."""
    found = SUMMARY.search(html)
    assert found, html
    assert found.start() < html.index('<div class="field')  # above the first field
    return [
        (target, re.sub(r"\s+", " ", text).strip())
        for target, text in re.findall(
            r'<li><a href="#([^"]+)">(.*?)</a></li>', found.group(0), re.S
        )
    ]


def _beside(html: str, field: str) -> str:
    """The messages shown under a field, which is marked invalid and points at them."""
    assert re.search(
        rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', html
    ), field
    found = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', html, re.S)
    assert found, field
    return re.sub(r"<[^>]+>", " ", found.group(1))


def test_sign_in_names_each_missing_field_and_a_wrong_password(
    app: Flask, client: FlaskClient
) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert "error-summary" not in client.get("/login").get_data(as_text=True)
    html = client.post("/login", data={"csrf_token": token}).get_data(as_text=True)
    assert _summary(html) == [
        ("email", "Email: This field is required."),
        ("password", "Password: This field is required."),
    ]
    assert "required" in _beside(html, "email") and "required" in _beside(html, "password")

    user = make_user(app, "documenter")
    html = client.post(
        "/login", data={"csrf_token": token, "email": user.email, "password": "wrong password"}
    ).get_data(as_text=True)
    assert _summary(html) == [("password", "Password: The email or password is not right.")]
    assert "not right" in _beside(html, "password")


def test_the_second_step_marks_the_code(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "lawyer", language="ar")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"csrf_token": token, "email": user.email, "password": user.password}
    )
    with client.session_transaction() as sess:
        sess["lang"] = "ar"
    token = csrf_from(client.get("/login/verify").get_data(as_text=True))
    html = client.post("/login/verify", data={"csrf_token": token, "code": "000000"}).get_data(
        as_text=True
    )
    entries = _summary(html)
    assert [target for target, _ in entries] == ["code"] and "There is a problem" not in html
    assert "الرمز" in entries[0][1] and "صحّح ما هو مذكور هنا" in html
    assert _beside(html, "code").strip()


def test_changing_the_password_lists_every_problem(app: Flask, client: FlaskClient) -> None:
    user = make_user(app, "advocate")
    login(client, user)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    resp = client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": user.password, "new_password": "short"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    targets = [target for target, _ in _summary(html)]
    assert "confirm_password" in targets and "current_password" in targets
    assert "required" in _beside(html, "confirm_password")
    resp = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "not my password",
            "new_password": "a long enough new password",
            "confirm_password": "a different long password",
        },
    )
    html = resp.get_data(as_text=True)
    entries = dict(_summary(html))
    assert set(entries) >= {"current_password"} and len(entries) >= 2, entries
    for target in entries:
        assert _beside(html, target).strip()


def test_the_second_step_is_in_the_accounts_language(app: Flask, client: FlaskClient) -> None:
    """An Arabic account signing in from a browser that asks for English reads the code page
    in Arabic, as every page after it; a language chosen on the page still wins."""
    from tests.conftest import csrf_token, make_user

    user = make_user(app, "lawyer", language="ar")
    en = {"Accept-Language": "en"}
    token = csrf_token(client, "/login")
    resp = client.post(
        "/login",
        data={"email": user.email, "password": user.password, "csrf_token": token},
        headers=en,
    )
    assert "/login/verify" in resp.headers["Location"]
    html = client.get("/login/verify", headers=en).get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in html
    token = csrf_token(client, "/login/verify")
    client.post("/language", data={"lang": "en", "next": "/login/verify", "csrf_token": token})
    html = client.get("/login/verify", headers=en).get_data(as_text=True)
    assert 'lang="en" dir="ltr"' in html
