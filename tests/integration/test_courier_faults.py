"""The courier at scale and across outages, on PostgreSQL: two courier processes on one database
never send a message twice, and with RabbitMQ cut off while commands are queued in an outbox,
every message is sent exactly once after it returns."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from services.courier.service import DEFINITION as COURIER
from shared.bus.outbox import Outbox
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from tests.conftest import unique
from tests.factories import running_warden, settings_for
from tests.integration.test_bus_fault import through
from tests.integration.test_courier import command, publish, wait_until
from tests.rabbit import delete_everything
from tests.smtp import SmtpServer, smtp_server  # noqa: F401  (the fixture)
from tests.tcp_proxy import TcpProxy


def settings(directory: Path, dsn: str, smtp: SmtpServer, local_name: str, **extra: Any) -> Any:
    directory.mkdir(exist_ok=True)
    courier = {
        "smtp": {"connection_uri": smtp.uri, "local_name": local_name},
        # Small batches, polled often: the two couriers go for the same messages all the time.
        "worker": {"pull_wait": "10ms", "pull_count": 3},
    }
    return settings_for(directory, dsn, {"courier": courier, **extra})


@pytest.mark.postgres
def test_two_couriers_on_one_database_never_send_a_message_twice(
    tmp_path: Path,
    pg_dsn: str,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    count, rounds = 30, 0
    with (
        running_warden(settings(tmp_path / "a", pg_dsn, smtp_server, "courier-a"), services=[COURIER]) as a,
        running_warden(settings(tmp_path / "b", pg_dsn, smtp_server, "courier-b"), services=[COURIER]) as b,
    ):
        # Rounds of messages until both couriers have sent some (on a loaded machine one can take a
        # whole round): only then has the test seen them compete for the same rows.
        while rounds < 5 and {m.helo for m in smtp_server.messages} != {"courier-a", "courier-b"}:
            envelopes = [command(recipient=f"user{rounds}-{n}@example.com") for n in range(count)]
            # Each process has a bus of its own here: each stores half, and both dispatch from the one table.
            publish(a, *envelopes[::2])
            publish(b, *envelopes[1::2])
            rounds += 1
            smtp_server.wait_for(count * rounds, timeout=20)
        # Give a double send every chance to show itself before counting.
        wait_until(lambda: a.run(_all_sent(a)), timeout=10)

    ids = Counter(smtp_server.message_ids)
    assert len(ids) == count * rounds and set(ids.values()) == {1}, "each message sent exactly once"
    assert {m.helo for m in smtp_server.messages} == {"courier-a", "courier-b"}, "both couriers took part"


async def _all_sent(warden: Any) -> bool:
    runtime = next(r for r in warden.process._runtimes if r.name == "courier")
    async with runtime.container.database.connect() as conn:
        return not await runtime.container.repository.page(
            conn, size=1, after=None, status="queued"
        ) and not await runtime.container.repository.page(conn, size=1, after=None, status="processing")


class LoopThread:
    """An event loop in a thread of its own for the proxy: the test's thread blocks on the Warden."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def proxied_amqp(amqp_vhost: str) -> Iterator[tuple[TcpProxy, LoopThread, str]]:
    loop = LoopThread()
    proxy = TcpProxy(5672)
    loop.run(proxy.start())
    try:
        yield proxy, loop, through(proxy, amqp_vhost)
    finally:
        loop.run(proxy.cut())
        loop.close()


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_every_message_is_sent_once_across_a_broker_outage(
    tmp_path: Path,
    pg_dsn: str,
    smtp_server: SmtpServer,
    amqp_vhost: str,  # noqa: F811
    proxied_amqp: tuple[TcpProxy, LoopThread, str],
) -> None:
    proxy, loop, url = proxied_amqp
    exchange = unique("warden_test")
    config = settings(tmp_path, pg_dsn, smtp_server, "courier", bus={"url": url, "exchange": exchange})
    try:
        with running_warden(config, services=[COURIER]) as warden:
            before = [command(recipient=f"before{n}@example.com") for n in range(5)]
            publish(warden, *before)
            smtp_server.wait_for(5)

            loop.run(proxy.cut())
            wait_until(lambda: not warden.run(warden.process.bus.healthy()))
            # Another service's commands, committed while the broker is away: they wait in its outbox.
            during = [command(recipient=f"during{n}@example.com") for n in range(10)]
            warden.run(_commit_to_outbox(pg_dsn, during))
            loop.run(proxy.start())

            smtp_server.wait_for(15, timeout=30)
            wait_until(lambda: warden.run(warden.process.bus.healthy()))
            wait_until(lambda: warden.run(_all_sent(warden)))
    finally:
        asyncio.run(delete_everything(amqp_vhost, exchange, ["courier.messages"]))

    sent = Counter(r for m in smtp_server.messages for r in m.recipients)
    expected = {e.data["recipient"] for e in before + during}
    assert set(sent) == expected and set(sent.values()) == {1}, "every message exactly once"


async def _commit_to_outbox(dsn: str, envelopes: list[Any]) -> None:
    """Writes the commands the way a service does: in its outbox, in a unit of work (the courier's
    own outbox table stands in for the requesting service's; its relay publishes both alike)."""
    database = Database.from_dsn(dsn)
    factory = UnitOfWorkFactory(database, Outbox(outbox_table(MetaData(), "courier")), "selfservice")
    try:
        for envelope in envelopes:
            async with factory() as uow:
                uow.emit_raw(envelope.type, envelope.data)
                await uow.commit()
    finally:
        await database.dispose()
