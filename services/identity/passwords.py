"""Password verification, the identity service's security logic for password logins: the throttle
reserves the attempt, counted per account (and the identifier's holder is read in the same round
trip), a bounded number of checks per account hash at once, unknown identifiers are checked against
a dummy hash (same cost, same answer: no enumeration), and an imported or outdated hash is replaced
by one of the configured kind on success.

A password that awaits the migration hook (password_migration.py) is checked by the legacy system
instead, under the same reservation, turn and throttle as a hash check: while the hook is asked, the
password is hashed on the hashing threads, the hash a match stores, so a wrong password costs what
a wrong one against a hash costs (and answers the same). A call that reached nobody takes its
attempt back: no password was tried, and an outage must not lock the owners out."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.identity.credentials import awaits_migration
from services.identity.domain import Credential, CredentialType, Identity
from services.identity.errors import IdentityNotFound, MigrationHookBodyFailed, MigrationHookUnreachable
from services.identity.hashing import Hasher
from services.identity.hashing.queue import HashingQueue
from services.identity.loads import identities_from
from services.identity.manager import IdentityManager
from services.identity.password_migration import KEY as MIGRATE_HOOK
from services.identity.password_migration import PasswordMigrationHook
from services.identity.schemas.normalize import graceful
from services.identity.throttle import ACCOUNT_CODES, CODES, SECOND_FACTORS, LoginThrottle, Reservation
from shared.errors import TooManyRequests
from shared.metrics.throttling import ThrottleMetrics

log = logging.getLogger(__name__)

# Concurrent checks of one account beyond this wait their turn: guesses at one account cannot
# take every hashing thread, and the throttle sees each result before the next check starts.
MAX_CHECKS_IN_FLIGHT = 2


def new_dummy_password() -> str:
    return secrets.token_urlsafe(24)


class PasswordVerifier:
    def __init__(
        self,
        manager: IdentityManager,
        hasher: Hasher,
        dummy_hash: str,
        throttle: LoginThrottle,
        queue: HashingQueue,
        metrics: ThrottleMetrics,
        migration: PasswordMigrationHook | None = None,
    ) -> None:
        self._queue = queue
        self._migration = migration
        self._blocked = {kind: metrics.throttle_blocks.labels(kind) for kind in ("password", "second_factor", "code")}
        self._manager = manager
        self._hasher = hasher
        self._dummy_hash = dummy_hash
        self.throttle = throttle
        self._in_flight: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def verify(self, identifier: str, password: str, client_ip: str | None = None) -> Identity | None:
        """The identity whose password this is, or None; TooManyRequests while throttled."""
        async with self._queue.admitted(client_ip):  # a flood is refused here, before any write or hash
            reservation, found = await self._reserve_and_find(identifier, client_ip)
            if reservation.delay_seconds:
                await asyncio.sleep(reservation.delay_seconds)
            async with self._turn(reservation.identifier_key):
                try:
                    verified = await self._check(found, identifier, password, client_ip)
                except (MigrationHookUnreachable, MigrationHookBodyFailed) as unreachable:
                    if not unreachable.delivered:
                        await self.throttle.release(reservation)
                    raise
        if verified is not None:
            await self.throttle.succeeded(reservation)
        return verified

    async def second_factor_attempt(self, identity_id: str, outcome: str, client_ip: str | None) -> None:
        """A second-factor check (TOTP, a backup code, a security key, a code as a second factor),
        counted on each of the identity's identifiers (its id when it has none) by the password
        rules, lockout included, on counts of their own: a right password, which clears its own,
        must not give whoever knows it a fresh round of guesses at the second factor. "check"
        reserves the attempt (TooManyRequests while refused), "succeeded" takes the count back,
        "failed" leaves it counted. An id of no identity (deleted since the flow began; or, while a
        rolling upgrade runs, a self-service process of before `code_attempt` naming a code's
        stand-in) is counted on the id itself, as it was, rather than answered 404."""
        owner = await self._identity(identity_id)
        keys = (_identifiers(owner) if owner else []) or [identity_id]
        if outcome == "check":
            await self._reserve_all(keys, client_ip, SECOND_FACTORS, "second_factor")
        elif outcome == "succeeded":
            for key in keys:
                await self.throttle.clear(key, client_ip, SECOND_FACTORS)

    async def code_attempt(
        self, address: str, outcome: str, client_ip: str | None, identity_id: str | None = None
    ) -> None:
        """A guess at a one-time code sent to `address`, counted under the address's code keys from
        `client_ip`, whether or not it has an account (nothing tells the two apart): blocked, and
        locked out past the cap, as password checks are, but apart from them (OTP-4: a new code does
        not start the count again). A sign-in code's guess ("check" with `identity_id`, the account
        it was sent for or an unknown identifier's stand-in) counts under the account instead, the
        client's own count under the identifier typed (`address`): an account's identifiers share
        one cap. A right one clears the code counts of the address and of the identity it proved,
        and the password counts of that identity (its account's, and each identifier's with this
        client) and of the address: the owner's inbox ends a password lockout."""
        if outcome == "check":
            if identity_id:
                await self._reserve_all([identity_id], client_ip, ACCOUNT_CODES, "code", typed=address)
            else:
                await self._reserve_all([address], client_ip, CODES, "code")
        elif outcome == "succeeded":
            await self.throttle.clear(address, client_ip, CODES)
            if identity_id:
                await self.throttle.clear(identity_id, client_ip, ACCOUNT_CODES, typed=address)
            owner = await self._identity(identity_id) if identity_id else None
            for key in sorted({address, *(_identifiers(owner) if owner else ())}):
                await self.throttle.clear(key, client_ip)
            await self.throttle.clear_account(owner.id if owner else None, address)

    async def _identity(self, identity_id: str) -> Identity | None:
        try:
            return await self._manager.get(identity_id)
        except IdentityNotFound:
            return None

    async def _reserve_all(
        self, keys: list[str], client_ip: str | None, counted: str, kind: str, typed: str | None = None
    ) -> None:
        """Reserves an attempt on every key, or on none: one refused takes the others back. Past the
        ceiling, waits the delay a client without recent failures is given."""
        reserved: list[Reservation] = []
        try:
            for key in keys:
                reserved.append(await self.throttle.reserve(key, client_ip, counted, typed))
        except TooManyRequests:
            self._blocked[kind].inc()
            for reservation in reserved:
                await self.throttle.release(reservation)
            raise
        if delay := max((r.delay_seconds for r in reserved), default=0.0):
            await asyncio.sleep(delay)

    async def _reserve_and_find(self, identifier: str, client_ip: str | None) -> tuple[Reservation, Identity | None]:
        """The attempt reserved and the identifier's holder, as typed, read in the same round trip."""
        read = self._manager.identifier_read(CredentialType.PASSWORD, identifier.strip())
        try:
            reservation, rows = await self.throttle.reserve_and_read(identifier, client_ip, read)
        except TooManyRequests:
            self._blocked["password"].inc()
            raise
        found = identities_from(rows)
        return reservation, found[0] if found else None

    @asynccontextmanager
    async def _turn(self, key: str) -> AsyncIterator[None]:
        semaphore, users = self._in_flight.get(key) or (asyncio.Semaphore(MAX_CHECKS_IN_FLIGHT), 0)
        self._in_flight[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._in_flight[key]
            if users <= 1:
                del self._in_flight[key]
            else:
                self._in_flight[key] = (semaphore, users - 1)

    async def _check(
        self, as_typed: Identity | None, identifier: str, password: str, client_ip: str | None
    ) -> Identity | None:
        found = as_typed or await self._find_folded_holder(identifier)
        credential = found.credentials.get(CredentialType.PASSWORD) if found else None
        if found is not None and awaits_migration(credential):
            if self._migration is not None:
                return await self._migrate(self._migration, found, identifier, password, client_ip)
            log.warning(
                "identity %s awaits the password migration hook, which is not enabled (%s.enabled): "
                "its password login fails as a wrong password would",
                found.id,
                MIGRATE_HOOK,
            )
        return await self._queue.run(client_ip, lambda: self._compare(found, credential, password))

    async def _migrate(
        self, hook: PasswordMigrationHook, found: Identity, identifier: str, password: str, client_ip: str | None
    ) -> Identity | None:
        """The legacy system's word on the password, asked while the hash a match stores is made;
        the hash is awaited whatever the answer, so every answer costs at least a hash."""
        call = asyncio.ensure_future(hook.vouches_for(identifier, password))
        call.add_done_callback(_retrieved)  # a call's failure is not lost when the hash fails first
        try:
            encoded = await self._queue.run(client_ip, lambda: self._hasher.hash(password))
        except BaseException:
            call.cancel()
            raise
        if not await call:
            return None
        stored = await self._manager.finish_password_migration(found.id, encoded)
        if stored is not None:
            return stored
        # Changed while the hook was asked (a second sign-in stored its hash first, or a new password
        # was set): the password is checked against what the identity holds now.
        fresh = await self._identity(found.id)
        current = fresh.credentials.get(CredentialType.PASSWORD) if fresh else None
        return await self._queue.run(client_ip, lambda: self._compare(fresh, current, password))

    async def _compare(self, found: Identity | None, credential: Credential | None, password: str) -> Identity | None:
        """The hash check (against the dummy hash when there is no hash to check)."""
        encoded = (credential.config.get("hashed_password") if credential else None) or self._dummy_hash
        matches = await self._hasher.verify(password, encoded)
        if not (found and credential and matches and encoded is not self._dummy_hash):
            return None
        if self._hasher.needs_rehash(encoded):
            found = await self._manager.set_credential(found.id, CredentialType.PASSWORD, {"password": password})
        return found

    async def _find_folded_holder(self, identifier: str) -> Identity | None:
        """The holder of the identifier's folded spelling, when none holds it as typed (read with the
        reservation): a look-alike that existed before identifiers were folded keeps its spelling."""
        trimmed = identifier.strip()
        folded = graceful(trimmed)
        if folded == trimmed:
            return None
        return await self._manager.find_by_identifier(CredentialType.PASSWORD, folded)


def _retrieved(call: asyncio.Future[bool]) -> None:
    if not call.cancelled():
        call.exception()


def _identifiers(identity: Identity) -> list[str]:
    return sorted({i for c in identity.credentials.values() for i in c.identifiers})
