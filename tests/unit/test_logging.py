"""Structured logs carry the request id and never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import aiosqlite
import pytest
from opentelemetry.sdk.trace import TracerProvider

from shared.logging import (
    DEFAULT_CONTEXT,
    BatchingStreamHandler,
    LineLogger,
    _JsonFormatter,
    _TextFormatter,
    flush_logs,
    request_id,
    setup_logging,
)
from shared.tracing.logs import TRACE_FIELDS
from tests.conftest import AMQP_URL, require_server
from tests.factories import settings_for


def _render(message: str, *args: object, leak: bool = False, **extra: object) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter("identity", leak_sensitive_values=leak))
    logger = logging.getLogger("test.structured")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(message, *args, extra=extra)
    return json.loads(stream.getvalue())


def test_json_line_has_service_level_and_request_id() -> None:
    token = request_id.set("req-42")
    try:
        entry = _render("identity %s created", "abc", identity_id="abc")
    finally:
        request_id.reset(token)
    assert entry["service"] == "identity"
    assert entry["level"] == "warning"
    assert entry["msg"] == "identity abc created"
    assert entry["request_id"] == "req-42"
    assert entry["identity_id"] == "abc"


def test_secrets_in_messages_and_fields_are_masked() -> None:
    entry = _render("issued %s", "ory_st_4n0th3rS3cr3t", dsn="postgres://warden:pa55w0rd@db:5432/warden")
    line = json.dumps(entry)
    assert "4n0th3rS3cr3t" not in line
    assert "pa55w0rd" not in line


def test_json_quoted_and_spaced_secrets_are_masked_whole() -> None:
    entry = _render('body {"password": "correct horse battery"} {"RecoveryCode": "123456"} input_value=\'hunter2\'')
    line = json.dumps(entry)
    for secret in ("correct horse battery", "horse", "battery", "123456", "hunter2"):
        assert secret not in line


def test_secrets_nested_in_structured_fields_are_masked() -> None:
    entry = _render(
        "webhook answered",
        body={"traits": {"email": "a@example.com"}, "password": "password=hunter2", "tokens": ["ory_st_s3cr3tv4lue"]},
        url=ValueError("https://warden:pa55w0rd@db/x"),
    )
    line = json.dumps(entry)
    for secret in ("hunter2", "s3cr3tv4lue", "pa55w0rd"):
        assert secret not in line
    assert entry["body"]["traits"] == {"email": "a@example.com"}  # the structure is kept, only secrets go


def test_access_log_fields_keep_their_types() -> None:
    entry = _render("GET /sessions/whoami 200", port="public", status=200, duration_ms=1.25)
    assert entry["msg"] == "GET /sessions/whoami 200"
    assert (entry["port"], entry["status"], entry["duration_ms"]) == ("public", 200, 1.25)
    assert entry["time"].endswith("+00:00")


def test_leak_sensitive_values_writes_values_as_they_are() -> None:
    """Kratos's `log.leak_sensitive_values`: an operator debugging asks for the values themselves."""
    entry = _render("issued %s", "ory_st_4n0th3rS3cr3t", leak=True, body="password=hunter2")
    assert entry["msg"] == "issued ory_st_4n0th3rS3cr3t"
    assert entry["body"] == "password=hunter2"


def test_extra_context_fields_join_every_line() -> None:
    """Fields taken from the logging code's context (tracing adds its ids this way)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter("session", context={**DEFAULT_CONTEXT, "trace_id": lambda: "4bf92f35"}))
    logger = logging.getLogger("test.context")
    logger.handlers[:] = [handler]
    logger.propagate = False
    token = request_id.set("req-7")
    try:
        logger.warning("hello")
    finally:
        request_id.reset(token)
    entry = json.loads(stream.getvalue())
    assert (entry["request_id"], entry["trace_id"]) == ("req-7", "4bf92f35")


def _traceback_of_a_failing_call() -> BaseException:
    async def _prepare(value: str) -> str:
        raise ValueError(f"bad password={value}")

    async def caller() -> str:
        code = await _prepare("hun" + "ter2")  # the value never appears as one word in the source
        return code

    try:
        asyncio.run(caller())
    except ValueError as error:
        return error
    raise AssertionError("the call did not fail")


def test_redaction_masks_values_in_tracebacks_but_not_source_lines() -> None:
    error = _traceback_of_a_failing_call()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.tracebacks")
    logger.handlers[:] = [handler]
    logger.propagate = False
    for formatter in (_JsonFormatter("identity"), _TextFormatter("%(message)s")):
        handler.setFormatter(formatter)
        logger.error("failed", exc_info=error)
    json_line, text = stream.getvalue().split("\n", 1)
    for stack in (json.loads(json_line)["stack"], text):
        assert "code = await _prepare(" in stack  # the source line as written
        assert 'raise ValueError(f"bad password={value}")' in stack
        assert "hunter2" not in stack  # the value in the exception message is masked
        assert "ValueError: bad password=[redacted]" in stack


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in ("warden", "services", "shared")})
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


async def _sqlite_round_trip(path: Path) -> None:
    async with aiosqlite.connect(path) as db:
        await db.execute("CREATE TABLE t (x)")
        await db.execute("INSERT INTO t VALUES (1)")
        await db.commit()


@pytest.mark.parametrize(("level", "library_lines"), [("debug", False), ("trace", True)])
def test_debug_logs_warden_not_library_chatter_which_only_trace_shows(
    level: str, library_lines: bool, restored_logging: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stream = io.StringIO()  # ours, so aiosqlite's thread can still log into it after the test
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging(level, "json", "test")
    logging.getLogger("services.selfservice.test").debug("our own debug line")
    asyncio.run(_sqlite_round_trip(tmp_path / "db.sqlite"))
    flush_logs()
    loggers = [json.loads(line)["logger"] for line in stream.getvalue().splitlines()]
    assert "services.selfservice.test" in loggers
    assert ("aiosqlite" in loggers) is library_lines


@pytest.mark.parametrize(
    ("fmt", "configured", "shown"),
    [
        (
            "json",
            "<hidden: set log.leak_sensitive_values to see it>",
            "<hidden: set log.leak_sensitive_values to see it>",
        ),
        ("text", "***", "***"),
        ("json", r"\1 \g<0>", r"\1 \g<0>"),  # shown as written, not read as the patterns' group references
        ("json", "", "[redacted]"),  # empty is unset, as in Kratos
    ],
)
def test_masked_values_read_log_redaction_text(
    fmt: str,
    configured: str,
    shown: str,
    restored_logging: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Kratos's `log.redaction_text`: what a masked value reads, in messages, fields and tracebacks."""
    settings = settings_for(tmp_path, "memory", {"log": {"redaction_text": configured, "format": fmt}})
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging("info", settings.log.format, "test", redaction_text=settings.log.redaction_text)
    log = logging.getLogger("services.test.redaction")
    log.warning("issued %s", "ory_st_4n0th3rS3cr3t", extra={"dsn": "postgres://warden:pa55w0rd@db/warden"})
    log.error("failed", exc_info=_traceback_of_a_failing_call())
    flush_logs()
    written = stream.getvalue()
    for secret in ("4n0th3rS3cr3t", "pa55w0rd", "hunter2"):
        assert secret not in written
    if fmt == "json":
        issued, failed = (json.loads(line) for line in written.splitlines() if line.startswith("{"))
        assert issued["msg"] == f"issued ory_**_{shown}"
        assert issued["dsn"] == f"postgres://warden:{shown}@db/warden"
        assert f"ValueError: bad password={shown}" in failed["stack"]
    else:
        assert f"issued ory_**_{shown}" in written and f"ValueError: bad password={shown}" in written
    assert (shown == "[redacted]") == ("[redacted]" in written)


async def _sqlite_insert(path: Path, value: str) -> None:
    async with aiosqlite.connect(path) as db:
        await db.execute("CREATE TABLE courier_messages (body)")
        await db.execute("INSERT INTO courier_messages VALUES (?)", (value,))
        await db.commit()


@pytest.mark.parametrize("leak", [False, True])
def test_trace_shows_the_sql_but_not_its_values_unless_asked(
    leak: bool, restored_logging: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """aiosqlite logs every call with its arguments: the values a statement binds (a mail with its
    one-time code, a flow with a TOTP secret or backup codes) stay out at trace, as every secret does
    without `log.leak_sensitive_values`."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging("trace", "json", "test", leak_sensitive_values=leak)
    asyncio.run(_sqlite_insert(tmp_path / "db.sqlite", "Use 482913 to recover your account"))
    flush_logs()
    messages = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert any("INSERT INTO courier_messages VALUES (?)" in m for m in messages)
    assert any("482913" in m for m in messages) is leak


async def _publish_to_a_queue_of_its_own(body: bytes) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)  # gone with the connection
        await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue.name)


@pytest.mark.parametrize("leak", [False, True])
def test_trace_shows_the_frames_sent_to_rabbitmq_but_not_what_they_carry_unless_asked(
    leak: bool, restored_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiormq logs each frame it sends with its bytes: a courier command carries the code it mails
    (which the secret patterns would catch in this shape) and the address and traits of the person it
    goes to (which no pattern catches)."""
    require_server("RabbitMQ", "127.0.0.1", 5672)
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging("trace", "json", "test", leak_sensitive_values=leak)
    command = b'{"recipient": "mira@example.com", "template_data": {"VerificationCode": "731946"}}'
    asyncio.run(_publish_to_a_queue_of_its_own(command))
    flush_logs()
    messages = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert any("Prepare to send ChannelFrame" in m for m in messages)
    assert any("mira@example.com" in m for m in messages) is leak
    assert any("731946" in m for m in messages) is leak


def test_lines_inside_a_trace_carry_its_trace_and_span_ids() -> None:
    """With tracing on (shared.tracing.logs), a line logged inside a span names the trace and the
    span as a trace viewer shows them; a line outside any trace has neither field."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter("selfservice", context=TRACE_FIELDS))
    logger = logging.getLogger("test.trace_ids")
    logger.handlers[:] = [handler]
    logger.propagate = False
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("POST /self-service/registration") as span:
        logger.warning("inside")
    logger.warning("outside")
    provider.shutdown()
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    ids = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{ids.trace_id:032x}", f"{ids.span_id:016x}")
    assert "trace_id" not in outside and "span_id" not in outside


def test_batched_lines_keep_their_order_and_warnings_go_out_at_once() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60.0)
    handler.setFormatter(_JsonFormatter("session"))
    logger = logging.getLogger("test.batching")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info("first")
    logger.info("second")
    assert stream.getvalue() == "", "info lines wait for the batch"
    logger.warning("third")
    assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == ["first", "second", "third"]
    logger.info("fourth")
    handler.flush()  # what logging's shutdown does at exit
    assert json.loads(stream.getvalue().splitlines()[-1])["msg"] == "fourth"


def test_access_line_logger_writes_what_logger_info_writes() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter("session"))
    logger = logging.getLogger("test.lines")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    fields = {"port": "public", "status": 200, "duration_ms": 1.5}
    logger.info("%s %s %d", "GET", "/sessions/whoami", 200, extra=fields)
    LineLogger(logger)("%s %s %d", ("GET", "/sessions/whoami", 200), fields)
    LineLogger(logger, logging.DEBUG)("not enabled", (), {})
    slow, fast = (json.loads(line) for line in stream.getvalue().splitlines())
    assert slow.pop("time") <= fast.pop("time")
    assert slow == fast


def test_access_lines_queued_directly_are_the_lines_logging_writes_masked_alike() -> None:
    """Warden's own JSON handler alone: LineLogger formats and queues the line itself."""
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60.0)
    handler.setFormatter(_JsonFormatter("session"))
    logger = logging.getLogger("test.direct_lines")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    fields = {"port": "public", "status": 200, "duration_ms": 1.5}
    args = ("GET", "/sessions/ory_st_s3cr3tT0k3n", 200)
    assert LineLogger(logger)._only_handler() is handler, "the direct path is taken"
    token = request_id.set("ory_st_an0th3rS3cr3t")
    try:
        logger.info("%s %s %d", *args, extra=fields)
        LineLogger(logger)("%s %s %d", args, fields)
    finally:
        request_id.reset(token)
    handler.flush()
    slow, fast = (json.loads(line) for line in stream.getvalue().splitlines())
    assert slow.pop("time") <= fast.pop("time")
    assert slow == fast
    assert "s3cr3tT0k3n" not in fast["msg"] and "an0th3rS3cr3t" not in fast["request_id"]


def test_access_lines_reach_every_handler_when_there_are_several() -> None:
    """A second handler (a test's capture, an operator's own) gets the LogRecord as logging gives it."""
    stream, captured = io.StringIO(), io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60.0)
    handler.setFormatter(_JsonFormatter("session"))
    capture = logging.StreamHandler(captured)
    capture.setFormatter(logging.Formatter("%(levelname)s %(message)s %(status)s"))
    logger = logging.getLogger("test.several_handlers")
    logger.handlers[:] = [handler, capture]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    assert LineLogger(logger)._only_handler() is None
    LineLogger(logger)("%s %s %d", ("GET", "/health/alive", 200), {"port": "admin", "status": 200})
    handler.flush()
    assert json.loads(stream.getvalue())["msg"] == "GET /health/alive 200"
    assert captured.getvalue() == "INFO GET /health/alive 200 200\n"


def test_a_text_line_cannot_be_split_by_a_value_a_client_sent() -> None:
    """`log.format: text`: a request path with `%0A` in it (decoded) stays on its record's line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_TextFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.text_lines")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info("GET %s 404", "/x\nERROR forged: admin signed in\r")
    assert stream.getvalue() == "INFO GET /x\\nERROR forged: admin signed in\\r 404\n"
