"""ODK's encrypted submissions (the ODK XForms specification, "Encrypted forms"), read side.

A phone that finalises an encrypted form draws a random 256-bit AES key, wraps it with the
form's RSA public key (RSA/NONE/OAEPWithSHA256AndMGF1Padding as Java spells it: OAEP with
SHA-256, MGF1 with SHA-1), and encrypts each media file and then `submission.xml` with
AES/CFB/PKCS5Padding (CFB-128, the plaintext padded to whole blocks). The IVs come from a seed,
md5(instanceID ‖ key); before each file one byte of the seed is incremented, byte `i mod 16`
for the i-th file. The manifest's element signature is the RSA-OAEP-encrypted md5 of the lines
formId, version (if any), base64EncryptedKey, instanceID, `name::md5` of each media file and
`submission.xml::md5`, each ending with a newline (names without `.enc`, md5 of the plaintext
in lower-case hex).

The signature is encrypted with the public key, so it proves nothing about who made the
submission (the device credential does that); it proves that the files are the ones the phone
encrypted, whole and in order, since nobody without the symmetric key can compute it again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # CFB moved to the "decrepit" module (cryptography 47+); ODK's encryption still uses it
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB  # type: ignore[no-redef,unused-ignore]

from crypto.errors import DecryptionError

BLOCK = 16
RSA_BITS = 2048

# Java's OAEPWithSHA256AndMGF1Padding: SHA-256 for OAEP, SHA-1 for MGF1 (the JCE default);
# BouncyCastle's reading (SHA-256 for both) and plain SHA-1 OAEP are accepted too, since some
# clients (Enketo, Tella) build the padding with other libraries.
_OAEP_VARIANTS = (
    padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA256(), label=None),  # noqa: S303  # nosec B303 - the spec's padding
    padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),  # noqa: S303  # nosec B303 - clients' padding
)
ODK_OAEP = _OAEP_VARIANTS[0]


def generate_key_pair() -> tuple[bytes, str]:
    """(private key as PKCS#8 DER, public key as base64 DER SubjectPublicKeyInfo, as XForms'
    `base64RsaPublicKey` wants it)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der, public_key_base64(der)


def public_key_base64(private_der: bytes) -> str:
    private = serialization.load_der_private_key(private_der, password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(public).decode("ascii")


def _rsa_decrypt(private_der: bytes, b64: str) -> bytes:
    private = serialization.load_der_private_key(private_der, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    try:
        blob = base64.b64decode(b64.strip(), validate=True)
    except ValueError:
        raise DecryptionError("not base64") from None
    for variant in _OAEP_VARIANTS:
        try:
            return private.decrypt(blob, variant)
        except ValueError:
            continue
    raise DecryptionError("the key was not wrapped for this server's key")


def unwrap_symmetric_key(private_der: bytes, base64_encrypted_key: str) -> bytes:
    """The submission's AES key; DecryptionError if another public key wrapped it."""
    key = _rsa_decrypt(private_der, base64_encrypted_key)
    if len(key) != 32:
        raise DecryptionError("the wrapped key is not a 256-bit AES key")
    return key


def file_ivs(instance_id: str, key: bytes) -> Iterator[bytes]:
    """The IV of each file in the order the phone encrypted them (media first, then the
    submission): the seed with one more byte incremented (mod 256) for every file."""
    seed = bytearray(hashlib.md5(instance_id.encode() + key, usedforsecurity=False).digest())
    counter = 0
    while True:
        seed[counter % BLOCK] = (seed[counter % BLOCK] + 1) % 256
        counter += 1
        yield bytes(seed)


class CfbFileDecryptor:
    """One file's AES-256-CFB decryption, fed in pieces: the last block is held back until the
    end so the PKCS#5 padding can be checked and removed; the md5 of the plaintext is kept."""

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._dec = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
        self._held = b""
        self._md5 = hashlib.md5(usedforsecurity=False)  # the spec's file digest
        self.size = 0
        self._cipher_bytes = 0

    def update(self, data: bytes) -> bytes:
        self._cipher_bytes += len(data)
        plain = self._held + self._dec.update(data)
        cut = max(0, len(plain) - BLOCK)
        out, self._held = plain[:cut], plain[cut:]
        self._md5.update(out)
        self.size += len(out)
        return out

    def finish(self) -> tuple[bytes, bool]:
        """The plaintext's tail and whether the file was whole (its length and padding right).

        Never raises: a file cut short or with wrong padding is read to the end all the same
        (its md5 taken over all it holds), so that the caller does the
        same work for every file and decides once, after the signature check. Telling a bad
        padding apart from a bad signature would be a padding oracle."""
        plain = self._held + self._dec.finalize()
        self._held = b""
        whole = not (self._cipher_bytes == 0 or self._cipher_bytes % BLOCK or len(plain) != BLOCK)
        pad = plain[-1] if len(plain) == BLOCK else 0
        pad_ok = 1 <= pad <= BLOCK and hmac.compare_digest(plain[-pad:], bytes([pad]) * pad)
        whole = whole and pad_ok
        out = plain[:-pad] if whole else plain
        self._md5.update(out)
        self.size += len(out)
        return out, whole

    def finalize(self) -> bytes:
        """The plaintext's tail; DecryptionError when the file is cut short or its padding is
        wrong (a truncated or altered file)."""
        out, whole = self.finish()
        if not whole:
            raise DecryptionError("the encrypted file is not whole")
        return out

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()


def decrypt_file(key: bytes, iv: bytes, data: bytes) -> tuple[bytes, str]:
    """A whole small file (the submission XML): (plaintext, md5 hex)."""
    dec = CfbFileDecryptor(key, iv)
    plain = dec.update(data) + dec.finalize()
    return plain, dec.md5_hex


def decrypt_file_checked(key: bytes, iv: bytes, data: bytes) -> tuple[bytes, str, bool]:
    """A whole small file: (plaintext, md5 hex, whether it was whole); never raises, so a
    caller can check the signature before deciding (see `CfbFileDecryptor.finish`)."""
    dec = CfbFileDecryptor(key, iv)
    head = dec.update(data)
    tail, whole = dec.finish()
    return head + tail, dec.md5_hex, whole


def signature_lines(
    form_id: str,
    version: str | None,
    base64_encrypted_key: str,
    instance_id: str,
    media: list[tuple[str, str]],
    submission_md5: str,
) -> bytes:
    """The text whose md5 the element signature encrypts; `media` is (name without .enc, md5
    hex) in the manifest's order."""
    lines = [form_id]
    if version:
        lines.append(version)
    lines += [base64_encrypted_key, instance_id]
    lines += [f"{name}::{digest}" for name, digest in media]
    lines.append(f"submission.xml::{submission_md5}")
    return "".join(line + "\n" for line in lines).encode()


def signature_matches(private_der: bytes, base64_signature: str, lines: bytes) -> bool:
    try:
        signed = _rsa_decrypt(private_der, base64_signature)
    except DecryptionError:
        return False
    expected = hashlib.md5(lines, usedforsecurity=False).digest()  # the spec's digest
    return hmac.compare_digest(signed, expected)
