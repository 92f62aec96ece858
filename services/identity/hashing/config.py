"""The `hashers` configuration, read as Kratos reads it (`driver/config/config.go`, config schema).

Sizes are strings such as "128MB" (the schema's `^[0-9]+(B|KB|MB|...)` pattern; Kratos's bytesize
units are binary, so "1KB" is 1024 bytes), durations strings such as "500ms". Defaults are Kratos's,
except where OWASP's minimums for argon2id (m >= 19 MiB, t >= 2) are higher: `iterations` defaults
to 2, not 1, and outside dev mode smaller values are raised to those minimums, as Kratos raises a
bcrypt cost below 12. Values past the verification bounds are refused: Warden could not check its
own hashes.

The algorithm defaults to argon2 (DESIGN §8, and Kratos's own fallback), not the schema's bcrypt;
parallelism to 1, not Kratos's 2 x NumCPU (see `_argon2`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from shared.config.settings import DEFAULT_HASHER
from shared.errors import ConfigError
from shared.units import parse_byte_size, parse_duration

from . import bounds

log = logging.getLogger(__name__)

MIB = 1 << 20
OWASP_MIN_MEMORY = 19 * MIB
OWASP_MIN_ITERATIONS = 2
BCRYPT_MIN_COST = 12  # below it only in dev mode, as in Kratos
BCRYPT_DEV_MIN_COST = 4

_ARGON2_KEYS = {
    "memory", "iterations", "parallelism", "salt_length", "key_length",
    "expected_duration", "expected_deviation", "dedicated_memory",
}  # fmt: skip


@dataclass(frozen=True)
class Argon2Config:
    memory: int  # bytes
    iterations: int
    parallelism: int
    salt_length: int
    key_length: int
    expected_duration: timedelta
    expected_deviation: timedelta
    dedicated_memory: int  # bytes

    @property
    def memory_kib(self) -> int:
        return self.memory // 1024


@dataclass(frozen=True)
class BcryptConfig:
    cost: int


@dataclass(frozen=True)
class HasherConfig:
    algorithm: Literal["argon2", "bcrypt"]
    argon2: Argon2Config
    bcrypt: BcryptConfig


def hasher_config_from(raw: dict[str, Any] | None, *, dev: bool = False) -> HasherConfig:
    """Build the config from the `hashers` subtree (absent keys take the defaults); raise ConfigError."""
    raw = _section(raw, "hashers", {"algorithm", "argon2", "bcrypt"})
    algorithm = raw.get("algorithm", DEFAULT_HASHER)
    if algorithm not in ("argon2", "bcrypt"):
        raise ConfigError(f'hashers.algorithm must be "argon2" or "bcrypt", not {algorithm!r}')
    return HasherConfig(algorithm, _argon2(raw.get("argon2"), dev), _bcrypt(raw.get("bcrypt"), dev))


def _argon2(raw: dict[str, Any] | None, dev: bool) -> Argon2Config:
    raw = _section(raw, "hashers.argon2", _ARGON2_KEYS)
    key = "hashers.argon2."
    # Kratos defaults to 2 x NumCPU. That differs between machines, and a hash whose parameters
    # differ from the config is re-hashed at login: nodes of different sizes would keep rewriting
    # each other's hashes. libargon2 here gains no speed from lanes anyway; OWASP recommends p=1.
    parallelism = _integer(raw, key + "parallelism", 1, 1)
    memory = _size(raw, key + "memory", "128MB")
    iterations = _integer(raw, key + "iterations", OWASP_MIN_ITERATIONS, 1)
    if not dev:
        memory = _raised(key + "memory", memory, OWASP_MIN_MEMORY)
        iterations = _raised(key + "iterations", iterations, OWASP_MIN_ITERATIONS)
    config = Argon2Config(
        memory=memory,
        iterations=iterations,
        parallelism=parallelism,
        salt_length=_integer(raw, key + "salt_length", 16, 16, bounds.MAX_SALT),
        key_length=_integer(raw, key + "key_length", 32, 16, bounds.MAX_DERIVED_KEY),
        expected_duration=_duration(raw, key + "expected_duration", "500ms"),
        expected_deviation=_duration(raw, key + "expected_deviation", "500ms"),
        dedicated_memory=_size(raw, key + "dedicated_memory", "1GB"),
    )
    _within_verification_bounds(config)
    return config


def _within_verification_bounds(c: Argon2Config) -> None:
    if not 8 * c.parallelism * 1024 <= c.memory <= bounds.ARGON2_MAX_MEMORY_KIB * 1024:
        raise ConfigError(f"hashers.argon2.memory must be between {8 * c.parallelism}KB (8KB per lane) and 1GB")
    if c.iterations > bounds.ARGON2_MAX_ITERATIONS:
        raise ConfigError(f"hashers.argon2.iterations must be at most {bounds.ARGON2_MAX_ITERATIONS}")
    if c.parallelism > bounds.ARGON2_MAX_PARALLELISM:
        raise ConfigError(f"hashers.argon2.parallelism must be at most {bounds.ARGON2_MAX_PARALLELISM}")


def _bcrypt(raw: dict[str, Any] | None, dev: bool) -> BcryptConfig:
    raw = _section(raw, "hashers.bcrypt", {"cost"})
    cost = _integer(raw, "hashers.bcrypt.cost", BCRYPT_MIN_COST, BCRYPT_DEV_MIN_COST, bounds.BCRYPT_MAX_COST)
    return BcryptConfig(cost if dev else _raised("hashers.bcrypt.cost", cost, BCRYPT_MIN_COST))


def _section(raw: Any, key: str, allowed: set[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{key} must be an object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{key} has unknown keys: {', '.join(unknown)}")
    return raw


def _integer(raw: dict[str, Any], key: str, default: int, low: int, high: int | None = None) -> int:
    value = raw.get(key.rsplit(".", 1)[1], default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{key} must be an integer")
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{key} must be between {low} and {high}" if high else f"{key} must be at least {low}")
    return value


def _size(raw: dict[str, Any], key: str, default: str) -> int:
    try:
        return parse_byte_size(raw.get(key.rsplit(".", 1)[1], default))
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _duration(raw: dict[str, Any], key: str, default: str) -> timedelta:
    try:
        return parse_duration(raw.get(key.rsplit(".", 1)[1], default))
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _raised(key: str, value: int, floor: int) -> int:
    if value >= floor:
        return value
    log.warning("%s=%d is below the minimum of %d outside dev mode; using %d", key, value, floor, floor)
    return floor
