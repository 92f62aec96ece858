"""The courier's expected errors."""

from __future__ import annotations

from shared import errors


class MessageNotFound(errors.NotFound):
    def __init__(self) -> None:
        super().__init__("", message="Unable to locate the resource")


class InvalidCommand(Exception):
    """A `courier.message.requested` command that no retry can fix (unknown template type, no
    recipient, …). The consumer raises it so the bus dead-letters the command after its retries,
    where an operator finds it."""


class TemplateError(Exception):
    """A template that cannot be loaded or rendered; at start-up it becomes a ConfigError."""
