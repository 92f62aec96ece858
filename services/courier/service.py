"""The courier service's definition and composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.service import Infrastructure, ServiceDefinition, ServiceRuntime
from shared.service_kit import ServiceInfo, info_route, service_core
from shared.storage.migrations import MigrationSet
from shared.storage.uow import UnitOfWorkFactory

NAME = "courier"


@dataclass(frozen=True)
class CourierContainer:
    uow: UnitOfWorkFactory
    internal: ServiceInfo


async def build(infra: Infrastructure) -> ServiceRuntime:
    core = service_core(NAME, infra)
    container = CourierContainer(uow=core.uow, internal=ServiceInfo(NAME))
    return ServiceRuntime(NAME, container, background=[core.relay.run], internal_api=container.internal)


DEFINITION = ServiceDefinition(
    name=NAME,
    migrations=MigrationSet(NAME, Path(__file__).parent / "migrations"),
    routes=[info_route(NAME)],
    build=build,
    depends_on=(),
)
