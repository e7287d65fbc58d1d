"""File uploads never reach disk as plaintext.

Werkzeug spills uploads over 500 KB to a plain temporary file. casebook's request class parks
every uploaded part instead in an `EncryptedSpool`: encrypted as it is parsed under a random key
that exists only in memory, in a file of the instance's `tmp/` folder that is deleted at the end
of the request. Whenever the body is parsed (the CSRF check reads the form before any view
runs), nothing readable is written; views then re-encrypt what they keep under the right key.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from flask import Request, current_app, g
from werkzeug.exceptions import RequestEntityTooLarge

from casebook.encrypted import (
    CryptoError,
    IncrementalStreamEncryptor,
    spool_decryptor,
    spool_encryptor,
)


class EncryptedSpool(io.RawIOBase):
    """Write-once, then read: plaintext goes in, ciphertext lands on disk, plaintext comes out."""

    def __init__(self, directory: Path, limit: int | None = None) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"upload-{secrets.token_hex(16)}.spool"
        self._key = os.urandom(32)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._out = os.fdopen(fd, "wb")
        self._enc: IncrementalStreamEncryptor | None = spool_encryptor(self._key, self._out, limit)
        self.size = 0
        self.head = b""
        self._reader: Iterator[bytes] | None = None
        self._buffer = b""

    # -- writing (the multipart parser) ---------------------------------------------------------
    def writable(self) -> bool:
        return self._enc is not None

    def write(self, data: Any) -> int:
        if self._enc is None:
            raise io.UnsupportedOperation("spool already sealed")
        chunk = bytes(data)
        try:
            self._enc.update(chunk)
        except CryptoError:  # the file is over the limit: a 413 for its sender, not a 500
            raise RequestEntityTooLarge() from None
        return len(chunk)

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset != 0 or whence != 0:
            raise io.UnsupportedOperation("a spool only rewinds to the start")
        self._seal()
        self._reader = None
        self._buffer = b""
        return 0

    def _seal(self) -> None:
        if self._enc is not None:
            self._enc.finalize()
            self.size, self.head = self._enc.size, self._enc.head
            self._enc = None
            self._out.close()

    # -- reading (the view) -----------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def chunks(self) -> Iterator[bytes]:
        self._seal()
        with self.path.open("rb") as fh:
            yield from spool_decryptor(self._key).decrypt(fh)

    def read(self, size: int = -1) -> bytes:
        if self._reader is None:
            self._reader = self.chunks()
        while size < 0 or len(self._buffer) < size:
            nxt = next(self._reader, None)
            if nxt is None:
                break
            self._buffer += nxt
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            if not self._out.closed:
                self._out.close()
            self.path.unlink(missing_ok=True)
            self._key = b""
        super().close()


# The files one field submission request may carry (ODK Collect sends the manifest and each
# encrypted file as a part; a form has a handful of photos and recordings).
MAX_PARTS = 100


class TooManyParts(RequestEntityTooLarge):
    """More file parts than the view allows (`g.max_file_parts`)."""


class CasebookRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        most = g.get("max_file_parts")
        if most is not None and len(g.get("upload_spools", [])) >= most:
            raise TooManyParts()
        settings = current_app.config["CASEBOOK"]
        spool = EncryptedSpool(Path(settings.instance) / "tmp", settings.max_attachment_bytes)
        g.setdefault("upload_spools", []).append(spool)
        return spool  # type: ignore[return-value]


def close_spools(_exc: BaseException | None = None) -> None:
    """Delete every spool of the request, whatever happened to it."""
    for spool in g.pop("upload_spools", []):
        spool.close()


def uploaded_bytes(field: str = "file") -> tuple[bytes, str] | None:
    """(content, file name) of the request's upload in `field`, decrypted into memory from its
    spool (imports and outside lists are read whole), or None when there is none."""
    from flask import request

    upload = request.files.get(field)
    if upload is None or not isinstance(upload.stream, EncryptedSpool):
        return None
    return b"".join(upload.stream.chunks()), upload.filename or ""
