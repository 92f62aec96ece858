"""The session check for gateways against whoami, in the same run: `GET /sessions/check` and gRPC
`SessionService.Check` beside `GET /sessions/whoami`, all three on a cache hit, and how long a
revocation takes to reach a `WatchRevocations` subscriber of another process.

    .venv/bin/python bench/check.py [--connections 16] [--duration 5] [--rounds 3] [--revocations 20]

One all-in-one `warden serve` on a fresh PostgreSQL database, Redis as its cache and an in-process
bus serves the three calls; the load comes from this process (aiohttp for HTTP, grpc.aio for gRPC,
`--connections` calls in flight), each call measured in turn, `--rounds` times, alternating. What is
compared is the server process's CPU time per request (user + system, from /proc): the client's own
cost and the machine's other work do not enter it, unlike requests/s, which is printed too.

For revocations, two all-in-one processes share the database, Redis and a RabbitMQ virtual host (as
two replicas would); a watcher on the first sees logouts made through the second. Everything
started is stopped and everything created (database, virtual host, Redis keys) is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import grpc
from stack import Warden  # noqa: E402
from whoami import (  # noqa: E402  (bench/ is on the path when run as a script)
    INTERNAL_TOKEN,
    Run,
    base_env,
    cpu_seconds,
    fresh_run,
    http,
    migrate,
    primed_session,
)

from shared.grpc.gen.warden.session.v1 import session_pb2, session_pb2_grpc  # noqa: E402

AUTH = (("authorization", f"Bearer {INTERNAL_TOKEN}"),)


@dataclass(frozen=True)
class Result:
    call: str
    requests_per_second: float
    cpu_us_per_request: float


async def drive(call: Callable[[], Awaitable[None]], connections: int, seconds: float) -> int:
    """`connections` loops calling `call` until the time is up; how many calls completed."""
    done = 0
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await call()
            done += 1

    await asyncio.gather(*(loop() for _ in range(connections)))
    return done


async def measure_all(warden: Warden, token: str, args: argparse.Namespace) -> dict[str, list[Result]]:
    pid = warden.proc.pid
    results: dict[str, list[Result]] = {"whoami": [], "check": [], "grpc": []}
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        grpc.aio.insecure_channel(f"127.0.0.1:{warden.grpc}") as channel,
    ):
        stub = session_pb2_grpc.SessionServiceStub(channel)
        headers = {"X-Session-Token": token}

        def http_call(path: str) -> Callable[[], Awaitable[None]]:
            url = f"{warden.url('public')}{path}"

            async def call() -> None:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"{path} answered {response.status}")

            return call

        async def grpc_call() -> None:
            await stub.Check(session_pb2.CheckRequest(token=token), metadata=AUTH, timeout=5)

        calls = {"whoami": http_call("/sessions/whoami"), "check": http_call("/sessions/check"), "grpc": grpc_call}
        for call in calls.values():
            await drive(call, args.connections, 1.0)  # warm-up: connections, pools, caches
        for _ in range(args.rounds):
            for name, call in calls.items():
                before, started = cpu_seconds(pid), time.monotonic()
                count = await drive(call, args.connections, args.duration)
                elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - before
                results[name].append(Result(name, count / elapsed, cpu / count * 1e6))
    return results


async def revocation_latencies(watched: Warden, other: Warden, count: int, run: Run) -> list[float]:
    """Seconds from a logout on `other` to its revocation arriving at a watcher on `watched`."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{watched.grpc}") as channel:
        stream = session_pb2_grpc.SessionServiceStub(channel).WatchRevocations(
            session_pb2.WatchRevocationsRequest(), metadata=AUTH
        )
        await stream.initial_metadata()
        for _ in range(count):
            token, _ = primed_session(other.url("admin"), other.url("admin"), other.url("public"), run)
            started = time.monotonic()
            status, body = await asyncio.to_thread(
                http, "DELETE", f"{other.url('public')}/self-service/logout/api", {"session_token": token}
            )
            assert status == 204, body
            await asyncio.wait_for(stream.read(), 10)
            latencies.append(time.monotonic() - started)
        stream.cancel()
    return latencies


def report(results: dict[str, list[Result]], latencies: list[float], args: argparse.Namespace) -> None:
    def median(name: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results[name])

    print(
        f"{args.connections} calls in flight, {args.duration:.0f} s per call and round, median of {args.rounds} rounds, "
        "cache hits (one Redis GET)"
    )
    print(f"{'call':<28} {'req/s':>8} {'CPU us/req':>11} {'CPU vs whoami':>14} {'req/s vs whoami':>16}")
    labels = {
        "whoami": "GET /sessions/whoami",
        "check": "GET /sessions/check",
        "grpc": "gRPC SessionService.Check",
    }
    base_cpu, base_rps = median("whoami", "cpu_us_per_request"), median("whoami", "requests_per_second")
    for name, label in labels.items():
        cpu, rps = median(name, "cpu_us_per_request"), median(name, "requests_per_second")
        print(f"{label:<28} {rps:>8.0f} {cpu:>11.0f} {cpu / base_cpu:>13.2f}x {rps / base_rps:>15.2f}x")
    if latencies:
        ordered = sorted(latencies)
        print(
            f"revocation to a watcher of another process ({len(ordered)} logouts over RabbitMQ): "
            f"p50 {statistics.median(ordered) * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms, "
            f"within 1 s: {sum(1 for x in ordered if x < 1.0)}/{len(ordered)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per call and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--revocations", type=int, default=20, help="logouts timed to a watcher (0: skip)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with fresh_run() as run:
        migrate(run)
        warden = Warden("all-in-one", ["serve"], base_env(run), run.workdir).wait_ready()
        try:
            token, _ = primed_session(warden.url("admin"), warden.url("admin"), warden.url("public"), run)
            results = asyncio.run(measure_all(warden, token, args))
        finally:
            warden.stop()
        latencies = asyncio.run(replicas_revoking(run, args.revocations)) if args.revocations else []
    report(results, latencies, args)


async def replicas_revoking(run: Run, count: int) -> list[float]:
    env = {**base_env(run), "BUS_URL": run.amqp_url}
    watched = Warden("replica-a", ["serve"], env, run.workdir).wait_ready()
    try:
        other = Warden("replica-b", ["serve"], env, run.workdir).wait_ready()
        try:
            return await revocation_latencies(watched, other, count, run)
        finally:
            other.stop()
    finally:
        watched.stop()


if __name__ == "__main__":
    main()
