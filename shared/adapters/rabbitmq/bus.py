"""The bus on RabbitMQ: one durable topic exchange, a durable quorum queue per subscription.

Bounded redelivery is the quorum queue's own: a handler that raises is answered with
`nack(requeue=True)`, the queue counts the returns and, past `x-delivery-limit`, dead-letters the
message to `<exchange>.dlx`, which routes it to `<exchange>.<queue>.dlq`. The robust connection
re-declares the exchange, queues and bindings and re-consumes after a connection loss.

Every consumer's durable queue is also declared on the publishing channel (`declare`), which
restores its exchanges, queues and bindings after a reconnection before it publishes again: a
message is never published to a broker that has no queue for it yet (RabbitMQ confirms a message
it routed nowhere, and the outbox would then delete it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from functools import partial

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)
from aio_pika.exceptions import (
    CONNECTION_EXCEPTIONS,
    AMQPConnectionError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
)

from shared.bus.envelope import Envelope
from shared.bus.outage import handled_through_outages
from shared.bus.ports import BusObserver, DurableQueue, Subscription, Unobserved
from shared.errors import BusUnavailable, ConfigError

log = logging.getLogger(__name__)

# Everything a broken or missing connection can raise, plus our own deadline.
_UNAVAILABLE = (*CONNECTION_EXCEPTIONS, TimeoutError)
# What says the connection itself went (not a channel error such as a queue declared with other
# arguments, which asking again would not mend).
_CONNECTION_LOST = (AMQPConnectionError, ConnectionError, ChannelInvalidStateError)
# How long a subscription waits for a connection that the broker closed to come back.
SUBSCRIBE_PATIENCE = 30.0


class RabbitMqBus:
    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        prefetch: int = 16,
        timeout: float = 5.0,
        observer: BusObserver | None = None,
    ) -> None:
        # `url` may carry aio-pika's options, e.g. `?reconnect_interval=1` (5 s by default).
        self._url = url
        self._exchange_name = exchange
        self._prefetch = prefetch
        self._timeout = timeout
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._in_flight: set[asyncio.Task[object]] = set()
        self._observer = observer or Unobserved()

    def queue_name(self, queue: str) -> str:
        return f"{self._exchange_name}.{queue}"

    async def connect(self) -> None:
        if self._connection is not None:
            return
        try:
            self._connection = await aio_pika.connect_robust(self._url, timeout=self._timeout)
            self._publish_channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._declare_exchange(self._publish_channel)
        except _UNAVAILABLE as exc:
            await self.close()
            raise BusUnavailable(f"cannot reach RabbitMQ: {exc!r}") from exc

    async def declare(self, queues: Sequence[DurableQueue], max_deliveries: int) -> None:
        channel, exchange = self._publish_channel, self._exchange
        if channel is None or exchange is None:
            raise BusUnavailable("the RabbitMQ bus is not connected")
        try:
            for queue in queues:
                declared = await self._durable_queue(channel, self.queue_name(queue.name), max_deliveries)
                for routing_key in queue.routing_keys:
                    await declared.bind(exchange, routing_key=routing_key)
        except ChannelPreconditionFailed as exc:
            # A quorum queue's delivery limit is fixed when it is made, and nothing but deleting it
            # changes it: say which setting and what to do instead of failing on the broker's words.
            raise ConfigError(
                f"bus.max_deliveries: RabbitMQ has queues made with another value ({exc.args[0] if exc.args else exc}); "
                "set it back, or delete those queues once they are empty and start again"
            ) from exc
        except _UNAVAILABLE as exc:
            raise BusUnavailable(f"cannot declare the queues on RabbitMQ: {exc!r}") from exc

    async def publish(self, envelope: Envelope) -> None:
        connection, channel, exchange = self._connection, self._publish_channel, self._exchange
        if connection is None or channel is None or exchange is None:
            raise BusUnavailable("the RabbitMQ bus is not connected")
        if not connection.connected.is_set():
            raise BusUnavailable("the RabbitMQ connection is down, reconnecting")
        message = aio_pika.Message(
            envelope.to_json(),
            message_id=envelope.id,
            type=envelope.type,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=envelope.occurred_at,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await channel.ready()  # the robust channel may still be re-opening after a reconnect
                # mandatory=False: an event nobody subscribes to yet is not an error.
                await exchange.publish(message, routing_key=envelope.routing_key, mandatory=False)
        except _UNAVAILABLE as exc:
            raise BusUnavailable(f"RabbitMQ did not confirm {envelope.type} {envelope.id}: {exc!r}") from exc
        except asyncio.CancelledError as exc:
            # aiormq cancels pending confirms when the connection drops; only our caller's
            # cancellation is a real one.
            if _really_cancelled():
                raise
            raise BusUnavailable(f"RabbitMQ connection lost before confirming {envelope.id}") from exc
        self._observer.published(envelope)

    async def subscribe(self, subscription: Subscription) -> None:
        """Declares `subscription`'s queue and consumes from it. RabbitMQ may answer a declaration or a
        `basic.consume` by closing the whole connection (541 INTERNAL_ERROR when a new quorum queue
        is not ready yet). The robust connection comes back, but it restores only consumers that were
        registered, so this one is asked for again once it is back, for up to `SUBSCRIBE_PATIENCE`."""
        connection = self._require_connection()
        try:
            async with asyncio.timeout(SUBSCRIBE_PATIENCE):
                while True:
                    channel = None
                    try:
                        channel = await connection.channel(publisher_confirms=False)
                        await self._declare_and_consume(channel, subscription)
                        return
                    except _CONNECTION_LOST as exc:
                        log.warning(
                            "RabbitMQ closed the connection while subscribing %s: %r; subscribing "
                            "again once it reconnects",
                            subscription.queue,
                            exc,
                        )
                    if channel is not None:
                        with contextlib.suppress(*_UNAVAILABLE):
                            await channel.close()
                    await asyncio.sleep(0.1)  # the connection's close callbacks clear `connected` first
                    await connection.connected.wait()
        except TimeoutError as exc:
            raise BusUnavailable(f"could not subscribe {subscription.queue} within {SUBSCRIBE_PATIENCE:g}s") from exc

    async def _declare_and_consume(self, channel: AbstractRobustChannel, subscription: Subscription) -> None:
        name = self.queue_name(subscription.queue)
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await self._declare_exchange(channel)
        if subscription.transient:
            # Exclusive and auto-deleted: gone with this connection, nothing piles up for nobody.
            transient = await channel.declare_queue(name, durable=False, exclusive=True, auto_delete=True)
            await self._bind_and_consume(transient, exchange, subscription)
            return
        await self._bind_and_consume(
            await self._durable_queue(channel, name, subscription.max_deliveries), exchange, subscription
        )

    async def _durable_queue(self, channel: AbstractRobustChannel, name: str, max_deliveries: int) -> AbstractQueue:
        """A quorum queue with its dead-letter queue, declared the same way by its consumer and by
        every publisher (`declare`): a declaration with other arguments would be refused."""
        dead_letter_exchange = await channel.declare_exchange(
            f"{self._exchange_name}.dlx", aio_pika.ExchangeType.DIRECT, durable=True
        )
        dead_letter_queue = await channel.declare_queue(f"{name}.dlq", durable=True)
        await dead_letter_queue.bind(dead_letter_exchange, routing_key=name)
        return await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                # The limit counts returns (redeliveries), not deliveries: the first delivery is free.
                "x-delivery-limit": max_deliveries - 1,
                "x-dead-letter-exchange": dead_letter_exchange.name,
                "x-dead-letter-routing-key": name,
            },
        )

    async def _bind_and_consume(
        self, queue: AbstractQueue, exchange: AbstractRobustExchange, subscription: Subscription
    ) -> None:
        for routing_key in subscription.routing_keys:
            await queue.bind(exchange, routing_key=routing_key)
        tag = await queue.consume(partial(self._deliver, subscription))
        self._consumers.append((queue, tag))
        self._observer.subscribed(subscription.observed_as)

    async def _deliver(self, subscription: Subscription, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        observed = subscription.observed_as
        earlier_failures = int(str((message.headers or {}).get("x-delivery-count") or 0))
        if earlier_failures or message.redelivered:
            self._observer.redelivered(observed)
        try:
            try:
                envelope = Envelope.from_json(message.body)
            except (ValueError, KeyError, TypeError):
                log.error("undecodable message dead-lettered", extra={"message_id": message.message_id})
                await _settle(message.reject(requeue=False))
                if not subscription.transient:
                    self._observer.dead_lettered(observed)
                return
            try:
                await handled_through_outages(subscription, envelope)
            except Exception:
                log.exception("handler failed", extra={"queue": subscription.queue, "event_id": envelope.id})
                self._observer.consumed(observed, ok=False)
                if subscription.transient:
                    await _settle(message.reject(requeue=False))  # a live feed: dropped, never retried
                    return
                await asyncio.sleep(subscription.retry_delay(earlier_failures + 1))
                await _settle(message.nack(requeue=True))
                if earlier_failures + 1 >= subscription.max_deliveries:  # past x-delivery-limit: the broker
                    self._observer.dead_lettered(observed)  # routes it to the dead-letter queue
            else:
                await _settle(message.ack())
                self._observer.consumed(observed, ok=True)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def dead_letters(self, queue: str) -> list[Envelope]:
        connection = self._require_connection()
        channel = await connection.channel(publisher_confirms=False)
        found: list[Envelope] = []
        try:
            try:
                dlq = await channel.declare_queue(f"{self.queue_name(queue)}.dlq", passive=True, robust=False)
            except ChannelNotFoundEntity:
                return found
            while (message := await dlq.get(fail=False, timeout=self._timeout)) is not None:
                try:
                    found.append(Envelope.from_json(message.body))
                except (ValueError, KeyError, TypeError):
                    log.error("undecodable dead letter dropped: %r", message.body[:200])
                await message.ack()
            return found
        finally:
            with contextlib.suppress(*_UNAVAILABLE):
                await channel.close()

    async def healthy(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._publish_channel = self._exchange = None
        consumers, self._consumers = self._consumers, []
        if connection is None:
            return
        if connection.connected.is_set():
            for queue, tag in consumers:
                with contextlib.suppress(*_UNAVAILABLE):
                    async with asyncio.timeout(self._timeout):
                        await queue.cancel(tag)
            # Let handlers already running finish and ack rather than be cancelled mid-way.
            if self._in_flight:
                await asyncio.wait(set(self._in_flight), timeout=self._timeout)
        with contextlib.suppress(*_UNAVAILABLE):
            await connection.close()

    def _require_connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise BusUnavailable("the RabbitMQ bus is not connected")
        return self._connection

    async def _declare_exchange(self, channel: AbstractRobustChannel) -> AbstractRobustExchange:
        return await channel.declare_exchange(self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)


async def _settle(settlement: Awaitable[None]) -> None:
    """Acks and nacks on a channel that has since died are moot: the broker redelivers anyway."""
    try:
        await settlement
    except _UNAVAILABLE as exc:
        log.warning("could not settle a message, the broker will redeliver it: %r", exc)


def _really_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
