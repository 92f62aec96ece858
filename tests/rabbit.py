"""RabbitMQ housekeeping for tests that declare things on the shared broker."""

from __future__ import annotations

from collections.abc import Sequence

import aio_pika


async def delete_everything(url: str, exchange: str, queues: Sequence[str]) -> None:
    """Removes what a RabbitMqBus on `exchange` declared for `queues`, so tests leave no trace."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(f"{exchange}.{queue}")
            await channel.queue_delete(f"{exchange}.{queue}.dlq")
        await channel.exchange_delete(exchange)
        await channel.exchange_delete(f"{exchange}.dlx")
    finally:
        await connection.close()
