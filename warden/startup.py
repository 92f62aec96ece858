"""Start-up failures in one line: what a setting names (a database, a broker, a cache, a port) could
not be used, and why, without a driver's traceback or object addresses. `warden --debug`
shows the traceback instead (the CLI re-raises)."""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from shared.errors import ConfigError, SchemaOutOfDate, StartupFailed


@contextlib.contextmanager
def startup_step(setting: str, target: str = "") -> Iterator[None]:
    """Turns a failure to use what `setting` names (a database that is missing or refuses, an
    unknown host, a broker that closes the connection, a cache that refuses, a port in use) into one
    line naming the setting and the cause; `target` is the `host:port` it names."""
    try:
        yield
    except (ConfigError, SchemaOutOfDate):
        raise
    except Exception as exc:  # any driver's error: the operator needs the setting and the reason
        raise StartupFailed(f"{setting}: {describe(exc, target)}") from exc


@contextlib.contextmanager
def quiet_broker_driver() -> Iterator[None]:
    """aiormq logs a line of its own when its first connection attempt fails, before the error that
    start-up reports in one line naming `bus.url`; that line is held back while connecting, and only
    then (reconnections later are logged as usual)."""
    logger = logging.getLogger("aiormq.connection")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def database_step(settings: Any, service: str) -> contextlib.AbstractContextManager[None]:
    """`startup_step` for a service's database: named `dsn`, or `services.<service>.dsn` when the
    service has a database of its own."""
    dsn = settings.dsn_for(service)
    return startup_step("dsn" if dsn == settings.dsn else f"services.{service}.dsn", where(dsn))


def where(url: str) -> str:
    """`host:port` of a database or broker URL, for an error line; never its user or password."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
    except ValueError:
        return ""


def describe(exc: BaseException, target: str = "") -> str:
    """The innermost cause of a driver's error, in one line without object addresses; `target`
    (`host:port`) is named when the cause does not say where."""
    while (inner := getattr(exc, "orig", None) or exc.__cause__) is not None and inner is not exc:
        exc = inner
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host {target or 'named'} ({exc.strerror})"
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer from {target or 'the server'} (timed out)"
    if isinstance(exc, ConnectionRefusedError):  # worded by the event loop: uvloop's does not say where
        return f"connection refused by {target or 'the server'}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "Connection.Close" in text:
        return "the broker closed the connection (is the vhost there, are the user and password right?)"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"address already in use ({text})"
    return re.sub(r"^<class '[\w.]+'>: ", "", re.sub(r" at 0x[0-9a-f]+", "", text))
