"""Chunked authenticated encryption for attachments (the STREAM construction).

Files are encrypted in 64 KiB chunks as they arrive, so no plaintext ever reaches a temporary
file. Each chunk's nonce is ``prefix (7) | counter (4) | last flag (1)``: chunks cannot be
reordered, dropped or cut off at the end without failing to authenticate. The SHA-256 of the
original is computed on the way in, for the custody record.

Format: ``0x01 | key version (u32) | prefix (7)`` then the encrypted chunks.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import CryptoError, DecryptionError

CHUNK = 64 * 1024
_HEADER = struct.Struct(">BI7s")
_TAG = 16


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class StreamEncryptor:
    """Encrypt a readable stream into a writable one; returns (size, sha256 hex)."""

    def __init__(
        self, key: bytes | bytearray, key_version: int, aad: bytes, chunk: int = CHUNK
    ) -> None:
        if len(key) != 32:
            raise CryptoError("a stream key must be 32 bytes")
        self._aead = AESGCM(key)
        self._version = key_version
        self._aad = aad
        self._chunk = chunk

    def encrypt(self, src: BinaryIO, dst: BinaryIO, limit: int | None = None) -> tuple[int, str]:
        prefix = os.urandom(7)
        dst.write(_HEADER.pack(1, self._version, prefix))
        digest = hashlib.sha256()
        size = 0
        counter = 0
        current = src.read(self._chunk)
        while True:
            following = src.read(self._chunk)
            size += len(current)
            if limit is not None and size > limit:
                raise CryptoError("the stream is larger than the allowed size")
            digest.update(current)
            last = not following
            dst.write(self._aead.encrypt(_nonce(prefix, counter, last), current, self._aad))
            if last:
                return size, digest.hexdigest()
            counter += 1
            if counter >= 2**32:
                raise CryptoError("stream too long")
            current = following


class IncrementalStreamEncryptor:
    """The same format as `StreamEncryptor`, fed by `update()` as bytes arrive (a multipart
    upload being parsed) and closed by `finalize()`; nothing is buffered beyond one chunk."""

    def __init__(
        self,
        key: bytes | bytearray,
        key_version: int,
        aad: bytes,
        dst: BinaryIO,
        chunk: int = CHUNK,
        limit: int | None = None,
    ) -> None:
        if len(key) != 32:
            raise CryptoError("a stream key must be 32 bytes")
        self._aead = AESGCM(key)
        self._aad = aad
        self._chunk = chunk
        self._limit = limit
        self._dst = dst
        self._prefix = os.urandom(7)
        self._counter = 0
        self._pending = bytearray()
        self._digest = hashlib.sha256()
        self.size = 0
        self.head = b""  # the first bytes of the plaintext, for type sniffing
        self.finished = False
        dst.write(_HEADER.pack(1, key_version, self._prefix))

    def update(self, data: bytes) -> None:
        if self.finished:
            raise CryptoError("stream already finalised")
        self.size += len(data)
        if self._limit is not None and self.size > self._limit:
            raise CryptoError("the stream is larger than the allowed size")
        if len(self.head) < 64:
            self.head += bytes(data[: 64 - len(self.head)])
        self._digest.update(data)
        self._pending += data
        while len(self._pending) > self._chunk:  # keep one chunk back: it may be the last
            block = bytes(self._pending[: self._chunk])
            del self._pending[: self._chunk]
            self._dst.write(
                self._aead.encrypt(_nonce(self._prefix, self._counter, False), block, self._aad)
            )
            self._counter += 1

    def finalize(self) -> str:
        """Write the last chunk; returns the SHA-256 (hex) of the plaintext."""
        if not self.finished:
            self._dst.write(
                self._aead.encrypt(
                    _nonce(self._prefix, self._counter, True), bytes(self._pending), self._aad
                )
            )
            self._pending.clear()
            self.finished = True
        return self._digest.hexdigest()


class StreamDecryptor:
    """Decrypt what `StreamEncryptor` wrote, chunk by chunk, refusing any alteration."""

    def __init__(self, key: bytes | bytearray, aad: bytes, chunk: int = CHUNK) -> None:
        self._aead = AESGCM(key)
        self._aad = aad
        self._chunk = chunk

    @staticmethod
    def key_version(header: bytes) -> int:
        version, key_version, _ = _HEADER.unpack(header[: _HEADER.size])
        if version != 1:
            raise DecryptionError("unknown stream format")
        return int(key_version)

    def decrypt(self, src: BinaryIO) -> Iterator[bytes]:
        header = src.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise DecryptionError("stream is truncated")
        version, _, prefix = _HEADER.unpack(header)
        if version != 1:
            raise DecryptionError("unknown stream format")
        counter = 0
        current = src.read(self._chunk + _TAG)
        while True:
            following = src.read(self._chunk + _TAG)
            last = not following
            try:
                yield self._aead.decrypt(_nonce(prefix, counter, last), current, self._aad)
            except InvalidTag:
                raise DecryptionError("attachment did not authenticate") from None
            if last:
                return
            counter += 1
            current = following
