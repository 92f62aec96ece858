"""What the hashing package raises.

`InvalidImportedHash` keeps Kratos's exact message as its text (the admin import API shows it), and
says what exactly was wrong in `reason`, for logs. `PasswordTooLong` is Kratos's
`ErrBcryptPasswordLengthReached`; the password flows show it as message 4000033.
"""

from __future__ import annotations

from shared.errors import BadRequest

UNKNOWN_FORMAT_MESSAGE = "The imported password does not match any known hash format."

BCRYPT_MAX_PASSWORD_BYTES = 72


class InvalidImportedHash(ValueError):
    """An encoded hash that is of no known format, is malformed, or whose cost is out of bounds."""

    def __init__(self, reason: str) -> None:
        super().__init__(UNKNOWN_FORMAT_MESSAGE)
        self.reason = reason


class PasswordTooLong(BadRequest):
    """bcrypt reads only 72 bytes: hashing a longer password would silently ignore the rest."""

    def __init__(self) -> None:
        super().__init__(f"The password is too long: bcrypt hashes at most {BCRYPT_MAX_PASSWORD_BYTES} bytes.")
