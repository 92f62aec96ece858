"""The configured password hasher: hashes new passwords, checks any supported hash, and says when a
stored hash should be replaced by one of the configured kind (Kratos's hash migration at login).

Hashing runs on a thread pool the Hasher owns (`shared.kdf.hashing_pool`: below the event loop's
priority), never on the event loop. argon2-cffi, bcrypt and hashlib release the GIL while they
work, so the loop keeps serving requests meanwhile (crypt(3), for the *-crypt imports, does not;
see `crypt_hashes`). The pool is bounded: at most as many hashes
at once as there are CPUs, and, for argon2, as fit in `dedicated_memory`.

A check or a new hash for a caller that has gone, or whose deadline has passed, is not computed when its turn
on a thread comes, and one finished after that is not handed back: the caller was told the work
failed (an internal caller's timeout is a 503 to its user), so the hash would be CPU spent for
nobody while others wait, and storing it would create an identity, or change a password, behind
an error the user saw.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from shared.http.budget import Budget, budget
from shared.kdf import gone, hashing_pool

from .argon2_hashes import Argon2Hash, hash_argon2id, parse_argon2
from .bcrypt_hashes import hash_bcrypt, parse_bcrypt
from .comparator import verify_any
from .config import HasherConfig
from .encoding import password_bytes
from .errors import InvalidImportedHash
from .fair_pool import FairPool

_T = TypeVar("_T")


class Hasher:
    def __init__(self, config: HasherConfig, *, max_workers: int | None = None) -> None:
        self.config = config
        self._threads = hashing_pool(max_workers or default_workers(config), "warden-hashing")
        self._pool = FairPool(self._threads)  # checks and hashes: started in their client's turn

    @property
    def executor(self) -> Executor:
        """The hashing threads, for other slow derivations that should queue with the password
        hashes rather than beside them (backup codes: `shared.kdf.Argon2idKdf`)."""
        return self._threads

    async def hash(self, password: str) -> str:
        """A new hash of the configured kind. Raises PasswordTooLong for bcrypt and > 72 bytes, and
        ServiceUnavailable when the caller is no longer waiting for it (see the module's docstring)."""
        caller = budget.get()
        encoded = await self._run(self._hash_for, caller, password)
        if caller.expired():
            raise gone()
        return encoded

    async def verify(self, password: str, encoded: str) -> bool:
        """Whether `password` matches `encoded`, of any supported format (see `verify_any`).
        ServiceUnavailable, without the check, when the caller has gone while it waited for a thread."""
        return await self._run(self._verify_for, budget.get(), password, encoded)

    def needs_rehash(self, encoded: str) -> bool:
        """True unless `encoded` is of the configured algorithm with exactly the configured
        parameters. Cheap: parses, does not hash."""
        try:
            if self.config.algorithm == "bcrypt":
                return parse_bcrypt(encoded).cost != self.config.bcrypt.cost
            return not self._is_configured_argon2(parse_argon2(encoded))
        except InvalidImportedHash:
            return True

    def close(self) -> None:
        """Stop the pool: queued hashes are cancelled, running ones finish in the background."""
        self._pool.close()

    def _hash_for(self, caller: Budget, password: str) -> str:
        """On a hashing thread: the hash, unless its caller gave up while it waited for the thread."""
        if caller.expired():
            raise gone()
        return self._hash_now(password)

    def _verify_for(self, caller: Budget, password: str, encoded: str) -> bool:
        """On a hashing thread: the check, unless its caller gave up while it waited for the thread."""
        if caller.expired():
            raise gone()
        return verify_any(password, encoded)

    def _hash_now(self, password: str) -> str:
        secret = password_bytes(password)
        if self.config.algorithm == "bcrypt":
            return hash_bcrypt(secret, cost=self.config.bcrypt.cost)
        argon2 = self.config.argon2
        return hash_argon2id(
            secret,
            memory_kib=argon2.memory_kib,
            iterations=argon2.iterations,
            parallelism=argon2.parallelism,
            salt_length=argon2.salt_length,
            key_length=argon2.key_length,
        )

    def _is_configured_argon2(self, stored: Argon2Hash) -> bool:
        wanted = self.config.argon2
        return (
            stored.variant == "argon2id"
            and stored.memory_kib == wanted.memory_kib
            and stored.iterations == wanted.iterations
            and stored.parallelism == wanted.parallelism
            and len(stored.salt) == wanted.salt_length
            and len(stored.key) == wanted.key_length
        )

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        result: _T = await asyncio.wrap_future(self._pool.submit(fn, *args))
        return result


def default_workers(config: HasherConfig) -> int:
    workers = os.cpu_count() or 1
    if config.algorithm == "argon2":
        workers = min(workers, config.argon2.dedicated_memory // config.argon2.memory)
    return max(1, workers)
