"""The WGEID packet lists every arrest, says which preceded the disappearance, keeps the unit
apart from the force, and punctuates Arabic as Arabic."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, login, make_user
from tests.packets.test_packets import submittable


def test_every_arrest_listed_and_the_one_before_the_disappearance_named(
    app: Flask, client: FlaskClient
) -> None:
    lawyer = make_user(app, "lawyer", language="ar")
    case = submittable()
    case["arrests"] = [
        {
            "date": "2011-08",
            "governorate": "homs",
            "place": "باب عمرو",
            "perpetrator": "regime.military_intelligence",
            "unit": "الفرع 261",
        },
        {
            "date": "2013-05",
            "governorate": "aleppo",
            "place": "حي الشعار",
            "perpetrator": "regime.air_force_intelligence",
        },
    ]
    case["status"] = [{"status": "forcibly_disappeared", "date": "2013-06"}]
    cid = client.post("/api/v1/cases", json=case, headers=bearer(app, lawyer)).get_json()["id"]
    login(client, lawyer)
    en = client.get(f"/cases/{cid}/packet/wgeid?lang=en").get_data(as_text=True)
    assert "2011-08" in en and "2013-05" in en and "باب عمرو" in en and "حي الشعار" in en
    assert re.search(r"Arrest 2 \(the arrest that preceded the disappearance\)", en)
    assert "Arrest 1 (the arrest" not in en
    assert re.search(r"Military Intelligence[^<]*, Branch or unit: <bdi dir=\"auto\">الفرع 261", en)
    ar = client.get(f"/cases/{cid}/packet/wgeid?lang=ar").get_data(as_text=True)
    assert "، " in ar and '<bdi dir="auto">باب عمرو</bdi>،' in ar  # Arabic comma, not ","
    assert '<bdi dir="ltr">2011-08</bdi>' in ar
