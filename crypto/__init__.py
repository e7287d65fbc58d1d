"""casebook's cryptography: a pure library on top of `cryptography`.

Nothing here imports Flask, SQLAlchemy or casebook; keys come in through constructors so that
the library can be tested, reviewed and audited on its own. Hand-written because no maintained
package offers per-record envelope encryption with associated data bound to the storage
location, CipherSweet-style blind indexes and a rotating KEK keyring for Python; the primitives
themselves all come from `cryptography`.
"""

from crypto.aead import FieldCipher, associated_data
from crypto.blind_index import BlindIndex, blind_index_bits
from crypto.envelope import DataKey, Envelope
from crypto.errors import CryptoError, DecryptionError, KeySourceError
from crypto.keyring import (
    FileKeySource,
    KekStatus,
    KeyRing,
    KeySource,
    PassphraseKeySource,
)
from crypto.signing import CheckpointSigner
from crypto.stream import IncrementalStreamEncryptor, StreamDecryptor, StreamEncryptor

__all__ = [
    "BlindIndex",
    "CheckpointSigner",
    "CryptoError",
    "DataKey",
    "DecryptionError",
    "Envelope",
    "FieldCipher",
    "FileKeySource",
    "IncrementalStreamEncryptor",
    "KekStatus",
    "KeyRing",
    "KeySource",
    "KeySourceError",
    "PassphraseKeySource",
    "StreamDecryptor",
    "StreamEncryptor",
    "associated_data",
    "blind_index_bits",
]
