"""The floor for whoami on a cache hit: a bare aiohttp app on uvloop (as Warden runs) whose one
handler does one Redis GET and sends the bytes. No middleware, no token hashing, no parsing: what a cache hit cannot beat on this
Python, this aiohttp and this Redis client (created with the options Warden's adapter uses).
`--client pipelined` does the GET on Warden's own pipelined connection
(shared/adapters/redis/pipelined_get.py) instead of redis-py: the stronger floor, since Warden's
whoami GET goes that way too.

    .venv/bin/python bench/floor_server.py --port 8099 --redis-url redis://127.0.0.1:6379/0 --key some:key

Serves `GET /sessions/whoami` until SIGINT or SIGTERM; prints `ready` once listening.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as redis
from aiohttp import web

REDIS = web.AppKey("redis", redis.Redis)


def create_app(redis_url: str, key: str) -> web.Application:
    async def whoami(request: web.Request) -> web.Response:
        body = await request.app[REDIS].get(key)
        if body is None:
            return web.Response(status=401)
        return web.Response(body=body, content_type="application/json")

    async def client(app: web.Application) -> AsyncIterator[None]:
        # The same client options as shared/adapters/redis/cache.py, so only Warden's own work differs.
        app[REDIS] = redis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=10
        )
        yield
        await app[REDIS].aclose()

    app = web.Application()
    app.cleanup_ctx.append(client)
    app.router.add_get("/sessions/whoami", whoami)
    return app


def create_pipelined_app(redis_url: str, key: str) -> web.Application:
    """The same handler, its GET on the connection Warden's cache uses for GET."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from bench/
    from shared.adapters.redis.pipelined_get import PipelinedGets

    gets = PipelinedGets.for_url(redis_url, 0.5)
    assert gets is not None, f"{redis_url} has options the pipelined GET does not take"
    raw_key = key.encode()

    async def whoami(request: web.Request) -> web.Response:
        body = await gets.get(raw_key)
        if body is None:
            return web.Response(status=401)
        return web.Response(body=body, content_type="application/json")

    async def close(app: web.Application) -> None:
        await gets.close()

    app = web.Application()
    app.on_cleanup.append(close)
    app.router.add_get("/sessions/whoami", whoami)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--key", required=True)
    parser.add_argument("--client", choices=("redis-py", "pipelined"), default="redis-py")
    args = parser.parse_args()
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # as Warden does where uvloop is not installed
        loop = None
    web.run_app(
        (create_pipelined_app if args.client == "pipelined" else create_app)(args.redis_url, args.key),
        loop=loop,
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=lambda *_: print("ready", flush=True),
    )


if __name__ == "__main__":
    main()
