"""Kratos-style attributes and events on the span of the request at hand (Kratos's `x/events`:
`FlowType`, `SelfServiceFlowType`, `SelfServiceMethodUsed`, `identity.id`; events `IdentityCreated`,
`SessionIssued`). Ids and kinds only: never a secret, code, password, token or cookie. With tracing
off, or in an unsampled trace, the span does not record and this costs one lookup."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace


def annotate(attributes: Mapping[str, str]) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)


def event(name: str, attributes: Mapping[str, str]) -> None:
    """A Kratos event on the current span; its attributes go on the span too, to search by."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)
        span.add_event(name, attributes)
