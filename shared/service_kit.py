"""What every service builds the same way: its outbox, unit of work and relay, and the `info`
call of its internal API. A service composes these in its own bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import MetaData, Table

from shared.bus.outbox import Outbox, OutboxRelay
from shared.json_codec import json_response
from shared.service import Infrastructure, Route
from shared.storage.tables import outbox_table, processed_events_table
from shared.storage.uow import UnitOfWorkFactory
from shared.version import warden_version


@dataclass(frozen=True)
class ServiceCore:
    uow: UnitOfWorkFactory
    relay: OutboxRelay
    processed_events: Table


def service_core(name: str, infra: Infrastructure) -> ServiceCore:
    metadata = MetaData()
    outbox = Outbox(outbox_table(metadata, name))
    relay = OutboxRelay(infra.database, outbox, infra.bus)
    infra.metrics.on_scrape(infra.metrics.outbox.probe(name, relay.backlog))
    return ServiceCore(
        uow=UnitOfWorkFactory(infra.database, outbox, name),
        relay=relay,
        processed_events=processed_events_table(metadata, name),
    )


class ServiceInfo:
    """The in-process adapter of `ServiceClient.info`."""

    def __init__(self, name: str) -> None:
        self._name = name

    async def info(self) -> dict[str, Any]:
        return {"service": self._name, "version": warden_version()}


class HasInfo(Protocol):
    @property
    def internal(self) -> ServiceInfo: ...


async def _info(c: HasInfo, _request: web.Request) -> web.Response:
    return json_response(await c.internal.info())


def info_route(name: str) -> Route[HasInfo]:
    return Route("internal", "GET", f"/internal/{name}/info", _info)
