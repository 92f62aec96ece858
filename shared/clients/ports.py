"""The Protocol of each service's internal API. Answers are Kratos-shaped JSON (dicts), the same
whether the call crossed HTTP or stayed in the process."""

from __future__ import annotations

from typing import Any, Protocol


class ServiceClient(Protocol):
    async def info(self) -> dict[str, Any]:
        """The service's name and version: the cheapest call that proves the service answers."""
        ...


class IdentityClient(ServiceClient, Protocol):
    async def get_identity(self, identity_id: str) -> dict[str, Any] | None:
        """The identity in the admin view (no secrets), or None."""
        ...

    async def create_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        """Creates from a `createIdentityBody`; raises the typed error Kratos would answer."""
        ...

    async def verify_password(self, identifier: str, password: str) -> dict[str, Any] | None:
        """The identity whose password credential has this identifier and password, or None. Costs the
        same time either way; an imported hash is re-hashed with the configured hasher on success."""
        ...

    async def get_credential(self, identity_id: str, credential_type: str) -> dict[str, Any] | None:
        """One credential with its secret config (TOTP seed, WebAuthn keys): for the service that checks it."""
        ...

    async def update_credential(
        self, identity_id: str, credential_type: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        """Sets one credential's config (clear-text `password` is hashed here); returns the identity."""
        ...

    async def mark_address_verified(self, via: str, value: str) -> dict[str, Any] | None:
        """Marks a verifiable address verified; returns its identity, or None if no identity has it."""
        ...


class SessionClient(ServiceClient, Protocol): ...


class SelfserviceClient(ServiceClient, Protocol): ...


class CourierClient(ServiceClient, Protocol): ...
