"""The claims mapper: a provider's Jsonnet program turns normalized claims into identity data,
exactly as Kratos's mappers are written (`std.extVar('claims')` and `std.extVar('identity')` in,
`{identity: {traits, metadata_public, metadata_admin, verified_addresses}}` out).

Local mappers (`file://`, `base64://`) are read and syntax-checked at start-up; remote ones
(`https://`) are fetched once, on first use, so a provider outage at boot does not stop Warden."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from services.selfservice.strategies.oidc.errors import MapperFailed
from shared.config.sources import Fetch, read_local
from shared.errors import ConfigError
from shared.jsonnet import JsonnetError, JsonnetProgram
from shared.jsonnet_sandbox import JsonnetSandbox

Json = Any  # whatever JSON the mapper returns for the metadata


@dataclass(frozen=True)
class MappedIdentity:
    traits: dict[str, Any]
    metadata_public: Json = None
    metadata_admin: Json = None
    verified_addresses: list[dict[str, str]] = field(default_factory=list)
    # The metadata keys the mapper output at all: an update on login replaces only those, so a
    # mapper written for registration alone does not wipe metadata set since.
    metadata_given: frozenset[str] = frozenset()


# How long one mapping may take. Kratos gives its Jsonnet no deadline of its own but runs it in a
# process pool; past this the sign-in fails as for a mapper that fails.
MAPPER_SECONDS = 5.0


class ClaimsMapper:
    def __init__(self, url: str, settings: Any, fetch: Fetch, key: str, sandbox: JsonnetSandbox) -> None:
        self._url, self._settings, self._fetch, self._key = url, settings, fetch, key
        self._sandbox = sandbox
        self._program: JsonnetProgram | None = None
        self._lock = asyncio.Lock()
        if not self.remote:  # local: read and syntax-checked now, so a broken mapper fails start-up
            source = read_local(url, settings, key)
            try:
                self._program = JsonnetProgram(source, key)
            except RuntimeError as exc:
                raise ConfigError(f"config: {key}: {exc}") from None

    @property
    def remote(self) -> bool:
        return self._url.startswith(("http://", "https://"))

    async def load(self) -> None:
        async with self._lock:
            if self._program is None:
                try:
                    self._program = JsonnetProgram(await self._fetch(self._url), self._key)
                except Exception as exc:  # a remote mapper that cannot be fetched or parsed: this sign-in fails
                    raise MapperFailed(f"{self._key}: {exc}") from None

    async def map(self, claims: dict[str, Any], identity: dict[str, Any] | None = None) -> MappedIdentity:
        await self.load()
        assert self._program is not None
        current = identity or {"traits": {}, "metadata_public": None, "metadata_admin": None}
        try:
            # `identity` holds the account's traits as its owner wrote them, `claims` what the provider
            # says: evaluated apart, bounded in memory and time (shared/jsonnet_sandbox.py).
            ext = {"claims": claims, "identity": current}
            result = json.loads(await self._sandbox.evaluate(self._program, timeout=MAPPER_SECONDS, ext=ext))
        except JsonnetError as exc:
            raise MapperFailed(f"{self._key}: {exc}") from None
        identity_out = result.get("identity") if isinstance(result, dict) else None
        if not isinstance(identity_out, dict) or not isinstance(identity_out.get("traits", {}), dict):
            raise MapperFailed(f"{self._key}: the mapper must return {{identity: {{traits: {{…}}}}}}")
        verified = identity_out.get("verified_addresses") or []
        return MappedIdentity(
            traits=identity_out.get("traits") or {},
            metadata_public=identity_out.get("metadata_public"),
            metadata_admin=identity_out.get("metadata_admin"),
            verified_addresses=[a for a in verified if isinstance(a, dict) and a.get("value")],
            metadata_given=frozenset(k for k in ("metadata_public", "metadata_admin") if k in identity_out),
        )
