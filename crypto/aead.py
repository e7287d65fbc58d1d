"""AES-256-GCM for single values, bound to where they are stored.

Format (version 1): ``0x01 | key version (u32, big endian) | nonce (12) | ciphertext || tag``.
The associated data names the table, column, row id and key version, so a ciphertext copied to
another row or column fails to authenticate (docs/design.md §4).
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import CryptoError, DecryptionError

FORMAT_VERSION = 1
NONCE_BYTES = 12
_HEADER = struct.Struct(">BI")
OVERHEAD = _HEADER.size + NONCE_BYTES + 16
_BODY = _HEADER.size + NONCE_BYTES


def associated_data(table: str, column: str, row_id: str, key_version: int) -> bytes:
    """The context a field ciphertext is bound to: ``cb1|table|column|row id|key version``."""
    for part in (table, column, row_id):
        if "|" in part:
            raise CryptoError("associated data parts may not contain '|'")
    return f"cb1|{table}|{column}|{row_id}|{key_version}".encode()


class FieldCipher:
    """Encrypts values with one data key; the AESGCM object is built once (it costs ~1 µs)."""

    __slots__ = ("_aead", "version")

    def __init__(self, key: bytes, version: int) -> None:
        if len(key) != 32:
            raise CryptoError("a field key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self.version = version

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            _HEADER.pack(FORMAT_VERSION, self.version)
            + nonce
            + self._aead.encrypt(nonce, plaintext, aad)
        )

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        _, key_version = parse_header(blob)
        if key_version != self.version:
            raise DecryptionError("ciphertext was made with another key version")
        view = memoryview(blob)  # no copies of the ciphertext on the hot path
        try:
            return self._aead.decrypt(
                view[_HEADER.size : _HEADER.size + NONCE_BYTES], view[_BODY:], aad
            )
        except InvalidTag:
            raise DecryptionError("ciphertext did not authenticate") from None


def parse_header(blob: bytes) -> tuple[int, int]:
    """Return (format version, key version) of a ciphertext, refusing what is too short."""
    if len(blob) < OVERHEAD:
        raise DecryptionError("ciphertext is truncated")
    version, key_version = _HEADER.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise DecryptionError("unknown ciphertext format version")
    return version, key_version
