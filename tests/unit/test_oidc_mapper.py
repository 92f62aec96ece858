"""Claims mappers as Kratos's are written: `std.extVar('claims')` in, `{identity: …}` out; a broken
local mapper fails start-up, a failing one fails only that sign-in."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.selfservice.strategies.oidc.errors import MapperFailed
from services.selfservice.strategies.oidc.mapper import ClaimsMapper
from shared.config import Settings, load_settings
from shared.errors import ConfigError
from shared.jsonnet_sandbox import JsonnetSandbox
from tests.factories import write_config

# Kratos's own example (test/e2e/profiles/oidc/hydra.jsonnet), unchanged.
KRATOS_EXAMPLE = """
local claims = std.extVar('claims');

if std.length(claims.sub) == 0 then
  error 'claim sub not set'
else
  {
    identity: {
      traits: {
        email: claims.sub,
        [if "website" in claims then "website" else null]: claims.website,
      },
    },
  }
"""


def _b64(source: str) -> str:
    return "base64://" + base64.b64encode(source.encode()).decode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings([write_config(tmp_path, "memory")], {}, dev=True)


async def _never(url: str) -> str:
    raise AssertionError(f"fetched {url}")


@pytest.fixture
async def sandbox() -> AsyncIterator[JsonnetSandbox]:
    sandbox = JsonnetSandbox(size=1)
    yield sandbox
    await sandbox.close()


def _mapper(source: str, settings: Settings, sandbox: JsonnetSandbox | None = None) -> ClaimsMapper:
    return ClaimsMapper(_b64(source), settings, _never, "providers.test.mapper_url", sandbox or JsonnetSandbox())


async def test_kratos_example_mapper_maps_claims(settings: Settings, sandbox: JsonnetSandbox) -> None:
    mapped = await _mapper(KRATOS_EXAMPLE, settings, sandbox).map(
        {"sub": "a@example.com", "website": "https://a.example"}
    )
    assert mapped.traits == {"email": "a@example.com", "website": "https://a.example"}
    bare = await _mapper(KRATOS_EXAMPLE, settings, sandbox).map({"sub": "b@example.com"})
    assert bare.traits == {"email": "b@example.com"}


async def test_a_mapper_error_fails_the_sign_in_not_the_server(settings: Settings, sandbox: JsonnetSandbox) -> None:
    with pytest.raises(MapperFailed, match="claim sub not set"):
        await _mapper(KRATOS_EXAMPLE, settings, sandbox).map({"sub": ""})


async def test_metadata_and_verified_addresses_come_through(settings: Settings, sandbox: JsonnetSandbox) -> None:
    source = """
local c = std.extVar('claims');
{ identity: { traits: { email: c.email }, metadata_public: { n: c.name }, metadata_admin: { s: c.sub },
  verified_addresses: [{ via: 'email', value: c.email }] } }
"""
    claims: dict[str, Any] = {"sub": "1", "email": "m@example.com", "name": "M"}
    mapped = await _mapper(source, settings, sandbox).map(claims)
    assert (mapped.metadata_public, mapped.metadata_admin) == ({"n": "M"}, {"s": "1"})
    assert mapped.verified_addresses == [{"via": "email", "value": "m@example.com"}]


def test_a_local_mapper_with_a_syntax_error_fails_at_start_up(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="providers.test.mapper_url"):
        _mapper("{ identity: ", settings)


async def test_a_remote_mapper_is_fetched_once_on_first_use(settings: Settings, sandbox: JsonnetSandbox) -> None:
    fetched: list[str] = []

    async def fetch(url: str) -> str:
        fetched.append(url)
        return "{ identity: { traits: { email: std.extVar('claims').email } } }"

    mapper = ClaimsMapper("https://mappers.example/m.jsonnet", settings, fetch, "providers.remote.mapper_url", sandbox)
    assert fetched == []
    for _ in range(2):
        assert (await mapper.map({"email": "r@example.com"})).traits == {"email": "r@example.com"}
    assert fetched == ["https://mappers.example/m.jsonnet"]


async def test_a_mapper_fed_traits_that_blow_up_fails_the_sign_in_within_its_bounds(settings: Settings) -> None:
    """On sign-in the mapper also reads the account's traits, which with a free-form schema hold what
    the user wrote: 60 kB of nested arrays passed on make some 40 MB of output. It is evaluated in the
    sandbox, so the sign-in fails (as for a failing mapper) rather than the process's memory."""
    source = "{ identity: { traits: std.extVar('identity').traits } }"
    bomb = json.loads("[" * 450 + ",".join(["1"] * 30_000) + "]" * 450)
    sandbox = JsonnetSandbox(size=1, memory_bytes=128 * 1024 * 1024)
    try:
        with pytest.raises(MapperFailed, match="ran out of memory"):
            await _mapper(source, settings, sandbox).map({"sub": "x"}, {"traits": {"profile": bomb}})
        mapped = await _mapper(source, settings, sandbox).map({"sub": "x"}, {"traits": {"profile": {"a": 1}}})
        assert mapped.traits == {"profile": {"a": 1}}
    finally:
        await sandbox.close()
