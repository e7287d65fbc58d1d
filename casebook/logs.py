"""Structured logs: one JSON object per line, never personal data, never a traceback text.

Exception messages can carry stored values (a database error repeats its parameters), so an
error is logged by its type and the code locations of its frames only.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

_FIELDS = ("request_id", "method", "endpoint", "status", "duration_ms", "event", "user")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                doc[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            doc["error"] = exc_type.__name__
            frames = traceback.extract_tb(tb)
            ours = [f for f in frames if "/casebook/" in f.filename or "/crypto/" in f.filename]
            doc["where"] = [
                f"{'/'.join(frame.filename.rsplit('/', 2)[-2:])}:{frame.lineno}:{frame.name}"
                for frame in (ours[-6:] + frames[-1:])
            ]
        # json.dumps escapes newlines and control characters: one event, one line.
        return json.dumps(doc, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (gunicorn and test runners replace it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)
    # werkzeug's request lines carry full URLs; casebook logs its own request line instead.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
