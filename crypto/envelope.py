"""Envelope encryption: one data key (DEK) per case, wrapped by a key-encryption key (KEK).

Wrapped format: ``0x01 | KEK id (u32) | nonce (12) | AES-GCM(DEK)``, associated data
``cbdek1|<owner id>|<KEK id>``, so a wrapped key moved to another case does not unwrap.
Rewrapping under a new KEK is cheap (32 bytes) and leaves every field ciphertext untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.aead import FieldCipher, parse_header
from crypto.errors import DecryptionError
from crypto.keyring import KeyRing
from crypto.memory import random_secret, wipe


@dataclass(frozen=True, slots=True)
class DataKey:
    """An unwrapped data key with the KEK id it was wrapped under (wipe `key` when done)."""

    key: bytearray
    kek_id: int

    def __repr__(self) -> str:  # never show key bytes in logs or tracebacks
        return f"DataKey(kek_id={self.kek_id})"


class Envelope:
    """Makes, wraps and unwraps data keys with the KEKs of a keyring."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring
        self._ciphers: dict[int, FieldCipher] = {}

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    def replace_keyring(self, keyring: KeyRing) -> None:
        """Use a reloaded keyring (after `keys rotate` in another process). The KEK ciphers
        are dropped, not wiped: their key bytes belong to the old keyring, wiped by its owner."""
        self._keyring = keyring
        self._ciphers.clear()

    def forget(self) -> None:
        """Drop the KEK ciphers (their OpenSSL contexts clear the key schedules when freed)."""
        self._ciphers.clear()

    def _cipher(self, kek_id: int) -> FieldCipher:
        cipher = self._ciphers.get(kek_id)
        if cipher is None:
            cipher = FieldCipher(self._keyring.kek(kek_id), kek_id)
            self._ciphers[kek_id] = cipher
        return cipher

    @staticmethod
    def _aad(owner_id: str, kek_id: int) -> bytes:
        return f"cbdek1|{owner_id}|{kek_id}".encode()

    def new_data_key(self) -> bytearray:
        return random_secret(32)

    def wrap(self, owner_id: str, dek: bytes | bytearray) -> bytes:
        kek_id = self._keyring.primary_id
        return self._cipher(kek_id).encrypt(dek, self._aad(owner_id, kek_id))

    def unwrap(self, owner_id: str, wrapped: bytes) -> DataKey:
        _, kek_id = parse_header(wrapped)
        if not self._keyring.has(kek_id):
            raise DecryptionError(f"KEK {kek_id} is not in the keyring")
        key = self._cipher(kek_id).decrypt_key(wrapped, self._aad(owner_id, kek_id))
        return DataKey(key=key, kek_id=kek_id)

    @staticmethod
    def kek_id_of(wrapped: bytes) -> int:
        return parse_header(wrapped)[1]

    def rewrap(self, owner_id: str, wrapped: bytes) -> bytes:
        """Unwrap with whichever KEK made it and wrap again under the primary KEK."""
        key = self.unwrap(owner_id, wrapped).key
        try:
            return self.wrap(owner_id, key)
        finally:
            wipe(key)
