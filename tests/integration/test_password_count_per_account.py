"""Password failures count per account, not per identifier typed (checklist BF-1), on both engines: an
account with an email and a username gets one ceiling and one lockout, whichever identifier (in
whichever spelling) the guesses are spread over; an identifier without an account answers guess by
guess as a known one does, with the same statements; a success clears the account's count; the
client's own count (the pair) stays per identifier typed, so a block tells nothing about which
identifiers are one account's. Counts stored per identifier before the upgrade still hold."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import urllib3
from sqlalchemy import MetaData, insert

from services.identity.throttle import FREE_FAILURES, identifier_key, throttle_table
from shared.storage.database import Database
from tests.factories import EMAIL_SCHEMA, ThreadedWarden, running_warden, settings_for
from tests.round_trips import RoundTrips

PASSWORD = "Quartz-Lantern-Nimbus-4817"
CAP = 6  # lockout_after: small, to keep the tests short
_addresses = (f"203.0.{n // 250}.{n % 250 + 1}" for n in count())


@contextmanager
def _warden(directory: Path, dsn: str, **checks: Any) -> Iterator[ThreadedWarden]:
    """Email and username, both password identifiers; no delay past the ceiling, which would only
    slow the tests down; client addresses named by X-Forwarded-For, a new one per guess unless told."""
    schema = {**copy.deepcopy(EMAIL_SCHEMA), "$id": "https://warden.test/schemas/email-and-username.json"}
    password_identifier = {"ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}
    schema["properties"]["traits"]["properties"]["username"] = {"type": "string", **password_identifier}
    (directory / "email-and-username.schema.json").write_text(json.dumps(schema))
    extra = {
        "identity": {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/email-and-username.schema.json"}],
        },
        "rate_limits": {"enabled": False, "password_checks": {"ceiling_delay": "0s", "lockout_after": CAP, **checks}},
        "serve": {"public": {"trusted_proxies": ["127.0.0.1"]}},
    }
    with running_warden(settings_for(directory, dsn, extra)) as warden:
        yield warden


def _account(warden: ThreadedWarden) -> tuple[str, str]:
    """A new account with an email and a username: (email, username)."""
    tag = uuid.uuid4().hex[:8]
    email, username = f"both-{tag}@example.com", f"user{tag}"
    body = {
        "schema_id": "default",
        "traits": {"email": email, "username": username},
        "credentials": {"password": {"config": {"password": PASSWORD}}},
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return email, username


def _login(warden: ThreadedWarden, identifier: str, password: str, client: str | None = None) -> int:
    headers = {"X-Forwarded-For": client or next(_addresses)}
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api", headers=headers).data)
    body = {"method": "password", "identifier": identifier, "password": password}
    url = f"{warden.public_url}/self-service/login?flow={flow['id']}"
    return urllib3.request("POST", url, json=body, headers=headers).status


def _guesses(warden: ThreadedWarden, *identifiers: str) -> list[int]:
    """A wrong guess at each identifier in turn, each from a new client (a botnet): the statuses."""
    return [_login(warden, identifier, "wrong guess") for identifier in identifiers]


def test_failures_spread_over_an_accounts_identifiers_reach_one_lockout(tmp_path: Path, any_dsn: str) -> None:
    """Guesses at the email, the username and their other spellings add up to one cap: past it the
    right password is refused for every identifier. An identifier without an account, guessed at in
    two spellings, answers the same, guess by guess."""
    with _warden(tmp_path, any_dsn) as warden:
        email, username = _account(warden)
        spread = [email, username, username.upper(), f"  {email.upper()}", username, email]
        assert len(spread) == CAP
        nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        unknown = [nobody, nobody.upper()] * (CAP // 2)
        assert _guesses(warden, *spread, email) == _guesses(warden, *unknown, nobody) == [400] * CAP + [429]
        assert _login(warden, email, PASSWORD) == 429, "the account is locked"
        assert _login(warden, username, PASSWORD) == 429, "for each of its identifiers"


def test_a_success_clears_the_accounts_count(tmp_path: Path, any_dsn: str) -> None:
    with _warden(tmp_path, any_dsn) as warden:
        email, username = _account(warden)
        assert _guesses(warden, email, email, email, username, username) == [400] * (CAP - 1)
        assert _login(warden, email, PASSWORD) == 200, "one below the cap"
        assert _guesses(warden, *[username] * (CAP - 1)) == [400] * (CAP - 1), "the success cleared the username's too"
        assert _login(warden, username, PASSWORD) == 200


def test_the_ceiling_is_the_accounts(tmp_path: Path, any_dsn: str) -> None:
    """Past the ceiling, a client with a recent failure on the identifier it types is refused; one
    with none is let through: the ceiling counts the account's failures, whichever were typed."""
    with _warden(tmp_path, any_dsn, ceiling=4, lockout_after=100) as warden:
        email, username = _account(warden)
        client = "198.51.100.41"
        assert _login(warden, username, "wrong guess", client) == 400
        assert _guesses(warden, email, email, email) == [400] * 3
        assert _login(warden, username, "wrong guess", client) == 429, "past the account's ceiling of 4"
        assert _login(warden, username, PASSWORD) == 200, "a client without failures signs in"


def test_a_clients_own_block_stays_per_identifier_typed(tmp_path: Path, any_dsn: str) -> None:
    """Blocked after its free failures for the email, a client is not blocked for the username beside
    it, as it would not be for an unrelated identifier: a block that showed there would tell, after a
    handful of guesses, that the two are one account's."""
    with _warden(tmp_path, any_dsn, lockout_after=100) as warden:
        email, username = _account(warden)
        client = "198.51.100.42"
        assert [_login(warden, email, "wrong guess", client) for _ in range(FREE_FAILURES + 1)] == [400] * (
            FREE_FAILURES + 1
        )
        assert _login(warden, email, PASSWORD, client) == 429, "the client is blocked for the email"
        assert _login(warden, username, "wrong guess", client) == 400, "and not for the username"
        assert _login(warden, f"other-{uuid.uuid4().hex[:8]}", "wrong guess", client) == 400


def test_a_known_and_an_unknown_identifier_cost_the_same_statements(tmp_path: Path, any_dsn: str) -> None:
    """A wrong guess sends the database the same statements whether or not the identifier has an
    account: nothing in the count's cost tells the two apart."""
    with _warden(tmp_path, any_dsn) as warden:
        email, _ = _account(warden)
        sent: dict[str, list[str]] = {}
        with RoundTrips().attached(warden.process._databases.all()) as trips:
            for identifier in (email, f"nobody-{uuid.uuid4().hex[:8]}@example.com"):
                _login(warden, identifier, "wrong guess")  # a first guess inserts the rows
                flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
                body = {"method": "password", "identifier": identifier, "password": "wrong guess"}
                with trips.counted():
                    url = f"{warden.public_url}/self-service/login?flow={flow['id']}"
                    assert urllib3.request("POST", url, json=body).status == 400
                sent[identifier] = list(trips.calls)
        known, unknown = sent.values()
        assert known == unknown, f"known:\n{known}\nunknown:\n{unknown}"


async def _seed(dsn: str, counts: dict[str, int]) -> None:
    """Counts as a server of before kept them: per identifier, fresh."""
    database = Database.from_dsn(dsn)
    table = throttle_table(MetaData())
    try:
        async with database.transaction() as conn:
            for identifier, failures in counts.items():
                row = dict(key_hash=identifier_key(identifier), failures=failures, updated_at=time.time())
                await conn.execute(insert(table).values(blocked_until=None, **row))
    finally:
        await database.dispose()


def test_counts_kept_per_identifier_before_the_upgrade_still_hold(tmp_path: Path, any_dsn: str) -> None:
    """An identifier locked before the upgrade stays locked (its account starts from its count), and
    a success clears that count too, so that it does not come back at the next failure."""
    with _warden(tmp_path, any_dsn) as warden:
        (locked, _), (_, username) = _account(warden), _account(warden)
        asyncio.run(_seed(any_dsn, {locked: CAP, username: CAP - 1}))
        assert _login(warden, locked, PASSWORD) == 429, "the lock of before holds"
        assert _login(warden, username, PASSWORD) == 200, "one below the cap: the success clears it"
        assert _guesses(warden, *[username] * (CAP - 1)) == [400] * (CAP - 1)
        assert _login(warden, username, PASSWORD) == 200
