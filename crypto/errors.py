"""Exceptions of the crypto library; messages never contain key bytes or plaintext."""


class CryptoError(Exception):
    """Base class for every failure of the crypto library."""


class DecryptionError(CryptoError):
    """A ciphertext did not authenticate: wrong key, wrong place, truncated or altered."""


class KeySourceError(CryptoError):
    """The key-encryption keys could not be loaded (missing, unreadable, wrong passphrase)."""
