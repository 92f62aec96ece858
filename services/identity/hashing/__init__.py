"""Password hashing for the identity service, as Kratos does it (`hash/`): argon2id or bcrypt for
new passwords, every Kratos import format accepted at login, and hashes of another kind or with
other parameters replaced by the configured kind at the next successful login.

One module per hash family (`*_hashes.py`), listed once, in Kratos's order, in `comparator.FAMILIES`.
"""

from .calibrate import calibrate_argon2
from .comparator import validate_imported_hash, verify_any
from .config import Argon2Config, BcryptConfig, HasherConfig, hasher_config_from
from .errors import UNKNOWN_FORMAT_MESSAGE, InvalidImportedHash, PasswordTooLong
from .hasher import Hasher

__all__ = [
    "UNKNOWN_FORMAT_MESSAGE",
    "Argon2Config",
    "BcryptConfig",
    "Hasher",
    "HasherConfig",
    "InvalidImportedHash",
    "PasswordTooLong",
    "calibrate_argon2",
    "hasher_config_from",
    "validate_imported_hash",
    "verify_any",
]
