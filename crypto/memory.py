"""Key material in buffers that can be overwritten.

Python's `bytes` are immutable and freed without being cleared, so a key held in `bytes` stays
readable in the process's memory after the last reference is dropped, until the allocator
happens to reuse the block. casebook therefore holds keys in `bytearray`s that are made in place
(`random_secret`, `secret_from_b64`, the `*_into` calls of `cryptography`) and overwritten with
zeros by `wipe` when they are no longer wanted (sealing, eviction from the key cache, erasure).

What this cannot reach: copies made inside libraries (OpenSSL's key schedules live as long as a
cipher object and are cleared by OpenSSL when it is freed), immutable strings a key passed
through on its way in (a passphrase typed at a prompt, the keyring's JSON while it is written by
`casebook init` or `keys rotate`), and
memory the operating system wrote to swap or a core dump. SECURITY.md says what the deployment
adds for those.
"""

from __future__ import annotations

import os

from crypto.errors import CryptoError

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64 = {c: i for i, c in enumerate(_ALPHABET)}


def wipe(buf: bytearray | None) -> None:
    """Overwrite a key buffer with zeros, in place (the buffer keeps its address and size)."""
    if buf:
        buf[:] = bytes(len(buf))


def random_secret(length: int = 32) -> bytearray:
    """Fresh random key bytes read straight into a bytearray (no immutable copy is made)."""
    buf = bytearray(length)
    fd = os.open("/dev/urandom", os.O_RDONLY | os.O_CLOEXEC)
    try:
        got = 0
        view = memoryview(buf)
        while got < length:
            n = os.readv(fd, [view[got:]])
            if n <= 0:
                raise CryptoError("the system random source gave no bytes")
            got += n
        view.release()
    finally:
        os.close(fd)
    return buf


def secret_from_b64_buffer(view: bytes | bytearray | memoryview) -> bytearray:
    """`secret_from_b64` for base64 text that is itself in a buffer (a decrypted keyring held
    in a bytearray): no `str` or `bytes` copy of the text is made."""
    data = memoryview(view).cast("B") if not isinstance(view, bytearray) else view
    end = len(data)
    while end and data[end - 1] in b" \t\r\n":
        end -= 1
    if end % 4:
        raise ValueError("base64 text has a length that is not a multiple of 4")
    pad = 0
    while pad < end and data[end - 1 - pad] == 0x3D:  # "="
        pad += 1
    if pad > 2:
        raise ValueError("base64 text has too much padding")
    out = bytearray(end // 4 * 3 - pad)
    acc = bits = pos = 0
    for i in range(end - pad):
        value = _B64.get(data[i])
        if value is None:
            wipe(out)
            raise ValueError("base64 text holds a character outside the alphabet")
        acc = ((acc << 6) | value) & 0xFFFF
        bits += 6
        if bits >= 8:
            bits -= 8
            out[pos] = (acc >> bits) & 0xFF
            pos += 1
    acc = 0
    return out


def secret_from_b64(text: str) -> bytearray:
    """Decode standard base64 into a bytearray of the exact size, without an intermediate
    `bytes` object holding the whole key (the decoding runs one character at a time)."""
    return secret_from_b64_buffer(text.strip().encode("ascii"))
