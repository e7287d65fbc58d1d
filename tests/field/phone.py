# ruff: noqa: S303, S324 - md5 and SHA-1 are what the ODK specification prescribes
"""A phone, as ODK Collect behaves: encrypts a finalised submission exactly as the ODK XForms
encryption specification says, with `cryptography` only, and posts it as Collect does."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sympad
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # CFB moved to the "decrepit" module (cryptography 47+); ODK's encryption still uses it
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB  # type: ignore[no-redef]
from flask.testing import FlaskClient

# Java's RSA/NONE/OAEPWithSHA256AndMGF1Padding: OAEP with SHA-256, MGF1 with SHA-1
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA256(), label=None)


def public_key_from_form(xform: str) -> rsa.RSAPublicKey:
    match = re.search(r'base64RsaPublicKey="([A-Za-z0-9+/=]+)"', xform)
    assert match, "the form carries no public key"
    key = serialization.load_der_public_key(base64.b64decode(match.group(1)))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def instance_xml(version: str, instance_id: str, **answers: str) -> bytes:
    fields = {
        "consent_documentation": "yes",
        "consent_statistics": "yes",
        "consent_date": "2024-05-01",
        "first_name": "أحمد",
        "father_name": "محمود",
        "family_name": "الحلبي",
        "sex": "male",
        "birth_date": "1985",
        "arrest_date": "2013-05",
        "arrest_governorate": "aleppo",
        "arrest_perpetrator": "regime.air_force_intelligence",
        "status": "forcibly_disappeared",
        "status_date": "2013-05",
        "source_name": "أم أحمد",
        "source_confidential": "yes",
        "testimony": "اعتقل من الحاجز",
        "photo_file": "",
        **answers,
    }

    def el(name: str) -> str:
        value = fields.get(name, "")
        value = value.replace("&", "&amp;").replace("<", "&lt;")
        return f"<{name}>{value}</{name}>" if value else f"<{name}/>"

    consent = "".join(
        el(f"consent_{s}")
        for s in (
            "documentation",
            "legal",
            "un_mechanisms",
            "icrc",
            "statistics",
            "public",
            "partner_matching",
        )
    ) + el("consent_date")
    person = "".join(
        el(n)
        for n in (
            "first_name",
            "father_name",
            "grandfather_name",
            "family_name",
            "mother_name",
            "latin_name",
            "sex",
            "birth_date",
            "birth_place",
            "nationality",
            "national_id",
            "occupation",
            "civil_status",
            "address",
            "description",
        )
    )
    arrest = "".join(
        el(n)
        for n in (
            "arrest_date",
            "arrest_governorate",
            "arrest_place",
            "arrest_perpetrator",
            "arrest_unit",
            "arrest_circumstances",
        )
    )
    xml = (
        f'<?xml version="1.0" ?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="casebook_case" version="{version}">'
        f"<consent>{consent}</consent><person>{person}</person><arrest>{arrest}</arrest>"
        f"<current_status>{el('status')}{el('status_date')}{el('status_source')}</current_status>"
        f"<source>{el('source_name')}{el('source_relationship')}{el('source_contact')}"
        f"{el('source_confidential')}</source>"
        f"<testimony_group>{el('testimony')}<testimony_language>ar</testimony_language>"
        f"</testimony_group><photo>{el('photo_file')}</photo>{el('audio_file')}"
        f"<meta><orx:instanceID>{instance_id}</orx:instanceID></meta></data>"
    )
    # Collect's instance uses the default namespace-less elements; orx: only for the meta id
    return (
        xml.replace("<meta><orx:instanceID>", "<orx:meta><orx:instanceID>")
        .replace("</orx:instanceID></meta>", "</orx:instanceID></orx:meta>")
        .encode()
    )


def _cfb_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = sympad.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
    return enc.update(padded) + enc.finalize()


@dataclass
class Encrypted:
    manifest: bytes
    files: dict[str, bytes] = field(default_factory=dict)  # name with .enc -> ciphertext
    instance_id: str = ""


def encrypt_submission(
    public: rsa.RSAPublicKey,
    version: str,
    submission: bytes,
    media: list[tuple[str, bytes]],
    instance_id: str,
    form_id: str = "casebook_case",
) -> Encrypted:
    key = os.urandom(32)
    wrapped = base64.b64encode(public.encrypt(key, OAEP)).decode()
    seed = bytearray(hashlib.md5(instance_id.encode() + key).digest())
    files: dict[str, bytes] = {}
    lines = [form_id, version, wrapped, instance_id]
    for counter, (name, content) in enumerate([*media, ("submission.xml", submission)]):
        seed[counter % 16] = (seed[counter % 16] + 1) % 256
        files[name + ".enc"] = _cfb_encrypt(key, bytes(seed), content)
        lines.append(f"{name}::{hashlib.md5(content).hexdigest()}")
    signed = hashlib.md5("".join(line + "\n" for line in lines).encode()).digest()
    signature = base64.b64encode(public.encrypt(signed, OAEP)).decode()
    media_xml = "".join(f"<file>{name}.enc</file>" for name, _ in media)
    manifest = (
        "<?xml version='1.0' encoding='UTF-8' ?>"
        f'<data xmlns="http://www.opendatakit.org/xforms/encrypted" id="{form_id}" '
        f'version="{version}" encrypted="yes">'
        f"<base64EncryptedKey>{wrapped}</base64EncryptedKey>"
        '<orx:meta xmlns:orx="http://openrosa.org/xforms">'
        f"<orx:instanceID>{instance_id}</orx:instanceID></orx:meta>\n"
        f"<media>{media_xml}</media>"
        "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
        f"<base64EncryptedElementSignature>{signature}</base64EncryptedElementSignature>"
        "</data>"
    ).encode()
    return Encrypted(manifest, files, instance_id)


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def post(
    client: FlaskClient, token: str, sub: Encrypted, fields: dict[str, str] | None = None
) -> object:
    """A multipart POST as ODK Collect sends it: the manifest as xml_submission_file, then
    every encrypted file as a part named after the file."""
    data: dict[str, object] = {
        "xml_submission_file": (io.BytesIO(sub.manifest), "submission.xml", "text/xml")
    }
    data.update(fields or {})
    for name, content in sub.files.items():
        data[name] = (io.BytesIO(content), name, "application/octet-stream")
    return client.post(
        f"/field/{token}/submission",
        data=data,
        content_type="multipart/form-data",
        headers={"X-OpenRosa-Version": "1.0"},
    )


JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + os.urandom(3000) + b"\xff\xd9"
