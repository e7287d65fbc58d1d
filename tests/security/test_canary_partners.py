"""Canaries through a partner-matching export: unique names, a birth date and places planted in
cases must appear in no form in the exported file or in any temporary file."""

from __future__ import annotations

import base64
import unicodedata
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from casebook.cli import cli
from casebook.names import family_skeleton, normalise, normalise_family, skeleton
from tests.conftest import CANARY_ARABIC, CANARY_LATIN, bearer, make_user, minimal_case

FIRST = CANARY_ARABIC  # قناريزكس
FAMILY = "الزكسقناري"
MOTHER = "زكسورة"
LATIN = f"{CANARY_LATIN} Zaxquorib"
BIRTH = "1931-07-19"
ARREST = "2012-11-23"
PLACE = "حي الزكسقناري الشرقي"
PLACE_LATIN = "Zaxquorib-Hayy-7731"


def _texts() -> set[str]:
    """Every text a reader could look for: as entered, normalised, skeletons, date parts."""
    out: set[str] = set()
    for value in (FIRST, FAMILY, MOTHER, LATIN, PLACE, PLACE_LATIN, CANARY_LATIN, "Zaxquorib"):
        out |= {value, normalise(value), normalise_family(value), value.replace(" ", "")}
        out |= {normalise(value).replace(" ", ""), normalise_family(value).replace(" ", "")}
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            out.add(unicodedata.normalize(form, value))
    for value in (FIRST, MOTHER, "Zaxquorib"):
        out.add(skeleton(value))  # consonant skeletons, short but still specific here
    out.add(family_skeleton(FAMILY).replace(" ", ""))
    out |= {BIRTH, BIRTH.replace("-", ""), "19/07/1931", "1931-07"}
    out |= {ARREST, ARREST.replace("-", ""), "23/11/2012", "2012-11"}
    return {t for t in out if len(t) >= 5}


def _needles() -> set[bytes]:
    needles: set[bytes] = set()
    for text in _texts():
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le"):
            raw = text.encode(encoding)
            needles.add(raw)
            needles.add(raw.hex().encode())
            for shift in range(3):  # base64 of the text at each of the three alignments
                encoded = base64.b64encode(b"\0" * shift + raw)
                needles.add(encoded[4 if shift else 0 : -4])
                needles.add(base64.urlsafe_b64encode(b"\0" * shift + raw)[4 if shift else 0 : -4])
    return {n for n in needles if len(n) >= 6}


def _scan(paths: list[Path]) -> list[str]:
    needles = _needles()
    hits = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            decoded = data
            for chunk in data.split(b'"'):  # every base64 value decoded too
                try:
                    decoded += base64.b64decode(chunk, validate=True)
                except ValueError:
                    continue
            hits += [f"{path}: {n[:20]!r}" for n in needles if n in data or n in decoded]
    return hits


def test_partner_export_holds_no_name_date_or_place(
    app: Flask, client: FlaskClient, tmp_path: Path, private_tempdir: Path
) -> None:
    h = bearer(app, make_user(app, "documenter"))
    case = minimal_case(
        first_name=FIRST, family_name=FAMILY, mother_name=MOTHER, latin_name=LATIN, birth_date=BIRTH
    )
    case["person"]["birth_place"] = PLACE_LATIN  # type: ignore[index]
    case["arrests"][0]["place"] = PLACE  # type: ignore[index]
    case["arrests"][0]["date"] = ARREST  # type: ignore[index]
    case["consent"]["partner_matching"] = {"granted": True, "date": "2024-05-01"}  # type: ignore[index]
    assert client.post("/api/v1/cases", json=case, headers=h).status_code == 201
    secret = tmp_path / "secret"
    secret.write_bytes(b"0123456789abcdef" * 2 + b"-the-secret-agreed-with-partners")
    secret.chmod(0o600)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    export = out_dir / "ours.json"
    result = app.test_cli_runner().invoke(
        cli, ["partners", "export", "-o", str(export), "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert "1 case exported" in result.output
    assert b'"count":1' in export.read_bytes()  # the case is really in the file…
    assert _needles()  # …and the scan has something to look for
    assert _scan([out_dir, private_tempdir]) == []  # …in no form
    assert CANARY_LATIN not in result.output and CANARY_ARABIC not in result.output
