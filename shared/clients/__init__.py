"""Typed clients: how one service asks another for an answer.

Each service's Protocol lives here with its internal-HTTP adapter; the in-process adapter lives in
the service that answers. Only the composition root (warden/) chooses which one a service gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.clients.ports import CourierClient, IdentityClient, SelfserviceClient, SessionClient


@dataclass
class Clients:
    """The clients a process gives its services. The process fills in the in-process ones as it
    builds each service, on this same object: a service built early (identity) reaches one built
    after it (session) at call time, as it would over HTTP."""

    identity: IdentityClient | None = None
    session: SessionClient | None = None
    selfservice: SelfserviceClient | None = None
    courier: CourierClient | None = None

    def get(self, service: str) -> object:
        client = getattr(self, service)
        if client is None:
            raise LookupError(f"no client for the {service} service is wired into this process")
        return client


__all__ = ["Clients", "CourierClient", "IdentityClient", "SelfserviceClient", "SessionClient"]
