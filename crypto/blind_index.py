"""Blind indexes: truncated HMAC-SHA256 of a normalised value (CipherSweet's design).

An index is deliberately lossy: with R records and L bits each index value is shared by about
C = R / 2^L records. CipherSweet's rule keeps 2 <= C < sqrt(R): every lookup returns several
candidates (so the index alone does not single anyone out), and the candidates are decrypted and
filtered exactly so that false positives never reach a user.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from crypto.errors import CryptoError

_SEPARATOR = "\x1f"  # unit separator: cannot appear in a normalised name part


def blind_index_bits(expected_records: int) -> int:
    """The largest L with R / 2^L >= 2, which also satisfies R / 2^L < sqrt(R) for R >= 16."""
    if expected_records < 16:
        raise CryptoError("blind indexes need an expected record count of at least 16")
    bits = math.floor(math.log2(expected_records / 2))
    coincidences = expected_records / 2**bits
    if not 2 <= coincidences < math.sqrt(expected_records):
        raise CryptoError("no index width satisfies 2 <= C < sqrt(R)")
    return bits


class BlindIndex:
    """One named index: a key of its own (derived per index) and a width in bits."""

    __slots__ = ("_key", "bits", "name")

    def __init__(self, name: str, key: bytes | bytearray, bits: int) -> None:
        if not 1 <= bits <= 256:
            raise CryptoError("index width must be 1..256 bits")
        if len(key) < 32:
            raise CryptoError("index key must be at least 32 bytes")
        self.name = name
        self._key = key  # a bytearray is shared with its owner, who wipes it
        self.bits = bits

    def value(self, *parts: str) -> int:
        """The index value of one normalised value, or of a compound of several."""
        message = _SEPARATOR.join(parts).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return int.from_bytes(digest, "big") >> (256 - self.bits)
