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
from crypto.memory import wipe

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
    """Encrypts values with one data key; the AESGCM object is built once (it costs ~1 µs).

    The cipher keeps the key in a bytearray of its own (a bytearray given to it is taken over,
    not copied) so that `wipe` can overwrite it; dropping the AESGCM object lets OpenSSL clear
    its key schedule. A wiped cipher refuses to work.
    """

    __slots__ = ("_aead", "_key", "version")

    def __init__(self, key: bytes | bytearray, version: int) -> None:
        if len(key) != 32:
            raise CryptoError("a field key must be 32 bytes (AES-256)")
        self._key = key if isinstance(key, bytearray) else bytearray(key)
        self._aead: AESGCM | None = AESGCM(self._key)
        self.version = version

    def _cipher(self) -> AESGCM:
        aead = self._aead
        if aead is None:
            raise CryptoError("this key has been wiped")
        return aead

    def wipe(self) -> None:
        """Overwrite the key with zeros and drop the OpenSSL context that holds its schedule."""
        self._aead = None
        wipe(self._key)

    def encrypt(self, plaintext: bytes | bytearray, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            _HEADER.pack(FORMAT_VERSION, self.version)
            + nonce
            + self._cipher().encrypt(nonce, plaintext, aad)
        )

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        _, key_version = parse_header(blob)
        if key_version != self.version:
            raise DecryptionError("ciphertext was made with another key version")
        view = memoryview(blob)  # no copies of the ciphertext on the hot path
        try:
            return self._cipher().decrypt(
                view[_HEADER.size : _HEADER.size + NONCE_BYTES], view[_BODY:], aad
            )
        except InvalidTag:
            raise DecryptionError("ciphertext did not authenticate") from None

    def decrypt_key(self, blob: bytes, aad: bytes) -> bytearray:
        """Decrypt a wrapped key straight into a new bytearray (never an immutable copy)."""
        _, key_version = parse_header(blob)
        if key_version != self.version:
            raise DecryptionError("ciphertext was made with another key version")
        view = memoryview(blob)
        out = bytearray(len(blob) - OVERHEAD)
        try:
            self._cipher().decrypt_into(
                view[_HEADER.size : _HEADER.size + NONCE_BYTES], view[_BODY:], aad, out
            )
        except InvalidTag:
            wipe(out)
            raise DecryptionError("ciphertext did not authenticate") from None
        return out


def parse_header(blob: bytes) -> tuple[int, int]:
    """Return (format version, key version) of a ciphertext, refusing what is too short."""
    if len(blob) < OVERHEAD:
        raise DecryptionError("ciphertext is truncated")
    version, key_version = _HEADER.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise DecryptionError("unknown ciphertext format version")
    return version, key_version
