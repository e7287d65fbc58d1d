"""Looking records up by an id from outside: the domain's "not found", without HTTP.

Selectors raise `NotFoundError` when a record does not exist or is not the user's to see (the
same error either way, so an answer never tells which); the web layer answers it with a 404
page or a JSON 404, audited like any refusal. Selectors never call `flask.abort`.
"""

from __future__ import annotations

import uuid


class NotFoundError(LookupError):
    """Nothing by this id that the user may see."""

    def __init__(self, what: str = "record") -> None:
        super().__init__(f"{what} not found")
        self.what = what


def parse_id(text: str, what: str = "record") -> uuid.UUID:
    """An id from a URL or a request; anything that is not a UUID is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFoundError(what) from None
