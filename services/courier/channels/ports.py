"""The channel port: deliver one message or raise."""

from __future__ import annotations

from typing import Protocol

from services.courier.domain import Message


class Channel(Protocol):
    async def send(self, message: Message) -> None:
        """Returns once the message is delivered (the server took it); raises on any failure."""
        ...


class DeliveryError(Exception):
    """A delivery the other side refused or did not answer; the message is tried again later."""
