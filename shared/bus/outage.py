"""Which handler failures are an outage of something the handler needs, not a fault of the event.

A consumer whose database, broker, cache or fellow service is down fails every event it is handed.
Counted against the events' delivery budget, a restart of a few seconds would dead-letter them all
(a verification mail never sent), and an operator would have to move them back by hand. An outage
instead pauses the consumer: the adapters hold the message and try its handler again, waiting
longer each time, until what it needs is back; only a failure of the event itself (a bug, bad
data) uses up its deliveries and ends in the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import exc as sa_exc

from shared.bus.envelope import Envelope
from shared.bus.ports import Subscription
from shared.errors import BusUnavailable, CacheUnavailable, ServiceUnavailable

log = logging.getLogger(__name__)

OUTAGES: tuple[type[BaseException], ...] = (
    ServiceUnavailable,  # another service (its internal API), or an overloaded one (503)
    BusUnavailable,
    CacheUnavailable,
    sa_exc.OperationalError,  # the database refused or dropped the connection
    sa_exc.InterfaceError,  # the connection was closed under the statement
    sa_exc.TimeoutError,  # no database connection free in time
    ConnectionError,
    TimeoutError,
)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGES)


async def handled_through_outages(subscription: Subscription, envelope: Envelope) -> None:
    """The subscription's handler on `envelope`, run again while it fails for an outage (waiting
    `retry_delay`, growing, between runs); any other failure is raised, to be counted. A transient
    subscription's live feed is never held up: its failures are raised at once."""
    attempt = 0
    while True:
        try:
            await subscription.handler(envelope)
            return
        except Exception as error:
            if subscription.transient or not is_outage(error):
                raise
            attempt += 1
            if attempt == 1 or attempt % 20 == 0:
                log.warning(
                    "handler paused by an outage, trying again: %r",
                    error,
                    extra={"queue": subscription.queue, "event_id": envelope.id, "attempt": attempt},
                )
            await asyncio.sleep(subscription.retry_delay(attempt))
