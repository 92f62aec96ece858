"""Structured logs: one JSON object a line (or plain text in dev), each with the request id of the
request that caused it. Values that can carry secrets are masked before anything is written, unless
`log.leak_sensitive_values` asks for them (Kratos's switch for debugging, off by default). A masked
value reads `log.redaction_text` (Kratos's key; `[redacted]` unless it says otherwise).

The access log writes a line for every request, so formatting is on the hot path: only fields whose
value can come from a request or a user are masked (a cheap test first, the patterns only when it
finds a hint), and lines are encoded with orjson."""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REDACTED = "[redacted]"  # what stands for a masked value when `log.redaction_text` is not set

# Session tokens, bearer credentials, and values assigned to names that hold secrets (quoted values
# are masked up to their closing quote, so a passphrase with spaces goes whole).
_SECRET_NAMES = r"(?:password|passwd|token|secret|code|dsn|input_value|hashed_password)"
# Each replacement's `{}` is where the redaction text goes.
_SECRET_PATTERNS = [
    (re.compile(r"ory_[a-z]{2}_[A-Za-z0-9_\-]+"), "ory_**_{}"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1{}"),
    (re.compile(rf"(?i)({_SECRET_NAMES}\w*[\"']?\s*[=:]\s*)([\"'])(?:(?!\2).)*\2"), r"\1\2{}\2"),
    (re.compile(rf"(?i)({_SECRET_NAMES}\w*[\"']?\s*[=:]\s*)(?![\"'])[^\s&,}}\]]+"), r"\1{}"),
    (re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+@"), r"\1{}@"),
    # PostgreSQL's DETAIL of a constraint error names the row's values (`Key (email)=(a@b.c) already
    # exists`), and asyncpg puts it into the error's text: an identifier or a token's hash.
    (
        re.compile(r"(?i)(key \([^)]*\)=\().*?(\) (?:already exists|is not present|is still referenced|conflicts))"),
        r"\1{}\2",
    ),
]
# Every pattern above needs one of these words in the lower-cased text: a text without any is left
# as it is after one quick search (most log lines, the access log's among them).
_HINT = re.compile(r"ory_|bearer|passw|token|secret|code|dsn|input_value|://|key \(")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Fields whose values Warden makes itself, never a request or a user: written without masking.
_OWN_VALUES = frozenset({"time", "level", "service", "logger", "port", "status", "duration_ms", "trace_id", "span_id"})
# What a JSON line takes from the context of the code that logs, by field name. Each getter answers
# None when it has nothing to add; tracing adds its ids the same way.
ContextFields = Mapping[str, Callable[[], object]]
DEFAULT_CONTEXT: ContextFields = {"request_id": request_id.get}

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


def redact(text: str, redaction: str = REDACTED) -> str:
    """`text` with every value that looks like a secret replaced by `redaction`."""
    if _HINT.search(text.lower()) is None:
        return text
    for pattern, replacement in _replacements(redaction):
        text = pattern.sub(replacement, text)
    return text


@functools.cache
def _replacements(redaction: str) -> list[tuple[re.Pattern[str], str]]:
    """The patterns with `redaction` in their replacements, escaped: `re.sub` reads backslashes there."""
    escaped = redaction.replace("\\", "\\\\")
    return [(pattern, template.format(escaped)) for pattern, template in _SECRET_PATTERNS]


def redact_traceback(text: str, redaction: str = REDACTED) -> str:
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
        lines[index] = redact(line, redaction)
    return "\n".join(lines)


def _masked(value: object, redaction: str) -> object:
    """A field's value with every string in it masked; what JSON cannot hold becomes masked text."""
    if isinstance(value, str):
        return redact(value, redaction)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _masked(v, redaction) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(v, redaction) for v in value]
    return redact(str(value), redaction)


def _encode(entry: dict[str, Any]) -> str:
    try:
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson refuses (an integer past 64 bits): the standard library takes it
        return json.dumps(entry, default=str)


class _Timestamps:
    """RFC 3339 times in UTC with microseconds, the date and time part formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((created - second) * 1e6):06d}+00:00"


class _RedactingFormatter(logging.Formatter):
    def __init__(
        self, fmt: str | None = None, *, leak_sensitive_values: bool = False, redaction_text: str = REDACTED
    ) -> None:
        super().__init__(fmt)
        self._mask = not leak_sensitive_values
        self._redaction = redaction_text or REDACTED  # an empty `log.redaction_text` is none, as in Kratos

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]  # noqa: N802 (logging's name)
        text = super().formatException(ei)
        return redact_traceback(text, self._redaction) if self._mask else text


class _JsonFormatter(_RedactingFormatter):
    def __init__(
        self,
        service: str,
        *,
        leak_sensitive_values: bool = False,
        redaction_text: str = REDACTED,
        context: ContextFields = DEFAULT_CONTEXT,
    ) -> None:
        super().__init__(leak_sensitive_values=leak_sensitive_values, redaction_text=redaction_text)
        self._service = service
        self._context = tuple(context.items())
        self._time = _Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        extra = ((name, record.__dict__[name]) for name in record.__dict__.keys() - _STANDARD)
        stack = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(record.created, record.levelname, record.name, record.getMessage(), extra, stack)

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: Iterable[tuple[str, object]],
        stack: str | None = None,
    ) -> str:
        """One JSON line (`format`'s, and `LineLogger`'s without a LogRecord)."""
        # Masked before encoding: JSON's escaped quotes would hide `"password": "…"` from the patterns.
        mask, redaction = self._mask, self._redaction
        entry: dict[str, Any] = {
            "time": self._time(created),
            "level": level.lower(),
            "service": self._service,
            "logger": logger,
            "msg": redact(message, redaction) if mask else message,
        }
        for name, get in self._context:
            if (value := get()) is not None:
                entry[name] = _masked(value, redaction) if mask and name not in _OWN_VALUES else value
        for name, value in fields:
            entry[name] = _masked(value, redaction) if mask and name not in _OWN_VALUES else value
        if stack is not None:
            entry["stack"] = stack
        return _encode(entry)


# A line break in a value (a request path's `%0A`) would start what reads as a line of its own.
_LINE_BREAKS = str.maketrans({"\n": "\\n", "\r": "\\r"})


class _TextFormatter(_RedactingFormatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The record's one line: line breaks in it are written as `\\n` and `\\r`, so that no
        value a client sent can forge another record (a traceback still follows on lines of its own)."""
        rid = request_id.get()
        line = (super().formatMessage(record) + (f" request_id={rid}" if rid else "")).translate(_LINE_BREAKS)
        return redact(line, self._redaction) if self._mask else line


class LineLogger:
    """`logger.info(msg, *args, extra=fields)` for a line written on every request (the access log),
    at a fraction of the cost. Where the line would reach only Warden's own JSON handler (as
    `setup_logging` configures every process: no filter, no other handler), it is formatted and
    queued there directly, the same line `logger.info` writes, without a LogRecord and the five
    calls that carry one. Anywhere else (a test's capturing handler, an operator's own), the record
    is a copy of one made once, with the time, message and fields filled in, instead of a new
    LogRecord that reads the clock, thread, process and caller each time: it goes through the
    logger's filters and handlers as any record does (the thread and process fields are those of the
    thread that made the template: the event loop's)."""

    def __init__(self, logger: logging.Logger, level: int = logging.INFO) -> None:
        self._logger = logger
        self._level = level
        self._level_name = logging.getLevelName(level)
        template = logger.makeRecord(logger.name, level, "", 0, "", (), None)
        self._template = vars(template)
        self._start = template.created - template.relativeCreated / 1000

    def __call__(self, msg: str, args: tuple[object, ...], fields: dict[str, object]) -> None:
        logger = self._logger
        if not logger.isEnabledFor(self._level):
            return
        now = time.time()
        handler = self._only_handler()
        if handler is not None:
            formatter: _JsonFormatter = handler.formatter  # type: ignore[assignment]
            try:
                handler.queue(formatter.line(now, self._level_name, logger.name, msg % args, fields.items()))
                return
            except Exception:  # logging's own path reports it as it reports any failing record
                pass
        record = logging.LogRecord.__new__(logging.LogRecord)
        values = record.__dict__
        values.update(self._template)
        values.update(fields)
        values["msg"], values["args"], values["created"] = msg, args, now
        values["msecs"], values["relativeCreated"] = (now - int(now)) * 1000, (now - self._start) * 1000
        logger.handle(record)

    def _only_handler(self) -> BatchingStreamHandler | None:
        """The one handler the line would reach, if it is a JSON BatchingStreamHandler that filters
        nothing: the direct path writes exactly what logging would."""
        found: list[logging.Handler] = []
        logger: logging.Logger | None = self._logger
        while logger is not None:
            if logger.filters or logger.disabled:
                return None
            found += logger.handlers
            if not logger.propagate:
                break
            logger = logger.parent
        if len(found) != 1:
            return None
        handler = found[0]
        if (
            type(handler) is not BatchingStreamHandler
            or handler.filters
            or self._level < handler.level
            or type(handler.formatter) is not _JsonFormatter
        ):
            return None
        return handler


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines in batches: the access log writes a line per request, and a write (a system call)
    per line cost whoami about 20 us of CPU. A line at WARNING or above is written at once, after the
    lines before it; others wait until `limit` characters are pending or at most `interval` seconds
    (a daemon thread flushes them). logging's shutdown at exit flushes what is left."""

    def __init__(self, stream: Any, interval: float = 0.2, limit: int = 64 * 1024) -> None:
        super().__init__(stream)
        self._interval = interval
        self._limit = limit
        self._pending: list[str] = []
        self._size = 0
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:  # called with the handler's lock held
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._queue(line, record.levelno)

    def _queue(self, line: str, levelno: int) -> None:
        self._pending.append(line)
        self._size += len(line)
        if levelno >= logging.WARNING or self._size >= self._limit:
            self._write()
        elif not self._due.is_set():
            self._due.set()
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_when_due, name="log-flusher", daemon=True)
                self._flusher.start()

    def queue(self, line: str, levelno: int = logging.INFO) -> None:
        """A line formatted already (LineLogger's), queued as `emit` queues a record's."""
        with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
            self._queue(line + self.terminator, levelno)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        if self._pending:
            batch, self._pending, self._size = "".join(self._pending), [], 0
            try:
                self.stream.write(batch)
                self.stream.flush()
            except Exception:  # a closed or broken stream: logging must not take the process down
                pass

    def _flush_when_due(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self._interval)
            with self.lock:  # type: ignore[union-attr]
                self._due.clear()
                self._write()


def flush_logs() -> None:
    """Writes what the root logger's handlers hold (before printing to the same stream)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


class _LibraryValuesHidden(logging.Filter):
    """Libraries log what they carry at DEBUG, which only `trace` lets through:
    - aiosqlite each call it runs for SQLAlchemy with its arguments (`executing
      functools.partial(<execute>, 'INSERT INTO courier_messages …', ('…Use code 123456…', …))`): the
      bound values are one-time codes, TOTP secrets, backup codes and traits;
    - aiormq each frame it sends (`Prepare to send ChannelFrame(payload=b'…')`): a courier command's
      body holds the code it mails and the address it goes to.
    Both sit in objects the patterns of `redact` cannot read. The statement stays, and a frame's size;
    the values go, unless `log.leak_sensitive_values` asks for them."""

    def __init__(self, redaction: str = REDACTED) -> None:
        super().__init__()
        self._redaction = redaction

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_carries_values(a) for a in record.args):
            record.args = tuple(_without_values(a, self._redaction) for a in record.args)
        return True


class _Summary(str):
    """What stands in for a value: the same text under `%s` and `%r` (no quotes added)."""

    def __repr__(self) -> str:
        return str(self)


def _carries_values(value: object) -> bool:
    return isinstance(value, functools.partial) or isinstance(getattr(value, "payload", None), bytes)


def _without_values(value: object, redaction: str) -> object:
    payload = getattr(value, "payload", None)
    if isinstance(payload, bytes):
        return _Summary(f"{type(value).__name__}({len(payload)} bytes, {redaction})")
    if not isinstance(value, functools.partial):
        return value
    name = getattr(value.func, "__name__", type(value.func).__name__)
    statement = next((a for a in value.args if isinstance(a, str)), None)
    hidden = len(value.args) > (statement is not None) or bool(value.keywords)
    shown = [repr(statement)] if statement is not None else []
    return _Summary(f"{name}({', '.join([*shown, redaction] if hidden else shown)})")


# Libraries whose debug lines carry the values Warden stores or sends (only `trace` lets them through).
_VALUE_LOGGING_LIBRARIES = ("aiosqlite", "aiormq.connection")  # a logger's filter sees its own records only


def setup_logging(
    level: str = "info",
    fmt: str = "json",
    service: str = "warden",
    *,
    leak_sensitive_values: bool = False,
    redaction_text: str = "",
    context: ContextFields = DEFAULT_CONTEXT,
) -> None:
    """Configures the root logger once for the process (the CLI calls it; tests need not).
    `redaction_text`: `log.redaction_text` ("" for Warden's `[redacted]`).
    `context`: the fields JSON lines take from the logging code's context (shared.tracing.logs)."""
    redaction = redaction_text or REDACTED
    handler = BatchingStreamHandler(sys.stderr)
    leak = leak_sensitive_values
    if fmt == "text":
        text_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
        handler.setFormatter(_TextFormatter(text_format, leak_sensitive_values=leak, redaction_text=redaction))
    else:
        handler.setFormatter(
            _JsonFormatter(service, leak_sensitive_values=leak, redaction_text=redaction, context=context)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # `debug` is for Warden's own loggers; libraries (aiosqlite logs every call) stay at INFO unless
    # `trace` asks for everything.
    wanted = _LEVELS.get(level.lower(), logging.INFO)
    root.setLevel(wanted if level.lower() == "trace" else max(wanted, logging.INFO))
    for own in _OWN_PACKAGES:
        logging.getLogger(own).setLevel(wanted)
    for library in _VALUE_LOGGING_LIBRARIES:
        logger = logging.getLogger(library)
        for earlier in [f for f in logger.filters if isinstance(f, _LibraryValuesHidden)]:
            logger.removeFilter(earlier)
        if not leak_sensitive_values:
            logger.addFilter(_LibraryValuesHidden(redaction))
    # Libraries that narrate their routine work at INFO (Alembic's "Context impl …").
    for chatty in ("aiohttp.access", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
