"""The Protocol of each service's internal API. Later features add their calls here."""

from __future__ import annotations

from typing import Any, Protocol


class ServiceClient(Protocol):
    async def info(self) -> dict[str, Any]:
        """The service's name and version: the cheapest call that proves the service answers."""
        ...


class IdentityClient(ServiceClient, Protocol): ...


class SessionClient(ServiceClient, Protocol): ...


class SelfserviceClient(ServiceClient, Protocol): ...


class CourierClient(ServiceClient, Protocol): ...
