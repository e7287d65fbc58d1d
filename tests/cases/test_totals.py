"""One total on every search path: the HTML case list and `GET /api/v1/cases` report the same
number for the same query and user (the cases that user may see that match after the exact
check), among near-miss names the blind indexes also find, and say "at least" the same way
when the search stops once the page is full."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, csrf_from, login, make_user, minimal_case

# The HTML list's count line: "3 cases", "1 case" or "At least 2 cases: ..."
_COUNT = re.compile(r"<p>(At least )?(\d+) cases?\b")


def _in(governorate: str, **person: str) -> dict[str, Any]:
    data = minimal_case(**person)
    data["arrests"] = [{**data["arrests"][0], "governorate": governorate}]  # type: ignore[index]
    return data


@pytest.fixture
def people(app: Flask) -> dict[str, Any]:
    """A lawyer's and a documenter's cases: أحمد الحلبي five times (two of them the
    documenter's, one in Hama), and names that share an index value or a skeleton with it."""
    lawyer, documenter = make_user(app, "lawyer"), make_user(app, "documenter")
    client = app.test_client()
    for who, data in [
        (lawyer, _in("aleppo")),
        (lawyer, _in("aleppo", first_name="محمد")),  # another first name
        (lawyer, _in("hama")),
        (lawyer, _in("aleppo", family_name="الحلبية")),  # another family name
        (lawyer, _in("aleppo", first_name="محمود")),  # Mohammad's skeleton, محمد's neighbour
        (documenter, _in("aleppo")),
        (documenter, _in("aleppo", first_name="احمد", family_name="حلبي")),  # the same name
        (documenter, _in("aleppo", first_name="أحمد", family_name="الحلبي", birth_date="1990")),
        (lawyer, _in("aleppo", first_name="يوسف", other_names=["أحمد الحلبي"])),  # also known as
    ]:
        resp = client.post("/api/v1/cases", json=data, headers=bearer(app, who))
        assert resp.status_code == 201, resp.get_json()
    return {"lawyer": lawyer, "documenter": documenter}


def _api(client: FlaskClient, headers: dict[str, str], fields: dict[str, Any]) -> str:
    resp = client.get("/api/v1/cases", query_string=fields, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["total_exact"] is (body["total_is"] == "exact")
    return f"{body['total']}{'+' if body['total_is'] == 'at_least' else ''}"


def _html(client: FlaskClient, fields: dict[str, Any]) -> str:
    token = csrf_from(client.get("/cases/").get_data(as_text=True))
    html = client.post(
        "/cases/", data={"csrf_token": token, **fields}, headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    found = _COUNT.search(html.split("</details>", 1)[1])
    assert found, html
    return f"{found.group(2)}{'+' if found.group(1) else ''}"


QUERIES = [
    # (fields, the lawyer's total, the documenter's total); "+": at least that many
    ({"q": "أحمد الحلبي"}, "6", "3"),  # and the case known also by that name
    ({"q": "احمد حلبي"}, "6", "3"),
    ({"q": "أحمد الحلبي", "birth_year": "1985"}, "5", "2"),
    ({"q": "أحمد الحلبي", "birth_year": "1990"}, "1", "1"),
    ({"q": "محمد الحلبي"}, "1", "0"),
    ({"q": "Mohammad Halabi"}, "2", "0"),  # Latin letters cannot tell محمد from محمود
    ({"q": "Ahmad Halabi"}, "6", "3"),  # nor الحلبي from الحلبية; not the other name, in Arabic
    ({"q": "الحلبي"}, "8", "3"),  # the family name alone
    ({"q": "أحمد"}, "0", "0"),  # a first name alone is searched as the family name أحمد
    ({"q": "أحمد الحلبي", "governorate": "aleppo"}, "5", "3"),
    ({"q": "أحمد الحلبي", "governorate": "hama"}, "1", "0"),
    ({"governorate": "hama"}, "1", "0"),
    ({"q": "أحمد الحلبي", "per_page": "1"}, "2+", "2+"),
    ({"q": "أحمد الحلبي", "per_page": "1", "page": "2"}, "3+", "3+"),
    ({"q": "أحمد الحلبي", "per_page": "5"}, "6+", "3"),
    ({"governorate": "aleppo", "per_page": "2"}, "3+", "3+"),
    ({"governorate": "aleppo", "per_page": "3"}, "4+", "3"),
    ({}, "9", "3"),
]


@pytest.mark.parametrize("role", ["lawyer", "documenter"])
def test_the_html_list_and_the_api_give_one_total(
    app: Flask, people: dict[str, Any], role: str
) -> None:
    """Each role's totals for every query, as the API reports them and as the HTML list
    shows them, against the table (the lawyer's searches read candidates straight from the
    blind indexes; the documenter's only among the cases they see)."""
    client = app.test_client()
    login(client, people[role])
    headers = bearer(app, people[role])
    want = [lawyer if role == "lawyer" else documenter for _, lawyer, documenter in QUERIES]
    assert [_api(client, headers, fields) for fields, _, _ in QUERIES] == want
    assert [_html(client, fields) for fields, _, _ in QUERIES] == want
