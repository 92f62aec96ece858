"""With nowhere configured to deliver to, messages go to the log and to a folder (`<id>.eml`, or
`<id>.sms.txt`) and count as sent: the development setup works with no mail server at all.

The log line names the recipient and the template type at INFO; the body, which holds codes and
links, is logged at DEBUG and only when `log.leak_sensitive_values` is true."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from services.courier.channels.mime import build_email
from services.courier.config import Sender
from services.courier.domain import EMAIL, Message

log = logging.getLogger(__name__)


class FolderSink:
    def __init__(self, folder: Path, sender: Sender, *, leak_sensitive_values: bool) -> None:
        self._folder = folder
        self._sender = sender
        self._leak = leak_sensitive_values

    async def close(self) -> None:
        """Nothing is kept open."""

    async def send(self, message: Message) -> None:
        if message.channel == EMAIL:
            name, data = f"{message.id}.eml", bytes(build_email(message, self._sender))
        else:
            name, data = f"{message.id}.sms.txt", f"To: {message.recipient}\n\n{message.body}".encode()
        path = await asyncio.to_thread(_write, self._folder / name, data)
        log.info(
            "courier: %s message to %s written to %s (no delivery configured)",
            message.template_type,
            message.recipient,
            path,
            extra={"message_id": message.id, "channel": message.channel},
        )
        if self._leak:
            log.debug("courier: message body", extra={"message_id": message.id, "body": message.body})


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)  # readers never see half a message
    return path
