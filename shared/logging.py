"""Structured logs: one JSON object a line (or plain text in dev), each with the request id of the
request that caused it. Values that look like secrets are masked before anything is written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Session tokens, bearer credentials, and values assigned to names that hold secrets (quoted values
# are masked up to their closing quote, so a passphrase with spaces goes whole).
_SECRET_NAMES = r"(?:password|passwd|token|secret|code|dsn|input_value|hashed_password)"
_SECRET_PATTERNS = [
    (re.compile(r"ory_[a-z]{2}_[A-Za-z0-9_\-]+"), "ory_**_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1[redacted]"),
    (re.compile(rf"(?i)({_SECRET_NAMES}\w*[\"']?\s*[=:]\s*)([\"'])(?:(?!\2).)*\2"), r"\1\2[redacted]\2"),
    (re.compile(rf"(?i)({_SECRET_NAMES}\w*[\"']?\s*[=:]\s*)(?![\"'])[^\s&,}}\]]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
]
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["stack"] = self.formatException(record.exc_info)
        # Masked before encoding: JSON's escaped quotes would hide `"password": "…"` from the patterns.
        return json.dumps(
            {k: redact(v) if isinstance(v, str) else v for k, v in entry.items()}, default=lambda o: redact(str(o))
        )


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        return redact(super().format(record) + (f" request_id={rid}" if rid else ""))


def setup_logging(level: str = "info", fmt: str = "json", service: str = "warden") -> None:
    """Configures the root logger once for the process (the CLI calls it; tests need not)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "text":
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.lower() != "trace" else "DEBUG")
    # Libraries that narrate their routine work at INFO (Alembic's "Context impl …").
    for chatty in ("aiohttp.access", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
