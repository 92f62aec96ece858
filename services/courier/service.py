"""The courier service's definition and composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from services.courier.api import admin, webhooks
from services.courier.channels.registry import build_channels
from services.courier.config import RETENTION, CourierConfig
from services.courier.consumers import CONSUMES, message_requests
from services.courier.dispatcher import Dispatcher
from services.courier.persistence import MessageRepository
from services.courier.render.builtin import BuiltinTemplates
from services.courier.render.overrides import load_overrides
from services.courier.render.renderer import Renderer
from services.courier.tables import courier_tables
from services.courier.webhooks.config import DeliveryConfig
from services.courier.webhooks.config import subscriptions as event_subscriptions
from services.courier.webhooks.consumers import WEBHOOKS, event_sink, event_sink_queue, webhook_requests
from services.courier.webhooks.persistence import DeliveryRepository
from services.courier.webhooks.sender import DeliverySender
from shared.bus.ports import DurableQueue
from shared.http.egress import Egress, EgressPolicy
from shared.jsonnet_sandbox import JsonnetSandbox
from shared.page_tokens import PageTokens
from shared.service import Infrastructure, ServiceDefinition, ServiceRuntime
from shared.service_kit import ServiceInfo, info_route, service_core
from shared.storage.database import Database
from shared.storage.migrations import MigrationSet
from shared.storage.uow import UnitOfWorkFactory

NAME = "courier"
FETCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class CourierContainer:
    uow: UnitOfWorkFactory
    database: Database
    repository: MessageRepository
    dispatcher: Dispatcher
    config: CourierConfig
    internal: ServiceInfo
    deliveries: DeliveryRepository
    webhook_dispatcher: Dispatcher
    page_tokens: PageTokens


async def build(infra: Infrastructure) -> ServiceRuntime[CourierContainer]:
    core = service_core(NAME, infra)
    config = CourierConfig.from_settings(infra.settings)
    # Template and Jsonnet URLs are fetched once here, and the HTTP channels send with this session.
    egress = Egress(EgressPolicy.from_settings(infra.settings), timeout=FETCH_TIMEOUT_SECONDS)
    # Where the HTTP channels' bodies are evaluated: their `ctx` holds what a user sent (traits and
    # a flow's transient_payload). Its workers start at the first send.
    sandbox = JsonnetSandbox()
    try:
        renderer = Renderer(BuiltinTemplates(), await load_overrides(infra.settings, egress.fetch_text))
        renderer.check()
        channels = await build_channels(config, infra.settings, egress, egress.fetch_text, sandbox)
    except BaseException:
        await egress.close()
        raise
    tables = courier_tables(MetaData())
    repository = MessageRepository(tables)
    send = lambda m: channels[m.channel].send(m)  # noqa: E731
    dispatcher = Dispatcher(infra.database, repository, send, config, outcomes=infra.metrics.courier)
    max_deliveries = infra.settings.bus.max_deliveries
    subscriptions = [
        message_requests(
            renderer,
            repository,
            core.uow,
            core.processed_events,
            max_deliveries,
            dispatcher.wake,
            infra.metrics.courier,
        )
    ]
    deliveries = DeliveryRepository(tables)
    delivery = DeliveryConfig.from_settings(infra.settings)
    sinks = event_subscriptions(infra.settings)
    sender = DeliverySender(infra.settings, sinks, egress, timeout=delivery.send_timeout)
    webhooks = Dispatcher(
        infra.database,
        deliveries,
        sender.send,
        delivery,
        noun="web hook delivery",
        outcomes=infra.metrics.courier.webhooks,
    )
    subscriptions.append(webhook_requests(deliveries, core.uow, core.processed_events, max_deliveries, webhooks.wake))
    sink = event_sink(sinks, deliveries, core.uow, core.processed_events, max_deliveries, webhooks.wake)
    if sink is not None:
        subscriptions.append(sink)

    async def close() -> None:
        try:
            for channel in {id(c): c for c in channels.values()}.values():  # the sink may serve both
                await channel.close()
        finally:
            try:
                await sandbox.close()
            finally:
                await egress.close()

    container = CourierContainer(
        core.uow,
        infra.database,
        repository,
        dispatcher,
        config,
        ServiceInfo(NAME),
        deliveries,
        webhooks,
        PageTokens.from_settings(infra.settings),
    )
    return ServiceRuntime(
        NAME,
        container,
        subscriptions=subscriptions,
        background=[core.relay.run, dispatcher.run, webhooks.run],
        internal_api=container.internal,
        close=close,
    )


async def delete_finished_messages(database: Database, batch: int, expired_before: datetime) -> int:
    """Sent and abandoned messages, RETENTION after they finished (see config.RETENTION): their codes
    expired long ago, and their recipients are personal data."""
    messages = MessageRepository(courier_tables(MetaData()))
    async with database.transaction() as conn:
        return await messages.delete_finished(conn, expired_before - RETENTION, batch)


async def delete_finished_deliveries(database: Database, batch: int, expired_before: datetime) -> int:
    """Web hook deliveries delivered or abandoned RETENTION ago, as messages are: their bodies carry
    the flows' and events' personal data (an abandoned one may be retried until then)."""
    deliveries = DeliveryRepository(courier_tables(MetaData()))
    async with database.transaction() as conn:
        return await deliveries.delete_finished(conn, expired_before - RETENTION, batch)


def queues(settings: Any) -> list[DurableQueue]:
    """The messages, the web hooks to call, and, when `webhooks.subscriptions` lists any, the event sink."""
    sinks = event_subscriptions(settings)
    return [CONSUMES, WEBHOOKS, *([event_sink_queue(sinks)] if sinks else [])]


DEFINITION = ServiceDefinition(
    name=NAME,
    migrations=MigrationSet(NAME, Path(__file__).parent / "migrations"),
    routes=[*admin.ROUTES, *webhooks.ROUTES, info_route(NAME)],
    build=build,
    depends_on=(),
    cleanup=lambda _settings: (delete_finished_messages, delete_finished_deliveries),
    queues=queues,
)
