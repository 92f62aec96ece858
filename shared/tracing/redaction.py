"""No secret in a span: the same masks as the logs (shared.logging.redact) over every string
attribute a span starts with. The aiohttp server instrumentation records the request's path and
query (`/self-service/verification?code=…`, `?token=…`), which its own redaction does not know."""

from __future__ import annotations

import yarl
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor

from shared.logging import redact


class RedactingSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for key, value in (span.attributes or {}).items():
            if isinstance(value, str) and (masked := redact(value)) != value:
                span.set_attribute(key, masked)


def redacted_url(url: yarl.URL) -> str:
    """The aiohttp client instrumentation's `url_filter`."""
    return redact(str(url))
