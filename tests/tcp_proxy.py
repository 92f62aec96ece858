"""A TCP proxy for fault tests: put it between Warden and a server (RabbitMQ, Redis) and break the
connection without touching the shared server. `cut()`: connections dropped, new ones refused (the
server stopped). `stall()`: connections kept, nothing forwarded (the server hung). `restore()`.
`answer_once(request, reply)`: the server answers a request by closing the connection."""

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
        self._answer: tuple[bytes, bytes] | None = None
        self.answered = 0

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

    def answer_once(self, request: bytes, reply: bytes) -> None:
        """The next bytes from a client that hold `request` never reach the server: the client gets
        `reply` instead, and that connection's upstream side is dropped."""
        self._answer = (request, reply)

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
        answered = asyncio.Event()
        await asyncio.gather(
            self._forward_requests(client_reader, upstream_writer, client_writer, answered),
            self._forward_answers(upstream_reader, client_writer, answered),
            return_exceptions=True,
        )
        for writer in (client_writer, upstream_writer):
            self._writers.discard(writer)
            writer.transport.abort()

    async def _forward_requests(
        self,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        answered: asyncio.Event,
    ) -> None:
        while data := await reader.read(65536):
            if self._answer is not None and self._answer[0] in data:
                reply, self._answer = self._answer[1], None
                self.answered += 1
                answered.set()
                upstream.transport.abort()
                client.write(reply)
                await client.drain()
                continue  # the client may still say goodbye; nobody is listening
            if not self.stalled and not answered.is_set():
                upstream.write(data)
                await upstream.drain()
        upstream.transport.abort()

    async def _forward_answers(
        self, reader: asyncio.StreamReader, client: asyncio.StreamWriter, answered: asyncio.Event
    ) -> None:
        while data := await reader.read(65536):
            if not self.stalled:
                client.write(data)
                await client.drain()
        if not answered.is_set():  # a client we answered ourselves hangs up on its own
            client.transport.abort()


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
