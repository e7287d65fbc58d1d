"""When two records' births say two people (casebook.linkage.features.two_births)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from casebook.linkage.features import YEARS_APART, birth_month_day, two_births

days = st.dates(min_value=date(1930, 1, 1), max_value=date(2010, 12, 31))


def _parts(day: date) -> tuple[int, str | None]:
    return day.year, birth_month_day(day.isoformat())


@given(days, days)
def test_either_order_gives_the_same_answer(a: date, b: date) -> None:
    assert two_births(*_parts(a), *_parts(b)) == two_births(*_parts(b), *_parts(a))


@given(days)
def test_one_date_is_one_person_however_it_is_given(day: date) -> None:
    year, month_day = _parts(day)
    assert not two_births(year, month_day, year, month_day)
    assert not two_births(year, month_day, year, None)  # the year alone
    assert not two_births(year, month_day, year + 1, month_day)  # a year off by one
    swapped = f"{day.day:02d}-{day.month:02d}"
    if day.day <= 12:  # the day and month written the other way round
        assert not two_births(year, month_day, year, birth_month_day(f"{year}-{swapped}"))


@given(days, st.integers(min_value=1, max_value=27))
def test_a_slip_of_one_number_is_not_two_people(day: date, other_day: int) -> None:
    year, month_day = _parts(day)
    slipped = birth_month_day(f"{year}-{day.month:02d}-{other_day:02d}")
    assert not two_births(year, month_day, year, slipped)


@given(days, st.integers(min_value=YEARS_APART, max_value=60))
def test_births_a_decade_apart_are_two_people(day: date, years: int) -> None:
    assert two_births(day.year, None, day.year + years, None)


def test_two_birthdays_are_two_people_but_not_1_january() -> None:
    assert two_births(1979, birth_month_day("1979-07-20"), 1978, birth_month_day("1978-09-21"))
    assert birth_month_day("1979-01-01") is None  # a year whose day nobody knew
    assert birth_month_day("1979-07") is None and birth_month_day("1979") is None
    later = date(1979, 7, 20) + timedelta(days=63)
    assert two_births(*_parts(date(1979, 7, 20)), *_parts(later))
