"""The bus port: publish envelopes to a topic exchange, consume them from durable queues.

Semantics every adapter keeps (and `tests/contract/test_bus.py` checks):
- `publish` returns only once the broker has taken the message (publisher confirm); otherwise it
  raises `BusUnavailable` and the caller (the outbox relay) tries again later.
- A subscription is a named, durable queue bound to routing-key patterns (`*` one word, `#` any).
  Two subscriptions with the same queue name share the work; different names each get a copy.
- A durable queue exists from the moment any process declares it (`declare`), whether or not its
  consumer is running: every process declares every consumer's queue before it publishes, and
  again after each reconnection, so an event published before its consumer is up (a first deploy,
  a broker that came back empty) waits in its queue instead of being routed nowhere.
- A `transient` subscription is a queue of this process alone: it lives as long as the process's
  connection, is deleted with it, has no dead-letter queue, and a message whose handler fails is
  dropped (for live feeds, such as revocations to gRPC watchers, where a copy per process matters
  and a backlog does not).
- A message is acknowledged after its handler returns. A handler that raises gets the message again,
  at most `max_deliveries` times in all; then it goes to the queue's dead-letter queue. Each retry
  waits a little longer (`retry_delay`). A failure that is an outage of what the handler needs
  (shared/bus/outage.py: its database, the broker, the cache, another service) uses up nothing:
  the handler is run again, waiting longer each time, until it is back.
- An adapter tells its `BusObserver` (metrics) what it publishes, each delivery's outcome, each
  redelivery and each message it dead-letters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.bus.envelope import Envelope

Handler = Callable[[Envelope], Awaitable[None]]

DEFAULT_MAX_DELIVERIES = 5
MAX_RETRY_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class DurableQueue:
    """A consumer's durable queue and the routing-key patterns bound to it: what a subscription
    reads, known without its handler, so that every process can declare it (`Bus.declare`)."""

    name: str
    routing_keys: tuple[str, ...]


@dataclass(frozen=True)
class Subscription:
    queue: str
    routing_keys: Sequence[str]
    handler: Handler
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    retry_base_seconds: float = 0.2
    transient: bool = False

    @property
    def observed_as(self) -> str:
        """The queue's name in metrics: a transient queue's is new in every process, so its series
        go under one name instead of a new one per process."""
        return "transient" if self.transient else self.queue

    @classmethod
    def of(cls, queue: DurableQueue, handler: Handler, max_deliveries: int = DEFAULT_MAX_DELIVERIES) -> Subscription:
        return cls(queue.name, queue.routing_keys, handler, max_deliveries)

    def retry_delay(self, failed_deliveries: int) -> float:
        """Seconds to wait before handing back a message that has failed this many times."""
        return float(min(self.retry_base_seconds * 2 ** max(0, failed_deliveries - 1), MAX_RETRY_DELAY_SECONDS))


class BusObserver(Protocol):
    """Told what happens on the bus (for metrics): adapters call it, it never raises."""

    def subscribed(self, queue: str) -> None: ...

    def published(self, envelope: Envelope) -> None: ...

    def consumed(self, queue: str, ok: bool) -> None: ...

    def redelivered(self, queue: str) -> None: ...

    def dead_lettered(self, queue: str) -> None: ...


class Unobserved:
    """The observer of a bus nobody measures (tests, tools)."""

    def subscribed(self, queue: str) -> None:
        pass

    def published(self, envelope: Envelope) -> None:
        pass

    def consumed(self, queue: str, ok: bool) -> None:
        pass

    def redelivered(self, queue: str) -> None:
        pass

    def dead_lettered(self, queue: str) -> None:
        pass


class Publisher(Protocol):
    async def publish(self, envelope: Envelope) -> None: ...


class Bus(Publisher, Protocol):
    async def connect(self) -> None: ...

    async def declare(self, queues: Sequence[DurableQueue], max_deliveries: int) -> None:
        """Makes these queues and their bindings exist, now and after every reconnection, before
        anything more is published (a process declares them all once connected)."""
        ...

    async def subscribe(self, subscription: Subscription) -> None: ...

    async def dead_letters(self, queue: str) -> list[Envelope]:
        """Drain and return what was dead-lettered from `queue` (operators and tests)."""
        ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: words split on '.', '*' is exactly one word, '#' zero or more."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
