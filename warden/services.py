"""The four services, in start-up order (each after those it calls while it starts; identity's
calls to session come later, through the process's `Clients`). The one place that imports every
service; the CLI and the all-in-one assembly read it."""

from __future__ import annotations

from services.courier.service import DEFINITION as COURIER
from services.identity.service import DEFINITION as IDENTITY
from services.selfservice.service import DEFINITION as SELFSERVICE
from services.session.service import DEFINITION as SESSION
from shared.service import ServiceDefinition

SERVICES: tuple[ServiceDefinition, ...] = (IDENTITY, SESSION, SELFSERVICE, COURIER)
SERVICE_NAMES = tuple(s.name for s in SERVICES)


def by_name(name: str) -> ServiceDefinition:
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(name)
