"""Which `otpauth://` URLs Warden checks TOTP codes against: the one rule for the identity service,
which refuses any other at import, and for self-service, which refuses codes against any other
stored earlier.

pyotp (as NIST SP 800-63B-4) takes only a `totp` URL with a secret of at least 112 bits, 6 to 8
digits, a step of at most 120 seconds and SHA1, SHA256 or SHA512: an 80-bit secret from an older
app, or a 4-digit code, is too easily guessed. Kratos takes any string at import and checks codes
with its defaults; Warden honours the URL's digits, step and algorithm, so it must refuse the ones
it cannot honour safely, and says so at import rather than failing at the user's next login.
"""

from __future__ import annotations

import pyotp

REQUIREMENTS = (
    "must be an otpauth://totp URL with a secret of at least 112 bits, 6 to 8 digits, "
    "a period of at most 120 seconds and the algorithm SHA1, SHA256 or SHA512"
)


class UnusableTotpUrl(ValueError):
    """Says what a usable URL is, never what the given one held (it holds the secret)."""

    def __init__(self) -> None:
        super().__init__(REQUIREMENTS)


def parse_totp(url: str) -> pyotp.TOTP:
    """The TOTP `url` describes; UnusableTotpUrl for anything else."""
    try:
        totp = pyotp.parse_uri(url)
        # Not a subclass: pyotp's Steam codes (`encoder=steam`) are letters, never the digits asked for.
        if type(totp) is pyotp.TOTP:
            totp.byte_secret()  # the secret's length, for a pyotp that checks it only here
            return totp
    except (ValueError, TypeError):  # pyotp passes parameters to constructors that may not take them
        pass
    raise UnusableTotpUrl()
