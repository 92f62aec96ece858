"""A real Have I Been Pwned range API for breach-check tests: HTTPS on loopback with a self-signed
certificate (Kratos always asks `https://<host>/range/<prefix>`), on an event loop of its own, so a
test thread may block on a Warden that calls it. It answers `/range/<prefix>` with the suffixes of
`counts` (full SHA-1 hex → breach count) under that prefix plus zero-count padding rows, as the real
API does when asked to pad; `answers` overrides a prefix's answer with (status, body). Every request
is recorded."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.certificates import ServerPair, self_signed_pair
from tests.conftest import free_port


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


@dataclass(frozen=True)
class Asked:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RangeServer:
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)  # prefix → (status, body)
    port: int = field(default_factory=free_port)
    asked: list[Asked] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pair: ServerPair = self_signed_pair(self.directory, "hibp")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        """What `haveibeenpwned_host` names: Kratos puts it between `https://` and `/range/`."""
        return f"127.0.0.1:{self.port}"

    def breached(self, password: str, count: int) -> None:
        self.counts[sha1(password)] = count

    def answer(self, password: str, status: int, body: str = "") -> None:
        self.answers[sha1(password)[:5]] = (status, body)

    def requests(self) -> list[Asked]:
        with self._lock:
            return list(self.asked)

    async def _range(self, request: web.Request) -> web.Response:
        prefix = request.match_info["prefix"]
        asked = Asked(request.method, request.path, request.query_string, dict(request.headers), await request.read())
        with self._lock:
            self.asked.append(asked)
        if prefix in self.answers:
            status, body = self.answers[prefix]
            return web.Response(status=status, text=body)
        rows = [f"{h[5:]}:{n}" for h, n in self.counts.items() if h.startswith(prefix)]
        padding = [f"{i:035X}:0" for i in range(3)]
        return web.Response(text="\r\n".join(rows + padding), content_type="text/plain")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/range/{prefix}", self._range)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.pair.cert_path, self.pair.key_path)
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=tls).start()

    def start(self) -> RangeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
