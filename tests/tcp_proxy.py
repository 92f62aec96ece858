"""A TCP proxy for fault tests: put it between Warden and a server (RabbitMQ, Redis) and break the
connection without touching the shared server. `cut()`: connections dropped, new ones refused (the
server stopped). `stall()`: connections kept, nothing forwarded (the server hung). `restore()`."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from tests.conftest import free_port


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0
        self.stalled = False

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_connections()

    async def stall(self) -> None:
        self.stalled = True
        self._drop_connections()

    async def restore(self) -> None:
        self.stalled = False
        self._drop_connections()  # a stalled connection lost bytes: it is no use any more
        await self.start()

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {client_writer, upstream_writer}
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer),
            self._pipe(upstream_reader, client_writer),
            return_exceptions=True,
        )
        for writer in (client_writer, upstream_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if not self.stalled:
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


class ThreadedTcpProxy:
    """The same proxy on an event loop of its own, for tests whose Warden runs in another thread."""

    def __init__(self, upstream_port: int) -> None:
        self._proxy = TcpProxy(upstream_port)
        self.port = self._proxy.port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> ThreadedTcpProxy:
        self._thread.start()
        self._call(self._proxy.start())
        return self

    def refuse(self) -> None:
        self._call(self._proxy.cut())

    def stall(self) -> None:
        self._call(self._proxy.stall())

    def restore(self) -> None:
        self._call(self._proxy.restore())

    def close(self) -> None:
        self._call(self._proxy.cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)
