"""Brute-force throttling of password checks (NIST SP 800-63B §5.2.2; findings 2 and 8 of the
security review). The policy, with its default numbers (docs/security.md repeats them; each is set
by `rate_limits.password_checks` in the config, see `ThrottlePolicy`):

- Counted first per (identifier typed, client IP): FREE_FAILURES failures, then each further one
  blocks that pair for a doubling delay (1 s, 2 s, 4 s … up to MAX_BLOCK). The attacker's address
  is slowed; the owner's, elsewhere, is not.
- Also counted per account, across addresses and across its identifiers (an email and a username
  share one count, whichever is typed, in whichever spelling); an identifier without an account is
  counted under a stand-in of its own, as an account with that one identifier would be. Past
  CEILING failures, a client with a recent failure on the identifier it typed is refused until its
  failures are FORGET_AFTER old, and a client with none is only delayed (CEILING_DELAY before its
  check), never refused: a botnet gets one guess per address per FORGET_AFTER, the owner still
  signs in.
- A hard cap (NIST SP 800-63B §3.2.2, "no more than 100" consecutive failures; checklist BF-1): past
  LOCKOUT_AFTER failures on an account, its password checks are refused from every address and for
  every identifier, the owner's included, until FORGET_AFTER after the failure that reached it.
  Refused checks neither count nor extend the lock, so it ends on time. A right recovery,
  verification or sign-in code clears it: the owner's way back in is their inbox. (Second factors
  and codes are counted by the same rules on keys of their own: see PASSWORDS, SECOND_FACTORS and
  CODES below.)
- A success clears the account and the pair. Counts are forgotten FORGET_AFTER after the last
  failure.

The pair stays per identifier typed: keyed on the account, a client blocked after six guesses for
the email would be blocked at once for the username, telling that both are one account's. The
account's count shows across its identifiers only past the ceiling (a delay) and at the lockout,
the caps it exists for.

Every attempt is reserved before the hash runs: the count goes up and any block is set in one
statement (its own transaction) that holds the rows, so concurrent guesses cannot all pass a check
made before any of them was recorded. That statement finds the account itself (the identifier's
holder, as typed or folded, else the stand-in), so a login makes no extra round trip for it. The
counts' writes do not wait for the disk (`durable=False`, shared/storage/postgres.py): a crash of
the database server may lose their last few hundred milliseconds, no foothold for an attacker (one
who can crash the database at will has better), and counting an attempt, an attacker's included,
costs the database no fsync. Unknown identifiers are counted exactly like known ones, by the same
statement (the throttle reveals no account). Stored in the identity database, so a cache flush does
not reset it; identifiers and addresses are kept only as SHA-256 digests, an account's count under
its id, a stand-in's under a UUIDv5 of the folded identifier.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy import (
    Column,
    Delete,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    TextClause,
    bindparam,
    column,
    delete,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql import CompoundSelect

from services.identity.domain import CredentialType
from services.identity.loads import ALONGSIDE, alongside
from services.identity.schemas.normalize import graceful
from shared.errors import TooManyRequests
from shared.storage.connection import Connection
from shared.storage.uow import UnitOfWorkFactory
from shared.units import parse_duration

FREE_FAILURES = 5
MAX_BLOCK_SECONDS = 15 * 60.0
CEILING = 20
CEILING_DELAY_SECONDS = 1.0
FORGET_AFTER_SECONDS = 60 * 60.0
LOCKOUT_AFTER = 100

Read = tuple[CompoundSelect[Any], dict[str, Any]]  # a statement and its values (reserve_and_read)


def throttle_table(metadata: MetaData) -> Table:
    return Table(
        "identity_password_throttle",
        metadata,
        Column("key_hash", String(64), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("blocked_until", Float, nullable=True),  # Unix time
        Column("updated_at", Float, nullable=False),
    )


@dataclass(frozen=True)
class ThrottlePolicy:
    """The numbers of the policy above, the defaults or `rate_limits.password_checks`'."""

    free_failures: int = FREE_FAILURES
    max_block_seconds: float = MAX_BLOCK_SECONDS
    ceiling: int = CEILING
    ceiling_delay_seconds: float = CEILING_DELAY_SECONDS
    forget_after_seconds: float = FORGET_AFTER_SECONDS
    lockout_after: int = LOCKOUT_AFTER

    @classmethod
    def from_settings(cls, settings: Any) -> ThrottlePolicy:
        def given(key: str, default: float) -> float:
            value = settings.get(f"rate_limits.password_checks.{key}")
            if value is None:
                return default
            return float(value) if isinstance(value, int) else parse_duration(value).total_seconds()

        return cls(
            free_failures=int(given("free_failures", FREE_FAILURES)),
            max_block_seconds=max(1.0, given("max_block", MAX_BLOCK_SECONDS)),  # the ladder's first step
            ceiling=int(given("ceiling", CEILING)),
            ceiling_delay_seconds=given("ceiling_delay", CEILING_DELAY_SECONDS),
            forget_after_seconds=given("forget_after", FORGET_AFTER_SECONDS),
            lockout_after=int(given("lockout_after", LOCKOUT_AFTER)),
        )


@dataclass(frozen=True)
class Reservation:
    identifier_key: str  # a password check's: the account's (`account_key`) or a stand-in's
    pair_key: str
    delay_seconds: float  # past the ceiling, a client with no recent failure waits this long
    legacy_key: str = ""  # a password check's: the identifier's count of before, which a success clears too


def _folded(identifier: str) -> str:
    """Look-alike spellings of one identifier share their counts."""
    return graceful(identifier.strip())


# What is counted under a key, each counted and capped apart: password checks (the pair per
# identifier typed, the rest per account: ACCOUNT below); second-factor checks, which a right
# password must not reset; guesses at one-time codes sent to an address, which a password lockout
# must not stop (they are how the owner ends it); guesses at sign-in codes, under the account they
# were sent for (its id, a stand-in's for an identifier without one), whichever of its identifiers
# was typed.
PASSWORDS = ""
SECOND_FACTORS = "second-factor\0"
CODES = "code\0"
ACCOUNT_CODES = "account-code\0"


def identifier_key(identifier: str, counted: str = PASSWORDS) -> str:
    return hashlib.sha256(f"{counted}identifier\0{_folded(identifier)}".encode()).hexdigest()


def pair_key(identifier: str, client_ip: str | None, counted: str = PASSWORDS) -> str:
    return hashlib.sha256(f"{counted}pair\0{_folded(identifier)}\0{client_ip or '-'}".encode()).hexdigest()


# Password checks count per account: under ACCOUNT and the account's id, or a stand-in's id (a UUIDv5
# of the folded identifier, never an account's UUIDv4) for an identifier without an account. The
# counting upsert finds which (`_upsert`), in the statement that counts.
ACCOUNT = "password-account:"
_STAND_INS = uuid.UUID("9b1d6f0e-2c1a-5e7d-8f3b-6a4c2e1d0b97")


def account_key(identity_id: str) -> str:
    return f"{ACCOUNT}{identity_id}"


def stand_in_key(identifier: str) -> str:
    return account_key(str(uuid.uuid5(_STAND_INS, _folded(identifier))))


def _retry_after(seconds: float) -> TooManyRequests:
    return TooManyRequests(max(1, math.ceil(seconds)))


@dataclass(frozen=True)
class LoginThrottle:
    uow: UnitOfWorkFactory
    table: Table
    identifiers: Table  # the identities' identifiers (services/identity/tables.py), where accounts are found
    policy: ThrottlePolicy = ThrottlePolicy()
    # Each identity load with a counting upsert as its CTE, built once (by the load's and the upsert's
    # ids, the load kept beside it so that id is never another statement's; `_upsert` keeps its own).
    _with_count: dict[tuple[int, int], tuple[CompoundSelect[Any], CompoundSelect[Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    async def reserve(
        self, identifier: str, client_ip: str | None, counted: str = PASSWORDS, typed: str | None = None
    ) -> Reservation:
        """Counts this attempt as a failure before it is checked (a success takes it back), or
        raises TooManyRequests with how long to wait. `counted`: what the attempt is (PASSWORDS,
        SECOND_FACTORS, CODES or ACCOUNT_CODES), each counted on keys of its own by the same rules.
        `typed`: what the client typed, when `identifier` is not it (an account's id): the client's
        own count is kept per value typed (see `reserve_and_read`)."""
        reservation, _ = await self.reserve_and_read(identifier, client_ip, None, counted, typed)
        return reservation

    async def reserve_and_read(
        self,
        identifier: str,
        client_ip: str | None,
        read: Read | None,
        counted: str = PASSWORDS,
        typed: str | None = None,
    ) -> tuple[Reservation, list[Any]]:
        """`reserve`, and the rows of `read` (an identity load, services/identity/loads.py) in the
        same round trip: on PostgreSQL the count runs as a data-modifying CTE of the load (a
        login's check needs both, and the load reads no row the count writes). A password check
        counts under the account that holds `identifier` (or its stand-in), which the count finds
        itself. With `typed`, the pair is (typed, client): were it (account, client), a client
        blocked after six guesses for one identifier would be blocked at once for another of the
        same account, which would tell that the two are one account's. The account's own count
        shows across its identifiers only past the ceiling (a delay) and at the lockout, the caps
        this count exists for."""
        pair = pair_key(typed or identifier, client_ip, counted)
        now = time.time()
        values = self._values(pair, identifier, counted, now)
        async with self.uow.read(durable=False) as conn:
            # One statement, so one transaction: both counts, and the pair's block once it is past
            # its free failures. Each row stays locked until the statement ends, so concurrent
            # reservations take turns; a blocked key is left as it is and not returned.
            failures, rows = await self._count(conn, values, read, per_account=counted == PASSWORDS)
            # The identifier's (or account's) key is never blocked, so always returned.
            ident = next(key for key in failures if key != pair)
            blocked = [pair] if pair not in failures else []
            locked = failures[ident] - 1 >= self.policy.lockout_after
            if blocked or locked:
                await self._take_back(conn, [key for key in (pair, ident) if key in failures])
                await self._refuse(conn, now, blocked, ident if locked else None)
            earlier = failures[pair] - 1
            delay = 0.0
            if failures[ident] - 1 >= self.policy.ceiling:
                if earlier > 0:  # a recent failure on this identifier from this client: refused
                    await self._take_back(conn, [pair, ident])
                    raise _retry_after(self.policy.forget_after_seconds)
                delay = self.policy.ceiling_delay_seconds
        return Reservation(ident, pair, delay, values.get("legacy", ident)), rows

    async def _count(
        self, conn: Connection, values: dict[str, Any], read: Read | None, per_account: bool
    ) -> tuple[dict[str, int], list[Any]]:
        """Runs the counting upsert (with `read` when there is one); returns the failures of the keys
        it counted, and `read`'s rows."""
        policy = self.policy
        accounts = self.identifiers.name if per_account else None
        upsert = _upsert(
            self.table.name, policy.free_failures, policy.max_block_seconds, policy.lockout_after, accounts
        )
        if read is not None and self.uow.database.dialect == "postgresql":
            statement, params = read
            rows = (await conn.execute(self._counting_with(statement, upsert), {**params, **values})).all()
            counted = {row.identity_id: int(row.n1) for row in rows if row.kind == ALONGSIDE}
            return counted, [row for row in rows if row.kind != ALONGSIDE]
        counted = {row.key_hash: int(row.failures) for row in await conn.execute(upsert, values)}
        if read is None:
            return counted, []
        statement, params = read
        return counted, list((await conn.execute(statement, params)).all())

    def _counting_with(self, load: CompoundSelect[Any], upsert: TextClause) -> CompoundSelect[Any]:
        key = (id(load), id(upsert))
        found = self._with_count.get(key)
        if found is None:
            counting = upsert.columns(column("key_hash", String), column("failures", Integer)).cte("counted")
            found = self._with_count[key] = (load, alongside(load, counting, "key_hash", "failures"))
        return found[1]

    def _values(self, pair: str, identifier: str, counted: str, now: float) -> dict[str, Any]:
        """The values of the counting upsert (`_upsert`), which adds one failure under each key that
        is not blocked (inserting the keys seen for the first time) and blocks the pair past its free
        failures; it returns (key_hash, failures) of those counted. Failures older than FORGET_AFTER
        count as none. Values beside the statement, not bound into a copy of it: the statement keeps
        the cache key SQLAlchemy computed for it once. A password check's: what finds the account
        (the identifier as typed and folded, the stand-in's key without one) and the identifier's
        count of before (`legacy`, see `_upsert`)."""
        values: dict[str, Any] = {"pair": pair, "now": now, "stale_before": now - self.policy.forget_after_seconds}
        if counted != PASSWORDS:
            return {**values, "ident": identifier_key(identifier, counted)}
        typed = identifier.strip()
        return {
            **values,
            "kind": CredentialType.PASSWORD.value,
            "typed": typed,
            "folded": _folded(typed),
            "stand_in": stand_in_key(typed),
            "legacy": identifier_key(typed),
        }

    async def _take_back(self, conn: Connection, keys: list[str]) -> None:
        """A refused attempt does not count. Until this runs, concurrent reservations saw one
        failure more than there is: stricter for a moment, never looser. A block the count set
        stays (it is on a client that is refused anyway)."""
        if keys:
            t = self.table
            await conn.execute(update(t).where(t.c.key_hash.in_(keys)).values(failures=t.c.failures - 1))

    async def _refuse(self, conn: Connection, now: float, blocked: list[str], locked: str | None) -> NoReturn:
        """Retry after the last to end of the `blocked` keys' blocks and the `locked` key's lock. A
        lock ends FORGET_AFTER after the failure that reached it: the row's `updated_at`, which the
        counting upsert leaves alone from then on."""
        t = self.table
        keys = [*blocked, *([locked] if locked else [])]
        rows = {
            r.key_hash: r
            for r in await conn.execute(
                select(t.c.key_hash, t.c.blocked_until, t.c.updated_at).where(t.c.key_hash.in_(keys))
            )
        }
        ends = [rows[key].blocked_until or now for key in blocked if key in rows]
        if locked in rows:
            ends.append(rows[locked].updated_at + self.policy.forget_after_seconds)
        raise _retry_after(max(ends, default=now) - now)

    async def succeeded(self, reservation: Reservation) -> None:
        """Clears the account's count (with the identifier's of before, which would seed it again:
        `_upsert`) and the pair's."""
        await self._delete(reservation.identifier_key, reservation.pair_key, reservation.legacy_key)

    async def release(self, reservation: Reservation) -> None:
        """Takes back an attempt that was reserved but not made (another key of it was refused)."""
        async with self.uow.read(durable=False) as conn:  # one statement: its own transaction
            await self._take_back(conn, [reservation.identifier_key, reservation.pair_key])

    async def clear(
        self, identifier: str, client_ip: str | None, counted: str = PASSWORDS, typed: str | None = None
    ) -> None:
        await self._delete(identifier_key(identifier, counted), pair_key(typed or identifier, client_ip, counted))

    async def clear_account(self, identity_id: str | None, identifier: str) -> None:
        """Clears the password count of the account (`identity_id`'s) that a right code proved, and of
        `identifier`'s stand-in, which counts for it while it has no account."""
        await self._delete(stand_in_key(identifier), *([account_key(identity_id)] if identity_id else []))

    async def _delete(self, *keys: str) -> None:
        """The counts of up to three keys (an empty one is none)."""
        first = next(key for key in keys if key)
        values = dict(zip(("ident", "pair", "other"), [key or first for key in keys] + [first] * 3, strict=False))
        async with self.uow.read(durable=False) as conn:  # one statement: its own transaction
            await conn.execute(_deletion(self.table), values)  # a key named twice is deleted once


async def forget_stale(conn: Connection, table: Table, policy: ThrottlePolicy, before: float, batch: int) -> int:
    """Deletes up to `batch` rows that count as nothing since before `before` (Unix time; `warden
    cleanup`): their last failure `forget_after` old (the counting upsert starts such a row again
    from one, unblocked) and any block over. A locked identifier's `updated_at` stays at the failure
    that locked it and its lock ends `forget_after` later, so its row goes only once the lock is
    over. The policy must be the servers' (ThrottlePolicy.from_settings): a shorter `forget_after`
    would forget counts they still hold. Checked again as each row goes, as a failure may refresh it."""
    c = table.c
    stale = (
        c.updated_at < before - policy.forget_after_seconds,
        or_(c.blocked_until.is_(None), c.blocked_until < before),
    )
    picked = select(c.key_hash).where(*stale).limit(batch).scalar_subquery()
    return (await conn.execute(delete(table).where(c.key_hash.in_(picked), *stale))).rowcount


@functools.cache
def _deletion(table: Table) -> Delete:
    """Clearing an account's (or identifier's), a pair's and one more key's counts, on every
    successful login: built once (shared/storage/prebuilt.py says why), with its keys as three values
    rather than a list, which SQLAlchemy would render into the statement anew at every execution."""
    keys: list[Any] = [bindparam("ident"), bindparam("pair"), bindparam("other")]
    return delete(table).where(table.c.key_hash.in_(keys))


@functools.cache
def _upsert(
    table: str, free_failures: int, max_block_seconds: float, lockout_after: int, accounts: str | None = None
) -> TextClause:
    """The counting upsert, as SQL that PostgreSQL (CockroachDB too) and SQLite read alike: SQLAlchemy
    compiles a multi-row VALUES anew at every execution, a text statement once. Past `free_failures`
    the pair (and only the pair) is blocked for 1 s, 2 s, 4 s ... up to `max_block_seconds`: the CASE
    below spells out that ladder by the new count of failures. The other key (the identifier's, or
    the account's) at `lockout_after` keeps its `updated_at`, the start of its lock, however often it
    is tried. (The numbers are the policy's, ints and floats from the config, never text: they are
    written into the SQL.)

    With `accounts` (the identifiers table), the other key is the account's, found here: the holder
    of the password identifier as typed, else of its folded spelling (as the check that follows
    picks it), else the stand-in's key. Both lookups and the stand-in cost the same for an unknown
    identifier as for a known one: the same statement, two reads of one unique index. An account
    seen for the first time starts from the count its identifier had before counts were per account
    (`legacy`, while fresh): without it, the upgrade would end every lock early and start every
    count again from nothing. (Once every server counts per account and FORGET_AFTER has passed,
    no legacy count is fresh, and this can go.)"""
    fresh = f"{table}.updated_at >= :stale_before"
    counted = f"(CASE WHEN {fresh} THEN {table}.failures + 1 ELSE 1 END)"
    locked = f"{table}.key_hash <> :pair AND {table}.failures >= {int(lockout_after)} AND {fresh}"
    free, longest = int(free_failures), float(max_block_seconds)
    ladder, over = [], 1
    while 2.0 ** (over - 1) < longest:
        ladder.append(f"WHEN {free + over} THEN {2.0 ** (over - 1)}")
        over += 1
    block = (
        f"CASE WHEN {table}.key_hash <> :pair OR {counted} <= {free} THEN NULL "
        f"ELSE :now + (CASE {counted} {' '.join(ladder)} ELSE {longest} END) END"
    )
    other = "(:ident, 1, NULL, :now)"
    if accounts is not None:
        # Table names and a constant are written in; client values are bound.
        holder = f"(SELECT '{ACCOUNT}' || identity_id FROM {accounts} WHERE type = :kind AND identifier = "  # noqa: S608
        before = f"(SELECT failures FROM {table} WHERE key_hash = :legacy AND updated_at >= :stale_before)"  # noqa: S608
        other = f"(COALESCE({holder}:typed), {holder}:folded), :stand_in), 1 + COALESCE({before}, 0), NULL, :now)"
    return text(
        f"INSERT INTO {table} (key_hash, failures, blocked_until, updated_at) "  # noqa: S608 (table names and policy numbers; client values are bound)
        f"VALUES (:pair, 1, NULL, :now), {other} "
        f"ON CONFLICT (key_hash) DO UPDATE SET failures = {counted}, blocked_until = {block}, "
        f"updated_at = CASE WHEN {locked} THEN {table}.updated_at ELSE :now END "
        f"WHERE {table}.blocked_until IS NULL OR {table}.blocked_until <= :now OR NOT ({fresh}) "
        "RETURNING key_hash, failures"
    ).bindparams(bindparam("now", type_=Float), bindparam("stale_before", type_=Float))
