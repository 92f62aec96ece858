"""The cache's GET (whoami's one command on a hit) on a connection of its own, pipelined: every GET in
flight shares one connection, the GETs asked in one turn of the event loop go out in one write, and
the replies are read in order.

redis-py spends about 50 µs of CPU on a GET on the 2-core test machine (its pool, two asyncio
timeouts and a StreamReader per command), more than the rest of a whoami's own work; here a GET
costs 8 to 20 µs, the less the more are in flight (docs/performance.md). Only GET goes this way;
every other command stays on redis-py.

The URL is read as redis-py reads it (`redis://`, `rediss://`, `unix://`, user, password, database).
A URL with options (`?ssl_cert_reqs=…` and the like) keeps GET on redis-py too: `for_url` answers
None. A connection whose oldest GET has waited the timeout is closed and each GET on it fails with
`CacheUnavailable`, as on a refused or broken one; the next GET connects again.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url

from shared.errors import CacheUnavailable

_UNDERSTOOD = frozenset({"host", "port", "db", "username", "password", "path", "connection_class"})
_GET = b"*2\r\n$3\r\nGET\r\n"
Reply = bytes | None


def command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class _Replies(asyncio.Protocol):
    """One connection: the commands written on it, waiting in order for their RESP2 replies (bulk
    strings for GET, simple strings for the handshake, errors as CacheUnavailable)."""

    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[tuple[asyncio.Future[Reply], float]] = deque()
        self._watchdog: asyncio.TimerHandle | None = None
        self._buffer = b""
        self._outgoing: list[bytes] = []  # written once per turn of the loop: one system call for all

    @property
    def open(self) -> bool:
        return self._transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._outgoing.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(CacheUnavailable(f"the Redis connection was lost: {exc or 'closed'}"))

    def send(self, data: bytes) -> asyncio.Future[Reply]:
        if self._transport is None:
            raise CacheUnavailable("the Redis connection was lost")
        future = self._loop.create_future()
        now = self._loop.time()
        self._waiting.append((future, now))
        self._outgoing.append(data)
        if len(self._outgoing) == 1:
            self._loop.call_soon(self._write)
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(now + self._timeout, self._check)
        return future

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _write(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def _check(self) -> None:
        """Closes a connection whose oldest command has waited the timeout: Redis is stalled, or
        the network is."""
        self._watchdog = None
        if not self._waiting or self._transport is None:
            return
        sent_at = self._waiting[0][1]
        if self._loop.time() - sent_at >= self._timeout:
            self._transport.abort()  # connection_lost fails every waiting command
        else:
            self._watchdog = self._loop.call_at(sent_at + self._timeout, self._check)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        start, size = 0, len(buffer)
        while start < size:
            line_end = buffer.find(b"\r\n", start)
            if line_end < 0:
                break
            kind, header = buffer[start], buffer[start + 1 : line_end]
            reply: Reply | Exception
            if kind == 0x24:  # `$`: a bulk string, or nil
                length = int(header)
                end = line_end + 2 + (length + 2 if length >= 0 else 0)
                if end > size:
                    break
                reply = buffer[line_end + 2 : end - 2] if length >= 0 else None
            elif kind == 0x2D:  # `-`: an error (WRONGTYPE, NOAUTH, …): no cache, to the caller
                end, reply = line_end + 2, CacheUnavailable(header.decode(errors="replace"))
            elif kind in (0x2B, 0x3A):  # `+OK`, `:1`: the handshake's
                end, reply = line_end + 2, header
            else:  # nothing Warden asked for can answer this: the stream is not what it expects
                self._fail_all("an unexpected reply from Redis")
                return
            start = end
            if not self._waiting:
                self._fail_all("a reply from Redis that nothing asked for")
                return
            future, _ = self._waiting.popleft()
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        self._buffer = buffer[start:]

    def _fail_all(self, why: str) -> None:
        self._buffer = b""
        if self._transport is not None:
            self._transport.abort()
        self.connection_lost(CacheUnavailable(why))


class PipelinedGets:
    def __init__(self, options: dict[str, Any], timeout: float) -> None:
        self._options = options
        self._timeout = timeout
        self._replies: _Replies | None = None
        self._opening: asyncio.Future[_Replies] | None = None
        handshake = []
        if options.get("password"):
            username = options.get("username")
            credentials = [username, options["password"]] if username else [options["password"]]
            handshake.append(command(b"AUTH", *(c.encode() for c in credentials)))
        if options.get("db"):
            handshake.append(command(b"SELECT", str(options["db"]).encode()))
        self._handshake = handshake

    @classmethod
    def for_url(cls, url: str, timeout: float) -> PipelinedGets | None:
        options: dict[str, Any] = dict(parse_url(url))
        if not options.keys() <= _UNDERSTOOD:
            return None
        return cls(options, timeout)

    async def get(self, key: bytes) -> Reply:
        replies = self._replies
        if replies is None or not replies.open:
            replies = await self._connect()
        return await replies.send(b"%s$%d\r\n%s\r\n" % (_GET, len(key), key))

    async def close(self) -> None:
        if self._opening is not None:
            self._opening.cancel()
        if self._replies is not None:
            self._replies.close()
            self._replies = None

    async def _connect(self) -> _Replies:
        """One attempt at a time, which every GET that finds no connection waits for and whose
        failure they share: a stalled Redis costs each of them the timeout once."""
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
            self._opening.add_done_callback(self._opened)
        return await asyncio.shield(self._opening)

    def _opened(self, attempt: asyncio.Future[_Replies]) -> None:
        self._opening = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._replies = attempt.result()

    async def _open(self) -> _Replies:
        options, loop = self._options, asyncio.get_running_loop()
        replies: _Replies | None = None
        try:
            async with asyncio.timeout(self._timeout):
                if options.get("connection_class") is UnixDomainSocketConnection:
                    _, replies = await loop.create_unix_connection(lambda: _Replies(self._timeout), options["path"])
                else:
                    host = options.get("host", "localhost")
                    tls = ssl.create_default_context() if options.get("connection_class") is SSLConnection else None
                    _, replies = await loop.create_connection(
                        lambda: _Replies(self._timeout), host, options.get("port", 6379), ssl=tls
                    )
                for handshake in self._handshake:
                    await replies.send(handshake)
        except BaseException as exc:  # cancelled (at close) included: no connection is left open
            if replies is not None:
                replies.close()
            if isinstance(exc, OSError | TimeoutError | CacheUnavailable):
                raise CacheUnavailable(str(exc) or type(exc).__name__) from exc
            raise
        return replies
