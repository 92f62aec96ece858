"""TOTP (RFC 6238, pyotp): new secrets, their `otpauth://` URL and QR code, and which time step a
submitted code belongs to. A code is checked against the current step and one step either side
(clock drift of at most one step); the caller then makes sure that step is spent only once."""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyotp
import segno

from shared.totp import UnusableTotpUrl, parse_totp

DRIFT_STEPS = 1
QR_SIZE = 256  # Kratos's totp_qr node is 256×256


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


def provisioning_url(secret: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def secret_of(url: str) -> str:
    return pyotp.parse_uri(url).secret


def qr_data_uri(url: str) -> str:
    """A PNG data URI of the URL's QR code, scaled to about QR_SIZE pixels."""
    code = segno.make(url, error="m")
    width = code.symbol_size(scale=1)[0]
    return code.png_data_uri(scale=max(1, QR_SIZE // width))


def matching_step(url: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code `code` is, within the allowed drift, or None. Every candidate is
    compared (in constant time) so the answer's timing says nothing about which one matched. A URL
    `shared.totp` refuses (stored before imports were checked) matches no code."""
    code = code.strip()
    if not (code.isascii() and code.isdigit()):
        return None
    try:
        totp = parse_totp(url)
    except UnusableTotpUrl:
        return None
    if len(code) != totp.digits:
        return None
    moment = time.time() if at is None else at
    step = totp.timecode(datetime.fromtimestamp(moment, UTC))
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        candidate = totp.generate_otp(step + offset)
        if hmac.compare_digest(candidate, code) and found is None:
            found = step + offset
    return found


def issuer_default(public_base_url: str) -> str:
    """Kratos's default issuer: the public URL's host."""
    return urlsplit(public_base_url).hostname or "Warden"
