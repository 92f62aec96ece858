"""Slow key derivation, off the event loop: the threads password hashes and backup codes are worked
out on, and argon2id over a secret with parameters written beside what it derived.

Hashing threads run at a lower priority than the event loop: when logins saturate the CPU, whoami
and the other requests still get a core at once (the hash just waits its turn). argon2-cffi
releases the GIL while it works, so the loop keeps serving requests meanwhile."""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from shared.errors import ServiceUnavailable
from shared.http.budget import Budget, budget

# Below the event loop, so that whoami is answered at once while logins saturate the CPU; but only
# a little: niceness also orders the hashing threads against every other busy process in the same
# CPU cgroup, and at 10 one neighbouring busy process left a hash a tenth of a core (0.22 s of argon2
# took 4.8 s, past the internal calls' 5 s timeout). At 3 a hash keeps a third of a core beside
# it (1.1 s), and whoami's p99 under logins measured the same (docs/performance.md, "Session 32").
HASHING_NICENESS = 3

# What a stored parameter set may ask for, checked before it costs memory or time: a set is written
# at OWASP's minimum (below), and one imported through the admin API may ask for a little more, never
# a password hash's worth (one check of a 1 GiB, t=10 set took 11 s on one of self-service's two
# check threads).
MAX_MEMORY_KIB = 64 * 1024
MAX_ITERATIONS = 4
MAX_PARALLELISM = 4
SALT_BYTES = 16
KEY_BYTES = 32
_PREFIX = re.compile(r"\$argon2id\$v=([0-9]{1,10})\$m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,10})\$([A-Za-z0-9+/]+)")


def yield_to_the_event_loop() -> None:
    """A hashing thread's initializer: see HASHING_NICENESS."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


def hashing_pool(workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name, initializer=yield_to_the_event_loop)


def gone() -> ServiceUnavailable:
    return ServiceUnavailable("the caller has gone or its deadline has passed")


@dataclass(frozen=True)
class Argon2idParams:
    """argon2's cost: argon2id wherever Warden chooses (an imported password hash may be argon2i)."""

    memory_kib: int
    iterations: int
    parallelism: int

    def prefix(self, salt: bytes) -> str:
        """The PHC string without its key: `$argon2id$v=19$m=<KiB>,t=<t>,p=<p>$<salt>`."""
        cost = f"m={self.memory_kib},t={self.iterations},p={self.parallelism}"
        return f"$argon2id$v={ARGON2_VERSION}${cost}${b64(salt)}"


# OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, two passes, one lane.
OWASP_MINIMUM = Argon2idParams(memory_kib=19 * 1024, iterations=2, parallelism=1)


def parse_prefix(text: str) -> tuple[Argon2idParams, bytes]:
    """The parameters and salt of `Argon2idParams.prefix`; ValueError for anything else, or for
    parameters past the bounds above."""
    found = _PREFIX.fullmatch(text)
    if found is None:
        raise ValueError("not an argon2id parameter string")
    version, memory, iterations, lanes = (int(v) for v in found.groups()[:4])
    params = Argon2idParams(memory, iterations, lanes)
    fits = 1 <= lanes <= MAX_PARALLELISM and 8 * lanes <= memory <= MAX_MEMORY_KIB
    if version != ARGON2_VERSION or not fits or not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError("argon2id parameters out of bounds")
    salt = unb64(found.group(5))
    if not 8 <= len(salt) <= 1024:
        raise ValueError("argon2id salt out of bounds")
    return params, salt


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


class Argon2idKdf:
    """argon2id on the given threads (a `hashing_pool`, or the password Hasher's). Each secret is a
    job of its own, so the several secrets of one call run side by side on free threads; one whose
    caller has gone or whose deadline has passed by its turn is not worked out (the Hasher's rule)."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool

    async def derive(self, secrets: list[bytes], salt: bytes, params: Argon2idParams) -> list[bytes]:
        caller = budget.get()
        loop = asyncio.get_running_loop()
        jobs = [loop.run_in_executor(self._pool, _derive, caller, s, salt, params) for s in secrets]
        return list(await asyncio.gather(*jobs))


def _derive(caller: Budget, secret: bytes, salt: bytes, params: Argon2idParams) -> bytes:
    if caller.expired():
        raise gone()
    return argon2_raw(secret, salt, params)


def argon2_raw(
    secret: bytes, salt: bytes, params: Argon2idParams, key_length: int = KEY_BYTES, variant: Type = Type.ID
) -> bytes:
    """The raw argon2 key (argon2i only for password hashes imported so)."""
    return hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.iterations,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=key_length,
        type=variant,
        version=ARGON2_VERSION,
    )
