"""Reading import files: a large file is decoded as it is read, never held as text whole, and a
file that stops being text midway is refused with one message, not a traceback."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest

from casebook.imports.reader import ImportFileError, read_rows

ROW = ["أحمد", "محمود", "الحلبي", "فاطمة", "1985", "2013-05", "حلب", "اعتقل من الحاجز في حي الشعار"]
HEADER = ["first name", "father name", "family name", "mother name", "birth date", "arrest date",
          "governorate", "testimony"]  # fmt: skip


def _big_csv(rows: int, encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows([ROW] * rows)
    return out.getvalue().encode(encoding)


def _read_all(data: bytes) -> int:
    _, _, rows = read_rows(data, "cases.csv")
    return sum(1 for _ in rows)


def _peak_while_reading(data: bytes, name: str) -> tuple[int, int]:
    """(rows read, peak bytes allocated while reading them)."""
    tracemalloc.start()
    try:
        _, _, rows = read_rows(data, name)
        count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1256", "utf-16"])
def test_a_large_csv_is_read_without_a_decoded_copy_of_the_whole_file(encoding: str) -> None:
    data = _big_csv(60_000, encoding)
    assert len(data) > 4_000_000
    count, peak = _peak_while_reading(data, "big.csv")
    assert count == 60_000
    # Decoding the file whole (as text, then a StringIO's buffer) would cost more than the
    # file's own size; rows decoded as they are read cost a few buffers.
    assert peak < len(data) / 4, (peak, len(data))


def test_a_large_json_lines_file_is_read_line_by_line() -> None:
    line = json.dumps({"person": dict(zip(HEADER, ROW, strict=True))}, ensure_ascii=False)
    data = ("\n".join([line] * 40_000) + "\n").encode()
    count, peak = _peak_while_reading(data, "big.jsonl")
    assert count == 40_000
    assert peak < len(data) / 4, (peak, len(data))


def test_rows_read_as_before_across_line_endings_and_delimiters() -> None:
    data = 'first name;family name\r\nأحمد;الحلبي\r\n\r\nمريم;"العلي\r\nالثانية"\r\n'.encode()
    kind, encoding, rows = read_rows(data, "cases.csv")
    read = [(r.number, r.cells) for r in rows]
    assert (kind, encoding) == ("csv", "utf-8")
    assert read == [
        (2, {"person.first_name": "أحمد", "person.family_name": "الحلبي"}),
        (4, {"person.first_name": "مريم", "person.family_name": "العلي\r\nالثانية"}),
    ]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_an_empty_file_is_refused_as_empty(data: bytes) -> None:
    with pytest.raises(ImportFileError, match="empty"):
        _read_all(data)


def test_a_utf16_file_broken_midway_is_refused_with_one_message() -> None:
    data = _big_csv(20, "utf-16") + b"\x00\xd8"  # half a surrogate pair, then the file ends
    with pytest.raises(ImportFileError, match="not readable text"):
        _read_all(data)


@pytest.mark.parametrize("family", ["الكنية", "اسم العائلة", "اللقب", "Surname", "last name"])
def test_the_family_name_headers_people_write(family: str) -> None:
    from casebook.imports.columns import map_headers

    mapped, problems = map_headers(["الاسم الأول", family])
    assert mapped == ["person.first_name", "person.family_name"] and not problems
    _, missing = map_headers(["الاسم الأول", "اسم الأب"])
    assert missing == [
        "The file needs a family-name column: person.family_name, or a header such as"
        " family name (its cells may be left empty where the family name is not known)."
    ]


def test_the_case_forms_own_status_labels_head_columns() -> None:
    """A documenter heads a sheet with the form's labels: الوضع and تاريخ الوضع were refused as
    "not a casebook column" (an outside check)."""
    from casebook.imports.columns import map_headers

    mapped, problems = map_headers(["الاسم الأول", "الكنية", "الوضع", "تاريخ الوضع"])
    assert mapped[2:] == ["status", "status_date"] and not problems
