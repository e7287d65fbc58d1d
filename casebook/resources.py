"""Where the top-level `templates/` and `migrations/` folders are, installed or not.

In the repository they sit beside the package (design.md §2 fixes those names); in a wheel they
are carried inside the package (see pyproject's force-include).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"casebook cannot find its {name}/ folder")
