"""Translations are complete and compiled; an installed (non-editable) casebook finds its
templates and migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "casebook/translations/ar/LC_MESSAGES/messages.po"


def test_every_message_has_an_arabic_translation() -> None:
    catalog = read_po(PO.open("rb"), locale="ar")
    missing = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert missing == [] and fuzzy == []


def _frozen(value: object) -> object:
    """Plural messages carry their forms as lists or tuples: compare them as tuples."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalogue_matches_the_po() -> None:
    po = {_frozen(m.id): _frozen(m.string) for m in read_po(PO.open("rb"), locale="ar") if m.id}
    mo = {
        _frozen(m.id): _frozen(m.string) for m in read_mo(PO.with_suffix(".mo").open("rb")) if m.id
    }
    assert po == mo


def test_templates_use_only_catalogued_messages() -> None:
    import re

    catalog = {m.id for m in read_po(PO.open("rb"), locale="ar") if m.id}
    used = set()
    for path in (ROOT / "templates").rglob("*.html"):
        found = re.findall(r"_\('((?:[^'\\]|\\.)+)'", path.read_text())
        used |= {text.replace("\\'", "'") for text in found}
    assert used - catalog == set()


@pytest.mark.slow
def test_wheel_install_finds_templates_and_migrations(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(wheel_dir.glob("casebook-*.whl"))
    target = tmp_path / "installed"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    check = (
        "import casebook; from casebook.resources import resource_dir;"
        "t = resource_dir('templates'); m = resource_dir('migrations');"
        f"assert str(t).startswith({str(target)!r}), t;"
        "assert (t / 'base' / 'layout.html').exists() and (m / 'env.py').exists();"
        "assert (m / 'versions').is_dir();"
        "print('ok')"
    )
    import os

    result = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert result.stdout.strip() == "ok", result.stderr
