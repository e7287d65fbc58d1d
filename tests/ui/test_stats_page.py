"""The statistics page as an advocate reads it, in Arabic and English: a table that collapsed to
its total is not shown as a breakdown, merged categories are named, the k error stands beside
the k field, the Arabic chart is drawn right to left, and the CSV speaks the reader's language."""

from __future__ import annotations

import csv
import io

from flask import Flask, render_template
from flask.testing import FlaskClient

from casebook.stats.charts import bar_chart
from casebook.stats.services import Release
from casebook.stats.views import dimension_label, label, shape
from tests.conftest import csrf_from, finish_background, login, make_user
from tests.stats.test_releases import advocate_h, lawyer_h, released  # noqa: F401 (fixtures)


def _release(**over: object) -> Release:
    base: dict[str, object] = {
        "number": 3,
        "released_at": "2026-12-03",
        "dimensions": ("arrest_year", "governorate"),
        "grouped": True,
        "k": 11,
        "verified_only": False,
        "rows": ["other"],
        "cols": ["other"],
        "members": {
            "arrest_year": {"other": ["2011", "2012", "2013"]},
            "governorate": {"other": ["aleppo", "homs"]},
        },
        "values": [[184]],
        "row_totals": [184],
        "col_totals": [184],
        "total": 184,
        "method": "",
    }
    base.update(over)
    return Release(**base)  # type: ignore[arg-type]


def _table(app: Flask, release: Release, lang: str) -> str:
    with app.test_request_context(headers={"Accept-Language": lang}):
        return render_template(
            "stats/table.html",
            release=release,
            shape=shape(release),
            label=label,
            dimension_label=dimension_label,
        )


def test_a_table_that_collapsed_to_one_cell_says_it_is_only_a_total(app: Flask) -> None:
    html = _table(app, _release(), "en")
    assert "can only be shown as its total: 184" in html and "not a breakdown" in html
    assert "<table" not in html  # no "Other × Other = 184" grid
    assert "Some categories were merged" in html and "Aleppo" in html
    ar = _table(app, _release(), "ar")
    assert "لا يمكن عرض" in ar and "<table" not in ar
    assert "أقل من 11 حالة" in ar and "11 حالات" not in ar  # Arabic plural rules


def test_a_table_with_every_row_hidden_says_why_and_a_single_hidden_row_explains_itself(
    app: Flask,
) -> None:
    hidden = _release(
        dimensions=("arrest_year",),
        grouped=False,
        rows=["2011", "2012", "2025"],
        cols=[""],
        members={"arrest_year": {}},
        values=[[None], [None], [0]],
        row_totals=[None, None, 0],
        col_totals=[],
    )
    assert "Every row with cases is hidden" in _table(app, hidden, "en")
    one = _release(
        dimensions=("arrest_year",),
        rows=["2011", "2012..unknown"],
        cols=[""],
        members={"arrest_year": {"2011": ["2011"], "2012..unknown": ["2012", "2013", "unknown"]}},
        values=[[100], [None]],
        row_totals=[100, None],
        col_totals=[],
    )
    html = _table(app, one, "en")
    assert "One row is hidden although the total is shown" in html
    assert "“2012 – Unknown” is 2012, 2013, Unknown" in html


def test_the_arabic_chart_is_drawn_right_to_left() -> None:
    rtl = str(bar_chart([("حلب", 40), ("حمص", 12)], rtl=True))
    # labels start at the right edge and run leftwards, counts end where the bars begin
    assert 'direction="rtl"' in rtl and 'text-anchor="end"' not in rtl
    ltr = str(bar_chart([("Aleppo", 40)], rtl=False))
    assert 'direction="ltr"' in ltr


def test_the_k_error_is_beside_the_k_field_in_arabic_and_no_epsilon_paragraph(
    app: Flask,
    client: FlaskClient,
    released: list[dict],  # type: ignore[type-arg]  # noqa: F811
) -> None:
    login(client, make_user(app, "advocate", language="ar"))
    ar = {"Accept-Language": "ar"}
    page = client.get("/stats/?by=governorate&k=3", headers=ar)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    field = html[html.index('name="k"') :]
    error = field[: field.index("</span>")]
    assert 'id="k-errors"' in error and "k عدد صحيح من 11 إلى 1000." in error
    assert "this release" not in html and "ε" not in html
    assert 'aria-describedby="k-errors"' in html


def test_the_csv_from_an_arabic_page_has_arabic_labels_beside_the_codes(
    app: Flask,
    client: FlaskClient,
    released: list[dict],  # type: ignore[type-arg]  # noqa: F811
) -> None:
    login(client, make_user(app, "advocate", language="ar"))
    text = client.get(
        "/stats/export.csv?by=governorate", headers={"Accept-Language": "ar"}
    ).get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Arabic labels as UTF-8 only with it
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["governorate", "count", "suppressed", "المحافظة", "kind"]
    codes = {r[0]: r[3] for r in rows[1:] if len(r) == 5}
    assert codes["aleppo"] == "حلب" and codes["total"] == "المجموع"
    kinds = {r[0]: r[4] for r in rows[1:] if len(r) == 5}
    assert kinds["aleppo"] == "cell" and kinds["total"] == "total"
    notes = [r[0] for r in rows if r and r[0].startswith("#")]
    assert notes and all("method" not in n and "data as of" not in n for n in notes)
    assert any("الإصدار" in n for n in notes)
    # every note line as scripts skip them: "#" first, never quoted (pandas, R)
    lines = text.lstrip("\ufeff").splitlines()
    assert not any(line.startswith('"#') for line in lines)
    assert sum(line.startswith("# ") for line in lines) >= 3


def test_a_refused_release_is_explained_in_arabic(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "lawyer", language="ar"))
    page = client.get("/stats/releases").get_data(as_text=True)
    assert "يحتاج الإصدار الأول إلى 25 حالة على الأقل" in page  # before the button
    assert 'name="estimate_by"' not in page  # "also by" means nothing without an outside list
    note = "قبل اجتماع جنيف"
    resp = client.post("/stats/releases", data={"csrf_token": csrf_from(page), "note": note})
    assert resp.status_code == 303
    finish_background(app)  # the cut ran in the background, its reason kept untranslated
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "cases were added" not in html and "الحالات المضافة أو المعدّلة أو المحذوفة" in html
    assert f'name="note" maxlength="200" value="{note}"' in html  # kept for the next try


def test_a_one_way_table_merged_into_one_group_is_only_its_total(app: Flask) -> None:
    one = _release(
        dimensions=("governorate",),
        rows=["other"],
        cols=[""],
        members={"governorate": {"other": ["aleppo", "homs", "idlib"]}},
        values=[[56]],
        row_totals=[56],
        col_totals=[],
        total=56,
    )
    assert shape(one)["collapsed"]
    html = _table(app, one, "en")
    assert "Governorate can only be shown as its total: 56" in html and "<table" not in html


def test_a_breakdown_with_every_cell_hidden_keeps_its_totals_and_chart(app: Flask) -> None:
    margins_only = _release(
        dimensions=("governorate", "status"),
        rows=["aleppo", "other"],
        cols=["detained", "other"],
        members={"governorate": {"other": ["homs", "idlib"]}, "status": {}},
        values=[[None, None], [None, None]],
        row_totals=[15, 25],
        col_totals=[22, 18],
        total=40,
    )
    found = shape(margins_only)
    assert found["cells_hidden"] and not found["all_hidden"] and found["drawn"]
    html = _table(app, margins_only, "en")
    assert "only the totals of each row and column can be shown" in html and "<table" in html


def test_a_table_with_one_merged_row_beside_zeros_is_only_its_total(app: Flask) -> None:
    beside_zeros = _release(
        dimensions=("governorate",),
        rows=["quneitra", "unknown", "other"],
        cols=[""],
        members={"governorate": {"quneitra": ["quneitra"], "other": ["aleppo", "homs"]}},
        values=[[0], [0], [55]],
        row_totals=[0, 0, 55],
        col_totals=[],
        total=55,
    )
    assert shape(beside_zeros)["collapsed"]
    assert "can only be shown as its total: 55" in _table(app, beside_zeros, "en")


def test_age_bands_read_low_to_high_on_an_arabic_page_and_chart(app: Flask) -> None:
    """An age band is two numbers around a neutral dash: an Arabic page lays "18–29" out as
    "29–18" unless it is isolated left to right: in the table, in the merged categories' names
    and in the chart's labels; labels of words stay as they are, the CSV keeps the plain text."""
    release = _release(
        dimensions=("age_band",),
        rows=["under_18", "18_29", "30_44..45_59", "60_plus"],
        cols=[],
        members={"age_band": {"30_44..45_59": ["30_44", "45_59"]}},
        values=[[14], [120], [88], [None]],
        row_totals=[14, 120, 88, None],
        col_totals=[],
        total=231,
    )
    html = _table(app, release, "ar")
    assert '<td><bdi dir="ltr">18–29</bdi></td>' in html
    assert '<td><bdi dir="ltr">30–44 – 45–59</bdi></td>' in html  # a merged group
    assert "<td>أقل من 18</td>" in html and "<td>60 فأكثر</td>" in html
    merged = html.split('id="table-merged"', 1)[1]
    assert '<bdi dir="ltr">30–44</bdi>' in merged and '<bdi dir="ltr">45–59</bdi>' in merged
    with app.test_request_context(headers={"Accept-Language": "ar"}):
        chart = str(bar_chart([(label("age_band", "18_29"), 120)], rtl=True))
        assert label("age_band", "18_29") == "18–29"  # the CSV's and the API's text
    assert "\u206618–29\u2069" in chart


def test_an_earlier_release_is_named_as_such_and_chosen_on_the_page(
    app: Flask,
    client: FlaskClient,
    lawyer_h: dict[str, str],  # noqa: F811
    released: list[dict],  # type: ignore[type-arg]  # noqa: F811
) -> None:
    """A reader sent a link to release 1 after release 2 was cut is told it is not the
    latest, can switch release on the page, and keeps the table when switching language."""
    from tests.stats.test_releases import _cut, _seed

    _seed(client, lawyer_h, 25, seed=9)
    code, out = _cut(app)
    assert code == 0, out
    login(client, make_user(app, "advocate", language="en"))
    html = client.get("/stats/?by=sex&release=1").get_data(as_text=True)
    head = html[html.index("<h1>") : html.index('class="filters"')]
    assert "(release 1)" in head and "the latest is release 2" in head
    assert "(release 2)" not in head.replace("release 2,", "")
    chooser = html[
        html.index('name="release"') : html.index("</select>", html.index('name="release"'))
    ]
    assert '<option value="1" selected>' in chooser and '<option value="">' in chooser
    assert "(latest)" in chooser
    latest = client.get("/stats/?by=sex").get_data(as_text=True)
    assert "the latest is" not in latest and "(release 2)" in latest
    # the language switch returns to the same table of the same release, in Arabic
    switch = html[html.index('name="next"') :]
    assert 'value="/stats/?by=sex&amp;release=1"' in switch[:80]
    resp = client.post(
        "/language",
        data={"lang": "ar", "next": "/stats/?by=sex&release=1", "csrf_token": csrf_from(html)},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/stats/?by=sex&release=1")
    ar = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "(الإصدار 1)" in ar and "آخر إصدار هو الإصدار 2" in ar
    # the brief and the files of the earlier release say so too, and are named for it
    brief = client.get("/stats/brief?by=sex&release=1").get_data(as_text=True)
    assert "آخر إصدار هو الإصدار 2" in brief
    resp = client.get("/stats/export.csv?by=sex&release=1&verified=1")
    assert "آخر إصدار هو الإصدار 2" in resp.get_data(as_text=True)
    name = resp.headers["Content-Disposition"]
    assert "casebook-release1-" in name and name.endswith("-sex-verified.csv")
    latest_csv = client.get("/stats/export.csv?by=sex").get_data(as_text=True)
    assert "آخر إصدار" not in latest_csv


def test_times_name_their_zone_and_arabic_months_are_the_syrian_names(app: Flask) -> None:
    """A time without its zone reads as local (the server keeps UTC, three hours behind
    Damascus); Syrians name December كانون الأول, not ديسمبر."""
    from datetime import UTC, datetime

    from casebook.ui import day, when

    moment = datetime(2026, 12, 4, 17, 49, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert when(moment) == "4 December 2026, 17:49 UTC"
        assert day(moment) == "4 December 2026"
    with app.test_request_context(headers={"Accept-Language": "ar"}):
        assert "كانون الأول" in when(moment) and "ديسمبر" not in when(moment)
        assert "17:49" in when(moment) and "التوقيت العالمي" in when(moment)
        assert day(moment.date()) == "4 كانون الأول 2026"


def test_months_are_named_in_words_with_the_month_names_syrians_use(app: Flask) -> None:
    """A table by month read "2016-12" where every other date of the pages is in words; in
    Arabic the Levantine month names (كانون الأول, not ديسمبر)."""
    release = _release(
        dimensions=("arrest_month",),
        grouped=False,
        rows=["2016-11", "2016-12", "2016-unknown"],
        cols=[""],
        members={},
        values=[[40], [None], [12]],
        row_totals=[40, None, 12],
        col_totals=[62],
        total=62,
    )
    en, ar = _table(app, release, "en"), _table(app, release, "ar")
    assert "December 2016" in en and "November 2016" in en and "2016-12" not in en
    assert "كانون الأول 2016" in ar and "تشرين الثاني 2016" in ar
    assert "ديسمبر" not in ar and "2016-12" not in ar
    with app.test_request_context():
        assert label("arrest_month", "2016-13") == "2016-13"  # not a month: as given


def test_the_json_method_follows_the_request_language(
    app: Flask,
    client: FlaskClient,
    advocate_h: dict[str, str],  # noqa: F811
    released: list[dict],  # type: ignore[type-arg]  # noqa: F811
) -> None:
    """An Arabic reader of the API read what a release protects in English only."""
    ar = client.get("/api/v1/stats?by=sex", headers={**advocate_h, "Accept-Language": "ar"})
    en = client.get("/api/v1/stats?by=sex", headers={**advocate_h, "Accept-Language": "en"})
    method_ar, method_en = ar.get_json()["method"], en.get_json()["method"]
    assert "data as of" in method_en and "consenting" in method_en
    assert "البيانات حتى" in method_ar and "data as of" not in method_ar
    assert "متحقق منها" in method_ar  # the states counted, in words
    assert ar.get_json()["cells"] == en.get_json()["cells"]  # the numbers do not change
    # the CSV's and the page's method say what the JSON's says: protected across releases
    # too (an outside review found the CSV promising only "not from the totals")
    login(client, make_user(app, "advocate", language="en"))
    text = client.get("/stats/export.csv?by=sex").get_data(as_text=True)
    method = next(line for line in text.splitlines() if line.startswith("# Method"))
    assert "any other release" in method and "worked out from the totals" not in method
