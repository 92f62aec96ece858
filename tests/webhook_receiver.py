"""A real HTTP receiver for web hook tests, on loopback, on an event loop of its own (the test's
thread blocks on Warden). It records every request and answers with `answer(request_record)`,
which returns (status, JSON body or None, headers); an answer whose `in_pieces(request_record)` is
true is sent in three pieces a moment apart (as a slow or proxied hook's can arrive). It starts down; `start()` opens its port, `stop()` closes
it again (calls are refused)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, Any, dict[str, str]]


@dataclass
class WebhookReceiver:
    answer: Callable[[Received], Answer] = lambda _r: (200, None, {})
    delay: Callable[[Received], float] = lambda _r: 0.0  # seconds to wait before answering
    in_pieces: Callable[[Received], bool] = lambda _r: False
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()
        self._placeholder: socket.socket | None = None
        self._hold_port()

    def _hold_port(self) -> None:
        """While down, the port stays bound but not listening: calls are refused, as by a stopped
        receiver, and no other test's server can take the port meanwhile."""
        held = socket.socket()
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", self.port))
        self._placeholder = held

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = Received(request.method, request.path, dict(request.headers), await request.read())
        with self._lock:
            self.received.append(record)
        if (wait := self.delay(record)) > 0:
            await asyncio.sleep(wait)
        status, body, headers = self.answer(record)
        text = None if body is None else json.dumps(body)
        if text is not None and self.in_pieces(record):
            return await _in_pieces(request, status, text.encode(), headers)
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> WebhookReceiver:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._hold_port()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        if self._placeholder is not None:
            self._placeholder.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(found := self.requests(path)) < count:
            assert time.monotonic() < deadline, f"{len(found)} of {count} calls arrived at {path or 'the receiver'}"
            time.sleep(0.05)
        return found


async def _in_pieces(request: web.Request, status: int, body: bytes, headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={**headers, "Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    third = max(1, len(body) // 3)
    for start in range(0, len(body), third):
        await response.write(body[start : start + third])
        await asyncio.sleep(0.05)
    await response.write_eof()
    return response
