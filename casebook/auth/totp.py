"""TOTP (RFC 6238, pyotp) with reuse refusal and one step of clock skew each way."""

from __future__ import annotations

import hmac
import time

import pyotp
import segno

ISSUER = "casebook"
STEP = 30


def new_secret() -> str:
    """160 bits from the OS CSPRNG (RFC 4226's recommended length), base32."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG made on the server: no third-party call, no inline style."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return svg


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def match_step(
    secret: str, code: str, last_step: int | None, now: float | None = None
) -> int | None:
    """The time step the code belongs to, if valid and newer than the last one used."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = current_step(now)
    for candidate in (step - 1, step, step + 1):
        if last_step is not None and candidate <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def code_at(secret: str, step: int) -> str:
    """The code of a given step (development `casebook user otp`, tests)."""
    code: str = pyotp.TOTP(secret).generate_otp(step)
    return code
