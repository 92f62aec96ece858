"""whoami on a cache hit, measured with wrk, against its floor measured in the same run.

    .venv/bin/python bench/whoami.py [--quick] [--threads 1] [--connections 32] [--duration 5s]
                                     [--warmup 1s] [--rounds 1] [--wait-idle 30]
                                     [--targets session,all-in-one,floor] [--sampling 0.1] [--baseline PATH]

Targets, each a process of its own, measured one after the other with nothing else of this bench
running:
  session     `warden serve session` on PostgreSQL, Redis and RabbitMQ, with `warden serve identity`
              beside it (a fresh database and virtual host, dropped afterwards);
  all-in-one  `warden serve` on the same database with its defaults otherwise: the in-process bus and
              the in-process cache (`cache.url: memory`);
  floor       bench/floor_server.py: a bare aiohttp app on uvloop whose one handler does one Redis GET
              of a value of the same size as the real session body and sends the bytes (redis-py:
              issue 17's floor);
  floor-pipelined  the same app with its GET on Warden's own pipelined connection
              (shared/adapters/redis/pipelined_get.py), as Warden's whoami does it: the stronger
              floor, so that a ratio above 1.0 against `floor` is not read as Warden beating a GET.
Asked for by name (not in the default set):
  all-in-one-redis  `all-in-one` with Redis as its cache, as for `session`;
  session-traced    `session` with tracing on (`tracing.provider: otel`, `--sampling` of new traces),
                    exporting OTLP/HTTP to bench/otlp_sink.py, a process of its own;
  session-baseline  `session` run from another checkout of Warden (`--baseline PATH`, e.g. a
                    `git worktree` of the commit before a change), on a database it migrated itself:
                    `session` against it is what the change costs with tracing off.
Warden runs as shipped: on uvloop, with the access log on (INFO, the default; its lines go to a
file). Everything started is stopped, everything created (database, virtual host, Redis keys) is
deleted.

Reported per target: requests/s and wrk's p50 and p99 latency, the server process's CPU time per
request (user + system, from /proc: steadier than requests/s when wrk, Redis and the server share few
cores), each as a ratio to the floor, and how busy the machine was just before the run (each run
first waits up to --wait-idle seconds for it to be under 10% busy); then each Warden mode's
requests/s against the floor beside its goal (issue 17). `--quick` is a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
from stack import Process, Warden, free_port, fresh_database, fresh_vhost  # noqa: E402  (bench/ is on the path)
from stack import migrate as migrate_sql  # noqa: E402

REDIS_URL = os.environ.get("WARDEN_BENCH_REDIS", "redis://127.0.0.1:6379/0")
INTERNAL_TOKEN = "bench-internal-token"
DEFAULT_TARGETS = ("session", "all-in-one", "floor", "floor-pipelined")
TARGETS = (*DEFAULT_TARGETS, "all-in-one-redis", "session-traced", "session-baseline")
# Issue 17's goals: requests/s against the floor measured in the same run.
GOALS = {"all-in-one": 1.0, "session": 0.9}


# -- the resources of one run -------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    name: str
    dsn: str
    amqp_url: str
    redis_prefix: str
    workdir: Path


@contextmanager
def fresh_run() -> Iterator[Run]:
    name = f"warden_bench_{uuid.uuid4().hex[:10]}"
    with (
        tempfile.TemporaryDirectory(prefix=name) as workdir,
        fresh_database(name) as dsn,
        fresh_vhost(name) as amqp_url,
    ):
        try:
            yield Run(name, dsn, amqp_url, f"{name}:", Path(workdir))
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{name}:*"))
            if keys:
                client.delete(*keys)
            client.close()


# -- processes ----------------------------------------------------------------------------------


def http(method: str, url: str, body: dict | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def base_env(run: Run) -> dict[str, str]:
    return {
        "DSN": run.dsn,
        "CACHE_URL": REDIS_URL,
        "CACHE_PREFIX": run.redis_prefix,
        "SERVICES_INTERNAL_TOKEN": INTERNAL_TOKEN,
        "LOG_LEVEL": "info",  # the access log on (the default), as an operator runs Warden
    }


def migrate(run: Run, code: dict[str, str] | None = None) -> None:
    migrate_sql({**base_env(run), **(code or {})}, run.workdir)


def primed_session(
    identity_admin: str, session_admin: str, session_public: str, run: Run, redis_cache: bool = True
) -> tuple[str, bytes]:
    """A fresh identity and session, answered once so the next whoami is a cache hit (checked in
    Redis when that is the cache)."""
    status, created = http(
        "POST",
        f"{identity_admin}/admin/identities",
        {"schema_id": "default", "traits": {"email": f"{uuid.uuid4().hex}@bench.example"}},
    )
    assert status == 201, created
    status, issued = http(
        "POST",
        f"{session_admin}/internal/session/sessions",
        {
            "identity_id": json.loads(created)["id"],
            "methods": [{"method": "password"}],
            "device": {"ip_address": "192.0.2.10", "user_agent": "wrk"},
        },
        {"X-Warden-Internal-Token": INTERNAL_TOKEN},
    )
    assert status == 201, issued
    token = json.loads(issued)["session_token"]
    status, body = http("GET", f"{session_public}/sessions/whoami", headers={"X-Session-Token": token})
    assert status == 200, body
    if not redis_cache:
        return token, body
    key = f"{run.redis_prefix}session:{hashlib.sha256(token.encode()).hexdigest()}"
    client = redis.Redis.from_url(REDIS_URL)
    assert client.exists(key), "the whoami answer was cached in Redis"
    client.close()
    return token, body


# -- wrk ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    target: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float  # the server process's user + system CPU time, over the measured run
    busy_before: float  # the fraction of all CPUs busy over the second before the run


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, token: str, args: argparse.Namespace, duration: str) -> str:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}",
        "--latency",
        "-H",
        f"X-Session-Token: {token}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done.stdout


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_busy(seconds: float) -> float:
    """The fraction of all CPUs busy over `seconds` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        idle = values[3] + values[4] + values[7]  # idle, iowait, steal
        return sum(values) - idle, sum(values)

    busy_before, total_before = sample()
    time.sleep(seconds)
    busy_after, total_after = sample()
    return (busy_after - busy_before) / max(1, total_after - total_before)


def wait_for_idle(limit: float) -> float:
    """Waits up to `limit` seconds for the machine to be under 10% busy; returns the last reading."""
    busy, deadline = machine_busy(1.0), time.monotonic() + limit
    while busy > 0.10 and time.monotonic() < deadline:
        busy = machine_busy(1.0)
    return busy


def measure_once(target: str, url: str, token: str, args: argparse.Namespace, pid: int) -> Result:
    busy = wait_for_idle(args.wait_idle)
    wrk(url, token, args, args.warmup)  # fills the Redis pool and the server's caches
    cpu_before = cpu_seconds(pid)
    out = wrk(url, token, args, args.duration)
    cpu = cpu_seconds(pid) - cpu_before
    if "Non-2xx" in out or re.search(r"Socket errors: .*[1-9]", out):
        raise SystemExit(f"{target}: wrk saw failures:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _millis(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _millis(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Result(target, rps, p50, p99, cpu / requests * 1e6, busy)


def measure(target: str, url: str, token: str, args: argparse.Namespace, pid: int) -> Result:
    """The median of `--rounds` runs by requests/s: a shared machine has bad seconds."""
    runs = sorted(
        (measure_once(target, url, token, args, pid) for _ in range(args.rounds)), key=lambda r: r.requests_per_second
    )
    return runs[len(runs) // 2]


# -- targets ------------------------------------------------------------------------------------


def bench_session(
    run: Run,
    args: argparse.Namespace,
    target: str = "session",
    config: Path | None = None,
    code: dict[str, str] | None = None,
) -> tuple[Result, bytes]:
    """`config`: a config file for both services; `code`: the environment that runs another checkout."""
    env = {**base_env(run), "BUS_URL": run.amqp_url, **(code or {})}
    extra = ["-c", str(config)] if config is not None else []
    identity = Warden(f"{target}-identity", ["serve", "identity", *extra], env, run.workdir).wait_ready()
    try:
        session = Warden(
            target,
            ["serve", "session", *extra],
            {**env, "SERVICES_IDENTITY_INTERNAL_URL": identity.url("admin")},
            run.workdir,
        ).wait_ready()
        try:
            token, body = primed_session(identity.url("admin"), session.url("admin"), session.url("public"), run)
            return measure(target, f"{session.url('public')}/sessions/whoami", token, args, session.proc.pid), body
        finally:
            session.stop()
    finally:
        identity.stop()


def bench_session_traced(run: Run, args: argparse.Namespace) -> Result:
    """`session` with tracing on, exporting to a local sink in a process of its own."""
    port, spans = free_port(), run.workdir / "spans.txt"
    sink = Process(
        "otlp-sink",
        [str(ROOT / "bench/otlp_sink.py"), "--port", str(port), "--report", str(spans)],
        {},
        run.workdir,
        [f"http://127.0.0.1:{port}/health"],
    ).wait_ready()
    otlp = {"server_url": f"127.0.0.1:{port}", "insecure": True, "sampling": {"sampling_ratio": args.sampling}}
    config = run.workdir / "tracing.yml"  # JSON is YAML
    config.write_text(json.dumps({"tracing": {"provider": "otel", "providers": {"otlp": otlp}}}))
    try:
        result, _ = bench_session(run, args, "session-traced", config=config)
    finally:
        sink.stop()
    print(f"session-traced: the sink received {spans.read_text() if spans.exists() else 'no'} spans")
    return result


def bench_session_baseline(args: argparse.Namespace) -> Result:
    """`session` from the checkout at `--baseline`, on a database and virtual host of its own (its
    migrations may be older than this checkout's)."""
    code = {"PYTHONPATH": str(Path(args.baseline).resolve())}
    with fresh_run() as run:
        migrate(run, code)
        result, _ = bench_session(run, args, "session-baseline", code=code)
    return result


def bench_all_in_one(
    run: Run, args: argparse.Namespace | None, target: str = "all-in-one"
) -> tuple[Result | None, bytes]:
    """Measured, or (args None) only asked for a real session body."""
    redis_cache = target == "all-in-one-redis"
    env = base_env(run) if redis_cache else {**base_env(run), "CACHE_URL": "memory"}
    warden = Warden(target, ["serve"], env, run.workdir).wait_ready()
    try:
        token, body = primed_session(warden.url("admin"), warden.url("admin"), warden.url("public"), run, redis_cache)
        if args is None:
            return None, body
        return measure(target, f"{warden.url('public')}/sessions/whoami", token, args, warden.proc.pid), body
    finally:
        warden.stop()


def bench_floor(run: Run, args: argparse.Namespace, body: bytes, client: str = "redis-py") -> Result:
    name = "floor" if client == "redis-py" else "floor-pipelined"
    key = f"{run.redis_prefix}{name}"
    server = redis.Redis.from_url(REDIS_URL)
    server.set(key, body)
    server.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/sessions/whoami"
    floor = Process(
        name,
        [str(ROOT / "bench/floor_server.py"), "--port", str(port), "--redis-url", REDIS_URL, "--key", key]
        + ["--client", client],
        {},
        run.workdir,
        [url],
        ready_statuses=(200, 401),  # asked without a session token
    ).wait_ready()
    try:
        return measure(name, url, "unused", args, floor.proc.pid)
    finally:
        floor.stop()


# -- report -------------------------------------------------------------------------------------


def conditions() -> list[str]:
    import aiohttp

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    server = redis.Redis.from_url(REDIS_URL)
    redis_version = server.info("server")["redis_version"]
    server.close()
    try:
        import hiredis  # noqa: F401

        parser = "hiredis"
    except ImportError:
        parser = "pure Python"
    return [
        f"cores: {os.cpu_count()} ({len(os.sched_getaffinity(0))} usable), {cpu}",
        f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"python {platform.python_version()}, aiohttp {aiohttp.__version__}, redis-py {redis.__version__} "
        f"({parser} parser), uvloop {_uvloop_version()}, redis-server {redis_version}",
        wrk_version,
    ]


def _uvloop_version() -> str:
    try:
        import uvloop
    except ImportError:
        return "(not installed: asyncio's loop)"
    return uvloop.__version__


def report(results: list[Result], body_size: int, args: argparse.Namespace) -> None:
    floor = next((r for r in results if r.target == "floor"), None)
    rounds = f", median of {args.rounds} runs" if args.rounds > 1 else ""
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency (after a {args.warmup} warm-up{rounds}), "
        f"GET /sessions/whoami, cache hit, body {body_size} bytes"
    )
    print(
        f"{'target':<16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} "
        f"{'req/s vs floor':>14} {'p50 vs floor':>12} {'CPU vs floor':>12}  busy before"
    )
    for r in results:
        ratios = (
            f"{r.requests_per_second / floor.requests_per_second:>13.2f}x {r.p50_ms / floor.p50_ms:>11.2f}x "
            f"{r.cpu_us_per_request / floor.cpu_us_per_request:>11.2f}x"
            if floor
            else f"{'-':>14} {'-':>12} {'-':>12}"
        )
        print(
            f"{r.target:<16} {r.requests_per_second:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.cpu_us_per_request:>10.0f} {ratios}  {r.busy_before:>10.0%}"
        )
    by_target = {r.target: r for r in results}
    for other, what in (("session-baseline", "tracing off vs --baseline"), ("session-traced", "tracing on")):
        if "session" in by_target and other in by_target:
            base, changed = (by_target["session"], by_target[other])
            if other == "session-baseline":
                base, changed = changed, base
            if other == "session-traced":
                what += f" at {args.sampling:g} sampling"
            print(
                f"{what}: CPU per request {changed.cpu_us_per_request / base.cpu_us_per_request - 1:+.1%}, "
                f"req/s {changed.requests_per_second / base.requests_per_second - 1:+.1%}, "
                f"p50 {changed.p50_ms / base.p50_ms - 1:+.1%}"
            )
    for r in results:
        if floor and r.target in GOALS:
            ratio = r.requests_per_second / floor.requests_per_second
            verdict = "met" if ratio >= GOALS[r.target] else "NOT met"
            print(f"whoami {r.target}: {ratio:.2f}x the floor (goal >= {GOALS[r.target]:.1f}x: {verdict})")
    strong = by_target.get("floor-pipelined")
    for r in results:
        if strong and r.target in GOALS:
            print(f"whoami {r.target}: {r.requests_per_second / strong.requests_per_second:.2f}x floor-pipelined")
    noisy = [r.target for r in results if r.busy_before > 0.10]
    if noisy:
        print(f"WARNING: the machine was busy with something else before {', '.join(noisy)}: those figures pay for it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3s per target after a 1s warm-up")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--warmup", default="1s")
    parser.add_argument("--rounds", type=int, default=1, help="runs per target; the median is reported (default 1)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=30.0,
        help="seconds to wait, before each target, for the machine to be under 10%% busy (default 30)",
    )
    parser.add_argument(
        "--targets", default=",".join(DEFAULT_TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}"
    )
    parser.add_argument("--sampling", type=float, default=0.1, help="session-traced's sampling ratio (default 0.1)")
    parser.add_argument("--baseline", help="a checkout of Warden to run session-baseline from")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.rounds, args.wait_idle = "3s", "1s", 1, min(args.wait_idle, 3.0)
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if "session-baseline" in targets and not args.baseline:
        parser.error("session-baseline needs --baseline PATH")

    print("\n".join(conditions()))
    results: list[Result] = []
    body = b""
    with fresh_run() as run:
        migrate(run)
        if "session-baseline" in targets:
            results.append(bench_session_baseline(args))
        if "session" in targets:
            result, body = bench_session(run, args)
            results.append(result)
        if "session-traced" in targets:
            results.append(bench_session_traced(run, args))
        for target in ("all-in-one", "all-in-one-redis"):
            if target in targets:
                measured, body = bench_all_in_one(run, args, target)
                results.append(measured)  # type: ignore[arg-type]
        if {"floor", "floor-pipelined"} & set(targets) and not body:
            _, body = bench_all_in_one(run, None)  # a floor alone still serves a value of a real session's size
        if "floor-pipelined" in targets:
            results.insert(0, bench_floor(run, args, body, client="pipelined"))
        if "floor" in targets:
            results.insert(0, bench_floor(run, args, body))
    report(results, len(body), args)


if __name__ == "__main__":
    main()
