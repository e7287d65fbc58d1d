"""Encrypted, signed archives (casebook backups).

Layout: ``MAGIC | header length (u32) | header (JSON) | STREAM ciphertext | Ed25519 signature``.
The signature covers everything before it, so a flipped byte anywhere — header, ciphertext or
the end cut off — is refused before anything is decrypted; the STREAM chunks authenticate again
on the way out, bound to the header by their associated data. The archive key is the caller's
(casebook wraps a fresh one under its KEK and puts the wrapped form in the header).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from typing import Any

from crypto.errors import DecryptionError
from crypto.signing import CheckpointSigner
from crypto.stream import StreamDecryptor, StreamEncryptor

MAGIC = b"casebook-archive-v1\n"
_LEN = struct.Struct(">I")
_SIGNATURE = 64


def _aad(header: bytes) -> bytes:
    return b"cbarchive1|" + hashlib.sha256(header).digest()


def archive_write(
    header: dict[str, Any], key: bytes | bytearray, signer: CheckpointSigner, body: bytes
) -> bytes:
    """The sealed archive of `body` (bytes), with `header` readable but signed."""
    raw_header = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(_LEN.pack(len(raw_header)))
    out.write(raw_header)
    StreamEncryptor(key, 1, _aad(raw_header)).encrypt(io.BytesIO(body), out)
    signed = out.getvalue()
    return signed + signer.sign(signed)


def archive_header(data: bytes) -> dict[str, Any]:
    """The header, unverified: to find which key the archive needs. Verify before trusting."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LEN.size + _SIGNATURE:
        raise DecryptionError("this is not a casebook archive")
    (length,) = _LEN.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    if start + length > len(data) - _SIGNATURE:
        raise DecryptionError("the archive is truncated")
    try:
        header: dict[str, Any] = json.loads(data[start : start + length])
    except ValueError:
        raise DecryptionError("the archive header is damaged") from None
    return header


def archive_verify(data: bytes, public_key: bytes) -> None:
    """Raise unless the archive is whole and was signed by the holder of this keyring."""
    archive_header(data)
    if not CheckpointSigner.verify(public_key, data[:-_SIGNATURE], data[-_SIGNATURE:]):
        raise DecryptionError("the archive is damaged, or was not made with this instance's keys")


def archive_read(data: bytes, public_key: bytes, key: bytes | bytearray) -> bytes:
    """Verify, then decrypt; the body, or DecryptionError."""
    archive_verify(data, public_key)
    (length,) = _LEN.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    raw_header = data[start : start + length]
    ciphertext = io.BytesIO(data[start + length : -_SIGNATURE])
    return b"".join(StreamDecryptor(key, _aad(raw_header)).decrypt(ciphertext))
