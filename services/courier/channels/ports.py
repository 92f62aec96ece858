"""The channel port: deliver one message or raise; `close` lets go of what it keeps open."""

from __future__ import annotations

from typing import Protocol

from services.courier.domain import Message


class Channel(Protocol):
    async def send(self, message: Message) -> None:
        """Returns once the message is delivered (the server took it); raises on any failure."""
        ...

    async def close(self) -> None:
        """The courier is stopping: close kept-open connections (the SMTP sessions)."""
        ...


class DeliveryError(Exception):
    """A delivery the other side refused or did not answer; the message is tried again later."""
