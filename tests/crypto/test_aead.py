"""Field encryption: round trips, unique nonces, binding to place, tamper refusal."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import DecryptionError, FieldCipher, associated_data
from crypto.aead import NONCE_BYTES, OVERHEAD


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(os.urandom(32), 1)


AAD = associated_data("cases", "record", "0b7c7c0e-0000-4000-8000-000000000001", 1)


@given(value=st.text())
@settings(max_examples=200, deadline=None)
def test_any_unicode_round_trips(value: str) -> None:
    c = FieldCipher(b"k" * 32, 1)
    blob = c.encrypt(value.encode(), AAD)
    assert c.decrypt(blob, AAD).decode() == value


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024])
def test_empty_and_one_megabyte_round_trip(cipher: FieldCipher, size: int) -> None:
    data = os.urandom(size)
    assert cipher.decrypt(cipher.encrypt(data, AAD), AAD) == data


def test_a_thousand_encryptions_give_a_thousand_nonces_and_ciphertexts(cipher: FieldCipher) -> None:
    blobs = [cipher.encrypt(b"same value", AAD) for _ in range(1000)]
    nonces = {b[5 : 5 + NONCE_BYTES] for b in blobs}
    assert len(set(blobs)) == 1000
    assert len(nonces) == 1000


def test_plaintext_is_not_in_the_ciphertext(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("ZQX-CANARY-7731 قناريزكس".encode(), AAD)
    assert b"ZQX-CANARY-7731" not in blob
    assert "قناريزكس".encode() not in blob


@pytest.mark.parametrize(
    "other",
    [
        associated_data("cases", "record", "0b7c7c0e-0000-4000-8000-000000000002", 1),  # other row
        associated_data(
            "cases", "source", "0b7c7c0e-0000-4000-8000-000000000001", 1
        ),  # other column
        associated_data("testimonies", "record", "0b7c7c0e-0000-4000-8000-000000000001", 1),
    ],
)
def test_ciphertext_moved_elsewhere_fails(cipher: FieldCipher, other: bytes) -> None:
    blob = cipher.encrypt(b"value", AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob, other)


def test_wrong_key_fails(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(b"value", AAD)
    with pytest.raises(DecryptionError, match="did not authenticate"):
        FieldCipher(os.urandom(32), 1).decrypt(blob, AAD)


def test_other_key_version_is_refused(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(b"value", AAD)
    with pytest.raises(DecryptionError, match="another key version"):
        FieldCipher(os.urandom(32), 2).decrypt(blob, AAD)


@given(position=st.integers(min_value=0, max_value=OVERHEAD + 9))
@settings(max_examples=60, deadline=None)
def test_any_flipped_byte_fails(position: int) -> None:
    c = FieldCipher(b"k" * 32, 1)
    blob = bytearray(c.encrypt(b"ten bytes!", AAD))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        c.decrypt(bytes(blob), AAD)


@pytest.mark.parametrize("keep", [0, 5, OVERHEAD - 1, OVERHEAD + 3])
def test_truncated_ciphertext_fails(cipher: FieldCipher, keep: int) -> None:
    blob = cipher.encrypt(b"some value", AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob[:keep], AAD)


def test_associated_data_refuses_separator_in_parts() -> None:
    from crypto import CryptoError

    with pytest.raises(CryptoError):
        associated_data("cases|x", "record", "id", 1)
