"""Blind-index sizing (CipherSweet's rule), streaming attachments, checkpoint signatures."""

from __future__ import annotations

import io
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    BlindIndex,
    CheckpointSigner,
    CryptoError,
    DecryptionError,
    StreamDecryptor,
    StreamEncryptor,
    blind_index_bits,
)


@given(records=st.integers(min_value=16, max_value=10**9))
def test_index_width_keeps_two_to_root_r_coincidences(records: int) -> None:
    bits = blind_index_bits(records)
    coincidences = records / 2**bits
    assert 2 <= coincidences < math.sqrt(records)


@pytest.mark.parametrize(("records", "bits"), [(1_000, 8), (200_000, 16), (1_000_000, 18)])
def test_configured_widths(records: int, bits: int) -> None:
    assert blind_index_bits(records) == bits


def test_too_few_records_is_refused() -> None:
    with pytest.raises(CryptoError):
        blind_index_bits(10)


def test_index_values_fit_their_width_and_depend_on_key() -> None:
    a = BlindIndex("name", b"a" * 32, 16)
    b = BlindIndex("name", b"b" * 32, 16)
    values = [a.value(f"name {i}") for i in range(2000)]
    assert all(0 <= v < 2**16 for v in values)
    assert a.value("احمد") == a.value("احمد")
    assert a.value("احمد") != b.value("احمد") or a.value("محمد") != b.value("محمد")
    # compound parts are not ambiguous: ("ab", "c") and ("a", "bc") differ
    wide = BlindIndex("x", b"a" * 32, 256)
    assert wide.value("ab", "c") != wide.value("a", "bc")


def test_index_collisions_match_the_expected_rate() -> None:
    """With R values and L bits, each index value is shared by about R / 2^L of them."""
    records = 20_000
    bits = blind_index_bits(records)
    idx = BlindIndex("n", os.urandom(32), bits)
    buckets: dict[int, int] = {}
    for i in range(records):
        v = idx.value(f"value-{i}")
        buckets[v] = buckets.get(v, 0) + 1
    mean = records / len(buckets)
    assert 2 <= mean < math.sqrt(records)


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536 + 17])
def test_stream_round_trip_and_sha256(size: int) -> None:
    import hashlib

    key = os.urandom(32)
    data = os.urandom(size)
    out = io.BytesIO()
    n, digest = StreamEncryptor(key, 1, b"aad").encrypt(io.BytesIO(data), out)
    assert n == size
    assert digest == hashlib.sha256(data).hexdigest()
    out.seek(0)
    assert b"".join(StreamDecryptor(key, b"aad").decrypt(out)) == data


def _encrypted(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    StreamEncryptor(key, 1, b"aad").encrypt(io.BytesIO(data), out)
    return out.getvalue()


def test_stream_refuses_truncation_reordering_and_wrong_aad() -> None:
    key = os.urandom(32)
    data = os.urandom(3 * 65536 + 5)
    blob = _encrypted(data, key)
    header = 12
    chunk = 65536 + 16
    cut = blob[: header + 2 * chunk]  # whole chunks dropped from the end
    with pytest.raises(DecryptionError):
        list(StreamDecryptor(key, b"aad").decrypt(io.BytesIO(cut)))
    chunks = [blob[header + i * chunk : header + (i + 1) * chunk] for i in range(4)]
    swapped = blob[:header] + chunks[1] + chunks[0] + chunks[2] + chunks[3]
    with pytest.raises(DecryptionError):
        list(StreamDecryptor(key, b"aad").decrypt(io.BytesIO(swapped)))
    with pytest.raises(DecryptionError):
        list(StreamDecryptor(key, b"other").decrypt(io.BytesIO(blob)))


def test_stream_limit_stops_large_input() -> None:
    with pytest.raises(CryptoError, match="larger"):
        StreamEncryptor(os.urandom(32), 1, b"a").encrypt(
            io.BytesIO(b"x" * 200_000), io.BytesIO(), limit=100_000
        )


def test_stream_plaintext_never_in_output() -> None:
    data = b"ZQX-CANARY-7731" * 10_000
    assert b"ZQX-CANARY-7731" not in _encrypted(data, os.urandom(32))


def test_checkpoint_signatures() -> None:
    signer = CheckpointSigner(os.urandom(32))
    sig = signer.sign(b"message")
    assert CheckpointSigner.verify(signer.public_key, b"message", sig)
    assert not CheckpointSigner.verify(signer.public_key, b"messagE", sig)
    other = CheckpointSigner(os.urandom(32))
    assert not CheckpointSigner.verify(other.public_key, b"message", sig)


def test_crypto_imports_nothing_from_flask_sqlalchemy_or_casebook() -> None:
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "crypto"
    pattern = re.compile(r"^\s*(from|import)\s+(flask|sqlalchemy|casebook)\b", re.M)
    offenders = [p.name for p in root.glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


@given(
    data=st.binary(max_size=5000),
    cuts=st.lists(st.integers(min_value=1, max_value=700), max_size=20),
)
@settings(max_examples=80, deadline=None)
def test_incremental_encryption_reads_back_whatever_the_pieces(
    data: bytes, cuts: list[int]
) -> None:
    import hashlib

    from crypto import IncrementalStreamEncryptor

    key = os.urandom(32)
    out = io.BytesIO()
    enc = IncrementalStreamEncryptor(key, 1, b"aad", out, chunk=512)
    pos = 0
    for cut in cuts:
        enc.update(data[pos : pos + cut])
        pos += cut
    enc.update(data[pos:])
    assert enc.finalize() == hashlib.sha256(data).hexdigest()
    assert enc.size == len(data) and enc.head == data[:64]
    out.seek(0)
    assert b"".join(StreamDecryptor(key, b"aad", chunk=512).decrypt(out)) == data
