"""The `oidc` method's entry in the method list: how it is built from config, and its routes (the
provider callback, and the token exchange native apps finish with)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from services.selfservice.flows import token_exchange
from services.selfservice.flows.browser_errors import with_browser_errors
from services.selfservice.strategies.oidc import callback
from services.selfservice.strategies.oidc.config import GENERIC_CALLBACK, OidcConfig
from services.selfservice.strategies.oidc.mapper import ClaimsMapper
from services.selfservice.strategies.oidc.providers import Request
from services.selfservice.strategies.oidc.strategy import METHOD, OidcStrategy, supported_families
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from shared.cipher import cipher_from_settings
from shared.http.egress import Egress, EgressPolicy
from shared.service import Route

TIMEOUT = 10.0  # seconds for one call to a provider


def _requests(policy: EgressPolicy) -> Request:
    """Calls to providers through the SSRF guard; a session per call, since sign-ins are rare and a
    method has no shutdown hook to close a long-lived one with."""

    @asynccontextmanager
    async def request(method: str, url: str, **kw: Any) -> AsyncIterator[Any]:
        egress = Egress(policy, timeout=TIMEOUT)
        try:
            async with egress.request(method, url, **kw) as response:
                yield response
        finally:
            await egress.close()

    return request


def build(deps: Dependencies) -> OidcStrategy:
    config = OidcConfig.from_settings(deps.settings, deps.config.public_base_url, supported_families())
    policy = EgressPolicy.from_settings(deps.settings)
    requests = _requests(policy)

    async def fetch(url: str) -> str:
        async with requests("GET", url) as response:
            response.raise_for_status()
            return str(await response.text())

    mappers = {
        p.id: ClaimsMapper(
            p.mapper_url,
            deps.settings,
            fetch,
            f"selfservice.methods.oidc.config.providers.{p.id}.mapper_url",
            deps.sandbox,
        )
        for p in config.providers
    }
    traits_group = METHOD if deps.config.legacy_oidc_registration_group else "default"
    cipher = cipher_from_settings(deps.settings)
    return OidcStrategy(config, mappers, cipher, requests, deps.identities, deps.schemas, traits_group)


SPEC = MethodSpec(
    id=METHOD,
    node_group=METHOD,
    credential_type=METHOD,
    build=build,
    enabled_by_default=False,
    routes=(
        # The callback is a browser's: its errors go to the error UI. The exchange is the app's: JSON.
        *(
            with_browser_errors(Route("public", method, path, callback.callback))
            for method in ("GET", "POST")
            for path in (callback.PATH, GENERIC_CALLBACK)
        ),
        Route("public", "GET", token_exchange.PATH, token_exchange.token_exchange),
    ),
)
