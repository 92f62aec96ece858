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


# A traceback's source lines (the line after `File "…", line N, in f`, and its `^^^` marker) are our
# code, never a runtime value: masking them would turn `code = await f()` into `code = [redacted] f()`.
_FRAME = re.compile(r'^\s*File ".*", line \d+')
_OWN_PACKAGES = ("warden", "services", "shared")
# Kratos's log levels (config.schema.json `log.level`) as Python's.
_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_traceback(text: str) -> str:
    """Masks a formatted traceback's messages and leaves the quoted source lines as they are."""
    lines = text.split("\n")
    source = False
    for index, line in enumerate(lines):
        if _FRAME.match(line):
            source = True
        elif source and line.startswith("    "):
            continue
        else:
            source = False
        lines[index] = redact(line)
    return "\n".join(lines)


class _RedactingFormatter(logging.Formatter):
    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]  # noqa: N802 (logging's name)
        return redact_traceback(super().formatException(ei))


class _JsonFormatter(_RedactingFormatter):
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
            {k: v if k == "stack" else redact(v) if isinstance(v, str) else v for k, v in entry.items()},
            default=lambda o: redact(str(o)),
        )


class _TextFormatter(_RedactingFormatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        rid = request_id.get()
        return redact(super().formatMessage(record) + (f" request_id={rid}" if rid else ""))


def setup_logging(level: str = "info", fmt: str = "json", service: str = "warden") -> None:
    """Configures the root logger once for the process (the CLI calls it; tests need not)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "text":
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # `debug` is for Warden's own loggers; libraries (aiosqlite logs every call) stay at INFO unless
    # `trace` asks for everything.
    wanted = _LEVELS.get(level.lower(), logging.INFO)
    root.setLevel(wanted if level.lower() == "trace" else max(wanted, logging.INFO))
    for own in _OWN_PACKAGES:
        logging.getLogger(own).setLevel(wanted)
    # Libraries that narrate their routine work at INFO (Alembic's "Context impl …").
    for chatty in ("aiohttp.access", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
