"""Full names from outside lists split into their parts, in both scripts: a table to grow."""

from __future__ import annotations

import pytest

from casebook.linkage.lists import split_full_name

# full name -> (first, father, grandfather, family); None where the name has no such part
TABLE = [
    ("محمد أحمد عبد الله الحلبي", ("محمد", "أحمد", "عبد الله", "الحلبي")),
    ("عبد الرحمن محمد الخطيب", ("عبد الرحمن", "محمد", None, "الخطيب")),
    ("أبو بكر عمر السقا", ("أبو بكر", "عمر", None, "السقا")),
    ("نور الدين حسن العلي", ("نور الدين", "حسن", None, "العلي")),
    ("محمد نور الدين الحموي", ("محمد", "نور الدين", None, "الحموي")),
    ("محمد بن أحمد الحلبي", ("محمد", "أحمد", None, "الحلبي")),
    ("خالد العبد الله", ("خالد", None, None, "العبد الله")),
    ("Abdul Rahman Ahmad Halabi", ("Abdul Rahman", "Ahmad", None, "Halabi")),
    ("ABDUL RAHMAN AHMAD HALABI", ("ABDUL RAHMAN", "AHMAD", None, "HALABI")),
    ("abdul rahman ahmad halabi", ("abdul rahman", "ahmad", None, "halabi")),
    ("Abu Bakr Omar Saqqa", ("Abu Bakr", "Omar", None, "Saqqa")),
    ("Mohammad Ahmad Al Halabi", ("Mohammad", "Ahmad", None, "Al Halabi")),
    ("Mohammad Ahmad El Masri", ("Mohammad", "Ahmad", None, "El Masri")),
    ("Mohammad Ahmad Al-Halabi", ("Mohammad", "Ahmad", None, "Al-Halabi")),
    ("Salah Eddine Ahmad Khatib", ("Salah Eddine", "Ahmad", None, "Khatib")),
    ("Salah El Din Ahmad Khatib", ("Salah El Din", "Ahmad", None, "Khatib")),
    ("Nur ad-Din Zangi", ("Nur ad-Din", None, None, "Zangi")),
    ("Abd al Karim Hassan Ali Al Ahmad", ("Abd al Karim", "Hassan", "Ali", "Al Ahmad")),
    ("Mohammad bin Ahmad Halabi", ("Mohammad", "Ahmad", None, "Halabi")),
    ("Fadl Allah Omar", ("Fadl Allah", None, None, "Omar")),
    ("Alwan Hassan", ("Alwan", None, None, "Hassan")),
    ("Elie Haddad", ("Elie", None, None, "Haddad")),
    ("محمد", ("محمد", None, None, None)),
    ("Abd El Rahman Mohamed El Sayed", ("Abd El Rahman", "Mohamed", None, "El Sayed")),
    ("Mohammad Nour Eddine Kassem", ("Mohammad", "Nour Eddine", None, "Kassem")),
    ("Muhammad ibn Ahmad Al Ali", ("Muhammad", "Ahmad", None, "Al Ali")),
    ("Abu Bakr Al-Siddiq", ("Abu Bakr", None, None, "Al-Siddiq")),
    ("ABDUL RAHMAN ABU BAKR ALI", ("ABDUL RAHMAN", "ABU BAKR", None, "ALI")),
]


@pytest.mark.parametrize(("text", "parts"), TABLE)
def test_split_full_name(text: str, parts: tuple[str | None, ...]) -> None:
    got = split_full_name(text)
    fields = ("first_name", "father_name", "grandfather_name", "family_name")
    assert tuple(got.get(f) for f in fields) == parts


def test_a_list_names_the_columns_it_did_not_use() -> None:
    from casebook.linkage.lists import read_list_report

    data = "full name,mother,birth year,prison,رقم الهاتف\nأحمد محمد الحلبي,فاطمة,1985,x,y\n"
    read = read_list_report(data.encode("utf-8"), "list.csv")
    assert read.unknown == ["prison", "رقم الهاتف"]
    assert read.rows[0][1]["first_name"] == "أحمد"


def test_a_list_without_a_name_column_says_which_headers_it_reads() -> None:
    from casebook.imports.reader import ImportFileError
    from casebook.linkage.lists import read_list_report

    with pytest.raises(ImportFileError) as refused:
        read_list_report(b"dob,age\n1985,40\n", "list.csv")
    needs, headers = refused.value.problems
    assert needs == "The list needs a column with the full name, or first and family names."
    assert headers.startswith("The headers a list may use (English or Arabic): ")
    assert "full name" in headers and "الاسم الكامل" in headers and "birth year" in headers
    # a list without a header row: its first person's names are not echoed as "headers"
    with pytest.raises(ImportFileError) as refused:
        read_list_report("سامر,خليل,1985\n".encode(), "list.csv")
    assert not any("سامر" in p or "خليل" in p for p in refused.value.problems)
