"""Password logins per second under concurrency (argon2id), against a floor measured in the same run,
and whoami latency on a cache hit while those logins saturate the CPU.

    .venv/bin/python bench/login.py [--modes postgres,sqlite,distributed,skeleton] [--quick]
                                    [--memory 19MB] [--iterations 2] [--parallelism 1]
                                    [--users 50] [--concurrency 2xcores] [--duration 15] [--warmup 3]
                                    [--whoami-rate 50] [--profile /tmp/login.svg]

Each mode is a server of its own, measured in turn against the same floor: the all-in-one on
PostgreSQL, the all-in-one on SQLite, and the four services as separate processes (PostgreSQL,
RabbitMQ, Redis; started as tests/e2e start them), and last a skeleton that is not Warden
(bench/login_skeleton.py: the same two requests and six statements per login on the same stack, and
nothing else; what the architecture costs at the least). The last lines sum them up: logins/s, the floor,
the ratio, and the CPU per login outside argon2 (event loops and PostgreSQL; with the four services,
the CPU table shows each one's share). `--quick`: a smoke run of a few seconds per mode. `--profile out.txt`
records every server process with py-spy over the window, one file each (out.identity.txt, ...).

The floor: this machine's cores divided by the time of one argon2id verify at the configured
parameters (argon2-cffi called directly, median of several; its CPU time, which is the wall time
when nothing else runs and is not stretched by waits for a core when something does): what a server
that did nothing but argon2 would reach. Beside it, the floor issue 17 sets its goals against: the
same primitive run on `cores` threads at once (what the machine really gives when every core hashes:
memory bandwidth is shared), measured before the first mode and again after each one; a mode is set
against the mean of the two measurements around it, since a shared VM's speed drifts between modes.

The server: the all-in-one `warden serve --migrate` as a subprocess, on a fresh PostgreSQL database
(dropped afterwards) or SQLite file, and a Redis cache under a unique key prefix (its keys deleted
afterwards), with the in-process bus; or the four services, on a RabbitMQ vhost of the run's own
(deleted afterwards) too; as shipped: the access log on (INFO, the default; its lines go to a file). Its users are imported through the admin batch API with
argon2id hashes made at the very same parameters (so no login re-hashes; checked before the import).

The load: an aiohttp client with C workers, each one login after the other (create a native login
flow, submit identifier and password); after a warm-up, for a bounded time (the measured window),
and then on for the whoami probe. That probe, a separate process, asks whoami for a session already in
the cache at a low fixed rate, once with the server idle and once under the login load, after the
measured window: the server's CPU in the window is the logins' alone, with nothing estimated and
taken off.

The client runs on the same machine and takes CPU the server could have used: its CPU time is
measured, and the ratio to the floor is given raw and with that time taken off the
cores (and, when other processes ran meanwhile, with theirs taken off too). The CPU of every process
over the measured window (server event loop, the hashing pool's threads, the server's other threads,
this database's PostgreSQL backends, Redis, the client, everything else) comes from /proc; from it,
the CPU one login costs on the login path, and the ratio that cost allows: argon2's time over it, a
figure that other load on the machine moves much less than logins/s. "CPU outside argon2" is
everything of the server's but the hashing pool (event loops, every other thread: the access log's
flusher, a resolver's) plus this database's PostgreSQL backends; the hashing threads are told apart
by the lower priority they give themselves (services/identity/hashing/hasher.py), so nothing that
runs on another thread hides in argon2's share. Idle background work (outbox and courier polls) is
measured and shown, not taken off. Everything started is stopped, everything created deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resources import PG_ADMIN, pg  # noqa: E402  (bench/ is on the path when run as a script)

REDIS_URL = os.environ.get("WARDEN_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery staple {}"
TICK = os.sysconf("SC_CLK_TCK")
CORES = len(os.sched_getaffinity(0))
WHOAMI_P99_GOAL_MS = 10.0  # issue 17: whoami's p99 while logins saturate the CPU


# -- the floor ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int
    iterations: int
    parallelism: int
    salt_length: int = 16
    key_length: int = 32

    def config(self) -> dict:
        return {"memory": f"{self.memory_kib}KB", "iterations": self.iterations, "parallelism": self.parallelism}


def _verify_once(params: Argon2Params, salt: bytes, key: bytes) -> bool:
    import hmac

    from argon2.low_level import Type, hash_secret_raw

    derived = hash_secret_raw(
        b"the password", salt, params.iterations, params.memory_kib, params.parallelism, params.key_length, Type.ID
    )
    return hmac.compare_digest(derived, key)


def verify_seconds(params: Argon2Params, samples: int) -> tuple[list[float], list[float]]:
    """One argon2id verify (derive + constant-time compare), timed `samples` times after a warm-up:
    (wall times, CPU times). On a machine nobody else uses they are the same; when
    something else runs, the wall time counts the waits for a core and the CPU time does not."""
    from argon2.low_level import Type, hash_secret_raw

    salt = os.urandom(params.salt_length)
    key = hash_secret_raw(
        b"the password", salt, params.iterations, params.memory_kib, params.parallelism, params.key_length, Type.ID
    )
    _verify_once(params, salt, key)
    walls, cpus = [], []
    for _ in range(samples):
        started, cpu = time.perf_counter(), time.process_time()  # the process's: lanes > 1 are threads
        assert _verify_once(params, salt, key)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def parallel_verifies_per_second(params: Argon2Params, threads: int, seconds: float) -> float:
    """Verifies per second with `threads` threads verifying back to back (argon2-cffi drops the GIL)."""
    from argon2.low_level import Type, hash_secret_raw

    salt = os.urandom(params.salt_length)
    key = hash_secret_raw(
        b"the password", salt, params.iterations, params.memory_kib, params.parallelism, params.key_length, Type.ID
    )
    deadline = time.perf_counter() + seconds

    def worker(_: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            _verify_once(params, salt, key)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(worker, range(threads)))
    return done / (time.perf_counter() - started)


# -- CPU accounting from /proc ------------------------------------------------------------------


def _stat_cpu(path: str) -> tuple[str, float] | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rpartition(")")[2].split()
    return comm, (int(fields[11]) + int(fields[12])) / TICK


def _nice(path: str) -> int:
    """A thread's niceness (0 when it is gone): the hashing pool runs at a lower priority than the
    event loop (`HASHING_NICENESS`), which is how its threads are told from the server's others."""
    try:
        return int(Path(path).read_text().rpartition(")")[2].split()[16])
    except OSError:
        return 0


def _system_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) seconds over all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    total = sum(values[:8])
    return (total - idle - iowait - steal) / TICK, steal / TICK, total / TICK


def _label(pid: int, comm: str, database: str) -> str:
    """Whose CPU a process's is: "postgres" (a backend of the bench's database), "postgres-aux" (the
    PostgreSQL server's own processes, shared with every database), "redis" (shared too), or "other"."""
    if comm == "postgres":
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return "other"
        if f" {database} " in title:
            return "postgres"
        aux = (
            "checkpointer",
            "background writer",
            "walwriter",
            "autovacuum launcher",
            "logical replication",
            "archiver",
            "stats",
            "startup",
            "wal ",
        )
        return "postgres-aux" if title.startswith("/") or any(a in title for a in aux) else "other"
    return "redis" if comm.startswith("redis-server") else "other"


@dataclass
class CpuSnapshot:
    at: float
    system: tuple[float, float, float]
    server_threads: dict[int, float]
    hashing_threads: set[int]  # the threads of the server's hashing pools (their lower priority)
    by_pid: dict[int, tuple[str, float]]  # pid -> (label, CPU seconds)
    client: float  # this process, user + system
    loop_system: float  # the server's event-loop thread, system time alone
    tasks: dict[int, list[int]] = field(default_factory=dict)  # server pid -> its threads

    @classmethod
    def take(cls, server_pids: list[int], database: str) -> CpuSnapshot:
        threads, hashing, tasks = {}, set(), {}
        for server_pid in server_pids:
            main_nice = _nice(f"/proc/{server_pid}/task/{server_pid}/stat")
            tasks[server_pid] = []
            for task in os.listdir(f"/proc/{server_pid}/task"):
                found = _stat_cpu(f"/proc/{server_pid}/task/{task}/stat")
                if found:
                    threads[int(task)] = found[1]
                    tasks[server_pid].append(int(task))
                    if _nice(f"/proc/{server_pid}/task/{task}/stat") > main_nice:
                        hashing.add(int(task))
        by_pid = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                found = _stat_cpu(f"/proc/{entry}/stat")
                if found:
                    by_pid[int(entry)] = (_label(int(entry), found[0], database), found[1])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        loop_system = 0.0
        for server_pid in server_pids:
            try:
                stat = Path(f"/proc/{server_pid}/task/{server_pid}/stat").read_text().rpartition(")")[2].split()
                loop_system += int(stat[12]) / TICK
            except OSError:
                pass
        return cls(
            time.perf_counter(),
            _system_cpu(),
            threads,
            hashing,
            by_pid,
            usage.ru_utime + usage.ru_stime,
            loop_system,
            tasks,
        )


@dataclass(frozen=True)
class CpuWindow:
    seconds: float
    busy: float  # CPU-seconds, all processes
    steal: float
    server_loop: float  # the server's main thread: its event loop
    server_loop_system: float  # of which in the kernel (sockets: loopback TCP is processed by the sender)
    server_threads: float  # the server's hashing pools (argon2)
    server_other_threads: float  # every other thread of the server's (log flusher, resolver, executors)
    client: float
    postgres: float  # the backends of the bench's database
    postgres_aux: float  # the PostgreSQL server's own processes (WAL writer, checkpointer, ...): shared
    redis: float  # shared with whatever else uses this Redis
    other: float  # everything else, the prober included
    by_process: dict[int, float] = field(default_factory=dict)  # server pid -> its CPU outside the hashing pool


def server_cpu(pids: list[int]) -> tuple[float, float]:
    """(event-loop threads, other threads) CPU seconds of the server's processes so far."""
    loop = other = 0.0
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            found = _stat_cpu(f"/proc/{pid}/task/{task}/stat")
            if found:
                if int(task) == pid:
                    loop += found[1]
                else:
                    other += found[1]
    return loop, other


def machine_busy(seconds: float) -> float:
    """The fraction of all CPUs busy over the next `seconds`."""
    before = _system_cpu()
    time.sleep(seconds)
    after = _system_cpu()
    return (after[0] - before[0]) / max(1e-9, after[2] - before[2])


def cpu_window(before: CpuSnapshot, after: CpuSnapshot, server_pids: list[int], exclude: set[int]) -> CpuWindow:
    """`exclude`: the bench's own helper processes, counted under "other" whatever their name."""
    sums: Counter = Counter()
    for pid, (label, seconds) in after.by_pid.items():
        if pid in server_pids or pid == os.getpid():
            continue
        sums["other" if pid in exclude else label] += seconds - before.by_pid.get(pid, (label, 0.0))[1]
    loop = sum(after.server_threads.get(pid, 0.0) - before.server_threads.get(pid, 0.0) for pid in server_pids)
    hashing = after.hashing_threads | before.hashing_threads
    spent = {
        tid: v - before.server_threads.get(tid, 0.0)
        for tid, v in after.server_threads.items()
        if tid not in server_pids
    }
    threads = sum(v for tid, v in spent.items() if tid in hashing)
    other_threads = sum(v for tid, v in spent.items() if tid not in hashing)
    by_process = {
        pid: sum(
            after.server_threads.get(tid, 0.0) - before.server_threads.get(tid, 0.0)
            for tid in after.tasks.get(pid, ())
            if tid not in hashing
        )
        for pid in server_pids
    }
    busy = after.system[0] - before.system[0]
    client = after.client - before.client
    known = loop + threads + other_threads + client + sums["postgres"] + sums["postgres-aux"] + sums["redis"]
    return CpuWindow(
        after.at - before.at,
        busy,
        after.system[1] - before.system[1],
        loop,
        after.loop_system - before.loop_system,
        threads,
        other_threads,
        client,
        sums["postgres"],
        sums["postgres-aux"],
        sums["redis"],
        max(0.0, busy - known),
        by_process,
    )


# -- resources and the server -------------------------------------------------------------------


PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")


def pg_counters(database: str) -> dict[str, int]:
    """pg_stat_database for one database. Backends flush their counts at most once a second while
    busy and at exit: read it again after the server has stopped."""
    import asyncpg

    async def fetch() -> dict[str, int]:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            row = await conn.fetchrow(
                f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = $1",  # noqa: S608 (constants)
                database,
            )
            return dict(row)
        finally:
            await conn.close()

    return asyncio.run(fetch())


MODES = ("postgres", "sqlite", "distributed")
# Not Warden: bench/login_skeleton.py, the same six statements and two requests per login on the same
# stack with nothing else, to tell Warden's own cost from the architecture's (`--modes postgres,skeleton`).
SKELETON = "skeleton"
PROBE_MARGIN = 0.5  # seconds between the measured window's end and the whoami probe
AMQP_URL = os.environ.get("WARDEN_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
DISTRIBUTED = ("identity", "session", "courier", "selfservice")  # started in this order (who calls whom)


@dataclass(frozen=True)
class Run:
    name: str
    mode: str  # one of MODES
    dsn: str
    redis_prefix: str
    workdir: Path
    bus_url: str = ""  # a RabbitMQ vhost of the run's own (distributed mode)

    @property
    def postgres(self) -> bool:
        return self.mode != "sqlite"


@contextmanager
def fresh_run(mode: str) -> Iterator[Run]:
    """A database of the run's own (a fresh PostgreSQL database, or a SQLite file), a Redis key
    prefix and, for the distributed mode, a RabbitMQ vhost; all deleted afterwards."""
    import redis

    name = f"warden_bench_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix=name) as workdir:
        if mode == "sqlite":
            dsn = f"sqlite://{workdir}/warden.sqlite"
        else:
            pg(f'CREATE DATABASE "{name}"')
            dsn = f"postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"
        bus_url = ""
        if mode == "distributed":
            subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
            permissions = ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"]
            subprocess.run(permissions, check=True, capture_output=True)
            bus_url = f"{AMQP_URL.rstrip('/')}/{name}"
        try:
            yield Run(name, mode, dsn, f"{name}:", Path(workdir), bus_url)
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{name}:*"))
            if keys:
                client.delete(*keys)
            client.close()
            if mode == "distributed":
                subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)
            if mode != "sqlite":
                pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def http(
    method: str, url: str, body: object = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Server:
    """Warden as child processes, their output kept in a file for failures: the all-in-one `warden
    serve --migrate`, or (distributed mode) `warden migrate` and then `warden serve <service>` for
    each of the four services, on PostgreSQL, RabbitMQ and Redis, the way tests/e2e start them."""

    def __init__(self, run: Run, params: Argon2Params, dev: bool) -> None:
        from tests.factories import write_config

        extra = {
            "hashers": {"algorithm": "argon2", "argon2": params.config()},
            "cache": {"url": REDIS_URL, "prefix": run.redis_prefix},
        }
        config = write_config(run.workdir, run.dsn, extra)
        self._log = open(run.workdir / "warden.log", "w+")  # noqa: SIM115 (closed in stop)
        self.procs: list[subprocess.Popen] = []
        self.names: list[str] = []  # the service each process is ("all-in-one", or one of DISTRIBUTED)
        if run.mode == "distributed":
            self._start_services(run, config, dev)
        elif run.mode == SKELETON:
            self._start_skeleton(run)
        else:
            import yaml

            serve = yaml.safe_load(config.read_text())["serve"]
            self.public = self.session_public = f"http://127.0.0.1:{serve['public']['port']}"
            self.admin = f"http://127.0.0.1:{serve['admin']['port']}"
            self._start(["serve", "-c", str(config), "--migrate"], {}, dev, [self.public, self.admin])
            self.names.append("all-in-one")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def services(self) -> dict[int, str]:
        return dict(zip(self.pids, self.names, strict=True))

    def _start_services(self, run: Run, config: Path, dev: bool) -> None:
        from tests.conftest import free_port

        env = {"BUS_URL": run.bus_url, "SERVICES_INTERNAL_TOKEN": f"bench-{run.name}"}
        migrate = [sys.executable, "-m", "warden.cli", "migrate", "sql", "-e", "--yes", "-c", str(config)]
        done = subprocess.run(migrate, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"warden migrate failed:\n{done.stderr[-3000:]}")
        for service in DISTRIBUTED:
            public, admin, grpc = free_port(), free_port(), free_port()
            ports = {"SERVE_PUBLIC_PORT": str(public), "SERVE_ADMIN_PORT": str(admin), "SERVE_GRPC_PORT": str(grpc)}
            urls = [f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}"]
            self._start(["serve", service, "-c", str(config)], {**env, **ports}, dev, urls)
            self.names.append(service)
            env[f"SERVICES_{service.upper()}_INTERNAL_URL"] = urls[1]
            if service == "identity":
                self.admin = urls[1]  # the admin identity API (the import)
            elif service == "session":
                self.session_public = urls[0]  # whoami
            elif service == "selfservice":
                self.public = urls[0]  # the login flows

    def _start_skeleton(self, run: Run) -> None:
        from tests.conftest import free_port

        port = free_port()
        self.public = self.session_public = self.admin = f"http://127.0.0.1:{port}"
        command = [sys.executable, str(ROOT / "bench" / "login_skeleton.py"), "--dsn", run.dsn.split("?")[0]]
        command += ["--port", str(port), "--redis", REDIS_URL, "--prefix", run.redis_prefix]
        command += ["--access-log", str(run.workdir / "access.log")]
        self._start([], {}, False, [self.public], command)
        self.names.append(SKELETON)

    def _start(
        self, args: list[str], env: dict[str, str], dev: bool, ready: list[str], command: list[str] | None = None
    ) -> None:
        command = command or [sys.executable, "-m", "warden.cli", *args, *(["--dev"] if dev else [])]
        environment = {**os.environ, "LOG_LEVEL": "info", **env}  # the access log on, as shipped
        environment.pop("DSN", None)
        proc = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        pending = [f"{url}/health/ready" for url in ready]
        while pending:
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"warden {' '.join(args[:2])} did not start:\n{self.log_tail()}")
            pending = [url for url in pending if http("GET", url, timeout=2)[0] != 200]
            time.sleep(0.05)

    def log_tail(self) -> str:
        self._log.flush()
        return (Path(self._log.name).read_text())[-3000:]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -signal.SIGTERM):
                print(f"warning: warden exited with {proc.returncode}:\n{self.log_tail()}", file=sys.stderr)
        self._log.close()


# -- users and a cached session -----------------------------------------------------------------


def import_users(server: Server, params: Argon2Params, count: int, tag: str) -> list[tuple[str, str]]:
    """`count` identities with argon2id hashes at `params`, imported in batches of at most 200."""
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    from services.identity.hashing import Hasher, hasher_config_from

    hasher = PasswordHasher(
        time_cost=params.iterations,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=params.key_length,
        salt_len=params.salt_length,
        type=Type.ID,
    )
    users = [(f"login-{tag}-{i}@bench.example", PASSWORD.format(i)) for i in range(count)]
    with ThreadPoolExecutor(CORES) as pool:
        hashes = list(pool.map(lambda user: hasher.hash(user[1]), users))
    server_hasher = Hasher(
        hasher_config_from({"algorithm": "argon2", "argon2": params.config()}, dev=True), max_workers=1
    )
    assert not server_hasher.needs_rehash(hashes[0]), "the imported hashes would be re-hashed at login"
    server_hasher.close()
    for start in range(0, count, 200):
        items = [
            {
                "patch_id": str(uuid.uuid4()),
                "create": {
                    "schema_id": "default",
                    "traits": {"email": email},
                    "credentials": {"password": {"config": {"hashed_password": encoded}}},
                },
            }
            for (email, _), encoded in zip(users[start : start + 200], hashes[start : start + 200], strict=True)
        ]
        status, body = http("PATCH", f"{server.admin}/admin/identities", {"identities": items}, timeout=120)
        results = json.loads(body).get("identities", []) if status == 200 else []
        if status != 200 or any(r.get("action") != "create" for r in results):
            raise SystemExit(f"import failed ({status}): {body[:500]!r}")
    return users


def login_once(server: Server, email: str, password: str) -> str:
    status, body = http("GET", f"{server.public}/self-service/login/api")
    assert status == 200, body[:300]
    flow = json.loads(body)["id"]
    status, body = http(
        "POST",
        f"{server.public}/self-service/login?flow={flow}",
        {"method": "password", "identifier": email, "password": password},
    )
    assert status == 200 and b"session_token" in body, body[:300]
    return json.loads(body)["session_token"]


def primed_session(server: Server, run: Run, email: str, password: str) -> str:
    """A session token whose whoami answer is in the Redis cache."""
    import redis

    token = login_once(server, email, password)
    status, body = http("GET", f"{server.session_public}/sessions/whoami", headers={"X-Session-Token": token})
    assert status == 200, body[:300]
    client = redis.Redis.from_url(REDIS_URL)
    cached = client.exists(f"{run.redis_prefix}session:{hashlib.sha256(token.encode()).hexdigest()}")
    client.close()
    assert cached, "the whoami answer is not in the Redis cache: the probe would not measure a cache hit"
    return token


# -- the whoami prober (its own process) --------------------------------------------------------


def probe_main(url: str, token: str, rate: float, start_at: float, seconds: float) -> None:
    """Runs in a child process: whoami at a fixed rate on one keep-alive connection; prints JSON."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"X-Session-Token": token, "Accept": "application/json"}

    def ask() -> tuple[int, float]:
        started = time.perf_counter()
        conn.request("GET", parts.path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, (time.perf_counter() - started) * 1000

    ask()  # connect
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    latencies: list[float] = []
    errors = 0
    begin = time.perf_counter()
    cpu_before = time.process_time()
    i = 0
    while (elapsed := time.perf_counter() - begin) < seconds:
        due = i / rate
        if due > elapsed:
            time.sleep(due - elapsed)
        status, ms = ask()
        if status == 200:
            latencies.append(ms)
        else:
            errors += 1
        i += 1
    print(json.dumps({"latencies_ms": latencies, "errors": errors, "cpu": time.process_time() - cpu_before}))


class Prober:
    def __init__(self, url: str, token: str, rate: float, start_at: float, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--whoami-probe", url, token, str(rate), repr(start_at), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )

    def result(self) -> dict:
        out, _ = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0:
            raise SystemExit(f"the whoami prober failed ({self.proc.returncode})")
        return json.loads(out)


# -- the login load -----------------------------------------------------------------------------


@dataclass
class LoadResult:
    window: float = 0.0
    completed: int = 0  # successful logins, warm-up and tail included
    logins: list[float] = field(default_factory=list)  # ms, flow creation + submission
    submits: list[float] = field(default_factory=list)  # ms, the submission alone
    failures: Counter = field(default_factory=Counter)
    cpu: CpuWindow | None = None
    probe: dict | None = None


async def login_load(
    server: Server,
    users: list[tuple[str, str]],
    concurrency: int,
    warmup: float,
    seconds: float,
    on_window: dict,
    tail: float = 0.0,
) -> LoadResult:
    """C workers, each logging in back to back; only logins completed inside the window are counted.
    The load goes on for `tail` seconds after the window (the whoami probe's time)."""
    import aiohttp

    result = LoadResult()
    window: dict[str, float] = {}
    stop = asyncio.Event()
    login_url = f"{server.public}/self-service/login"
    loop = asyncio.get_running_loop()

    async def worker(n: int, http_client: aiohttp.ClientSession) -> None:
        i = n
        while not stop.is_set():
            email, password = users[i % len(users)]
            i += concurrency
            started = time.perf_counter()
            try:
                async with http_client.get(f"{login_url}/api") as response:
                    flow = (await response.json())["id"] if response.status == 200 else None
                    if flow is None:
                        await response.read()
                        outcome, submitted = f"flow {response.status}", started
                    else:
                        submitted = time.perf_counter()
                        async with http_client.post(
                            login_url,
                            params={"flow": flow},
                            json={"method": "password", "identifier": email, "password": password},
                        ) as answer:
                            body = await answer.read()
                            outcome = (
                                "ok"
                                if answer.status == 200 and b'"session_token"' in body
                                else f"login {answer.status}"
                            )
            except (TimeoutError, aiohttp.ClientError) as exc:
                outcome, submitted = type(exc).__name__, started
            ended = time.perf_counter()
            result.completed += outcome == "ok"
            if window.get("start", float("inf")) <= ended <= window.get("end", float("inf")):
                if outcome == "ok":
                    result.logins.append((ended - started) * 1000)
                    result.submits.append((ended - submitted) * 1000)
                else:
                    result.failures[outcome] += 1

    async def clock() -> None:
        await asyncio.sleep(warmup)
        on_window["before"] = await loop.run_in_executor(None, on_window["start"])
        window["start"] = time.perf_counter()
        await asyncio.sleep(seconds)
        window["end"] = time.perf_counter()
        on_window["after"] = await loop.run_in_executor(None, on_window["end"])
        await asyncio.sleep(tail)
        stop.set()

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"Accept": "application/json"}
    ) as http_client:
        await asyncio.gather(clock(), *(worker(n, http_client) for n in range(concurrency)))
    result.window = window["end"] - window["start"]
    return result


# -- report -------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def conditions() -> list[str]:
    from importlib.metadata import version

    import aiohttp

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return [
        f"machine: {os.cpu_count()} cores ({CORES} usable), {cpu}; load average before: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"python {platform.python_version()}, aiohttp {aiohttp.__version__}, argon2-cffi {version('argon2-cffi')}, "
        f"argon2-cffi-bindings {version('argon2-cffi-bindings')}",
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--whoami-probe":
        url, token, rate, start_at, seconds = sys.argv[2:7]
        probe_main(url, token, float(rate), float(start_at), float(seconds))
        return

    from shared.units import parse_byte_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--memory", default="19MB", help="hashers.argon2.memory (default 19MB, OWASP's minimum with t=2, p=1)"
    )
    parser.add_argument(
        "--modes",
        default=",".join((*MODES, SKELETON)),
        help=f"servers to measure, in order, comma-separated (default {','.join((*MODES, SKELETON))})",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds per mode")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2 * CORES, help="login workers (default 2 x cores)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring (default 3)")
    parser.add_argument("--whoami-rate", type=float, default=50.0, help="whoami requests per second (default 50)")
    parser.add_argument(
        "--probe", type=float, default=8.0, help="seconds of whoami under the login load, after the window (default 8)"
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=1.5,
        help="seconds of an idle server, to measure its background CPU (default 1.5)",
    )
    parser.add_argument("--idle-whoami", type=float, default=3.0, help="seconds of whoami with the server idle")
    parser.add_argument("--samples", type=int, default=7, help="single verifies timed for the floor (default 7)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=15.0,
        help="wait up to this many seconds for the machine to be under 10%% busy (default 15)",
    )
    parser.add_argument(
        "--profile",
        help="py-spy record the server over the window into this file (.svg flame graph, or .txt for collapsed stacks)",
    )
    args = parser.parse_args()
    if any(mode not in (*MODES, SKELETON) for mode in args.modes.split(",")):
        parser.error(f"--modes: choose among {', '.join((*MODES, SKELETON))}")
    if args.quick:
        args.duration, args.warmup, args.quiet, args.idle_whoami, args.probe = 3.0, 1.0, 0.5, 1.0, 2.0
        args.samples, args.users, args.wait_idle = 3, 10, 0.0

    params = Argon2Params(parse_byte_size(args.memory) // 1024, args.iterations, args.parallelism)
    waited, busy = 0.0, machine_busy(1.0)
    while busy > 0.10 and waited < args.wait_idle:
        busy = machine_busy(1.0)
        waited += 1.0
    dev = params.memory_kib < 19 * 1024 or params.iterations < 2  # else the server raises them to OWASP's minimums
    started = time.perf_counter()
    print("\n".join(conditions()))
    print(
        f"machine busy before the run: {busy:.0%} of all CPUs over 1 s"
        + (f" (after waiting {waited:.0f} s for it to go under 10%)" if waited else "")
        + ("  WARNING: something else is running; the figures below pay for it" if busy > 0.10 else "")
    )
    print(
        f"argon2id m={params.memory_kib}KiB ({params.memory_kib / 1024:g}MiB) t={params.iterations} "
        f"p={params.parallelism}, salt {params.salt_length} B, key {params.key_length} B"
        + (" (server in --dev mode: below OWASP's minimums)" if dev else "")
    )

    walls, cpus = verify_seconds(params, args.samples)
    verify = statistics.median(cpus)
    floor = CORES / verify
    parallel = parallel_verifies_per_second(params, CORES, max(3.0, 6 * verify))  # before the first mode
    print(
        f"one verify (argon2-cffi, median of {args.samples}): {verify * 1000:.1f} ms of CPU "
        f"[{min(cpus) * 1000:.1f}..{max(cpus) * 1000:.1f}], wall {statistics.median(walls) * 1000:.1f} ms "
        f"[{min(walls) * 1000:.1f}..{max(walls) * 1000:.1f}] (the floor takes the CPU time: "
        f"the same when nothing else runs, and not lengthened by waits for a core when something does)"
    )
    print(
        f"FLOOR = {CORES} cores / {verify * 1000:.1f} ms = {floor:.2f} logins/s"
        f"   (for information: argon2 alone on {CORES} threads at once: {parallel:.2f} verifies/s, "
        f"{parallel / floor:.0%} of the floor)"
    )

    # The machine's speed drifts from minute to minute on a shared VM: argon2 on every core is
    # measured again after each mode, and a mode is set against the mean of the two around it.
    parallel_seconds = max(3.0, 6 * verify)
    summaries, before = [], parallel
    for mode in args.modes.split(","):
        row = measure(args, params, dev, mode, verify, floor)
        after = parallel_verifies_per_second(params, CORES, parallel_seconds)
        print(
            f"  argon2 alone on {CORES} threads at once, after this mode: {after:.2f} verifies/s (before it: {before:.2f})"
        )
        summaries.append({**row, "parallel": (before + after) / 2, "bracket": (before, after)})
        before = after
    print()
    print(
        f"SUMMARY (argon2id {params.memory_kib / 1024:g}MiB t={params.iterations} p={params.parallelism}, "
        f"floor {floor:.2f} logins/s; load average now " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + ")"
    )
    print(
        f"  {'mode':<40} {'logins/s':>9} {'floor':>7} {'ratio':>7} {'ratio, client off':>18} "
        f"{'vs argon2 on every core':>24} {'CPU ms/login outside argon2':>28} {'argon2 on every core, before..after':>36}"
    )
    for row in summaries:
        bracket = "{:.1f}..{:.1f}/s".format(*row["bracket"])
        print(
            f"  {row['label']:<40} {row['rate']:9.2f} {floor:7.2f} {row['rate'] / floor:7.1%} "
            f"{row['rate'] / row['client_floor']:18.1%} {row['rate'] / row['parallel']:24.1%} "
            f"{row['outside_ms']:28.1f} {bracket:>36}"
        )
    print(
        "  (goals: all-in-one on PostgreSQL >= 85% and <= 3 ms outside argon2; distributed >= 70%. "
        "'CPU outside argon2': per login over a window with logins alone, the server's event loops and "
        "threads other than its hashing pool, and this database's PostgreSQL backends. 'vs argon2 on every "
        f"core': against argon2 alone on {CORES} threads at once, the mean of its rate measured just before and "
        "just after the mode (last column), the floor as issue 17 words it; the floor above divides the cores by "
        "one verify's CPU time. "
        "On a shared VM the two differ by up to 15% either way from run to run)"
    )
    if any(row["label"] == LABELS[SKELETON] for row in summaries):
        print(
            "  (skeleton: not Warden but bench/login_skeleton.py, the two requests and six statements of "
            "Warden's login and nothing else, on the same stack: what this architecture costs in Python at "
            "the least; Warden's figures above it are Warden's own cost)"
        )
    print(f"(the whole run took {time.perf_counter() - started:.0f} s; databases dropped, Redis keys deleted)")


LABELS = {
    "postgres": "all-in-one, PostgreSQL",
    "sqlite": "all-in-one, SQLite",
    "distributed": "4 processes, PostgreSQL+RabbitMQ+Redis",
    SKELETON: "skeleton (not Warden), PostgreSQL",
}


def measure(args: argparse.Namespace, params: Argon2Params, dev: bool, mode: str, verify: float, floor: float) -> dict:
    """One server (all-in-one on an engine, or the distributed services) under the login load;
    prints its report and returns its summary row."""
    print(f"\n==== {LABELS[mode]} ====")
    pg = dict.fromkeys(PG_COUNTERS, 0)
    with fresh_run(mode) as run:
        server = Server(run, params, dev)
        try:
            users = import_users(server, params, args.users, run.name[-10:])
            token = primed_session(server, run, *users[0])
            whoami = f"{server.session_public}/sessions/whoami"
            print(
                f"server: {LABELS[mode]}, pids {server.pids}, database {run.dsn.split('?')[0]} (fresh), "
                f"cache Redis prefix {run.redis_prefix!r}, bus {'RabbitMQ vhost ' + run.name if run.bus_url else 'in-process'}, "
                f"access log on (LOG_LEVEL=info); {args.users} users imported with argon2id hashes at the same parameters"
            )

            time.sleep(0.5)
            quiet_start, quiet_cpu = time.perf_counter(), server_cpu(server.pids)
            time.sleep(args.quiet)
            quiet_cpu2 = server_cpu(server.pids)
            background = (quiet_cpu2[0] - quiet_cpu[0]) / (time.perf_counter() - quiet_start)
            idle_start = time.perf_counter()
            idle = Prober(whoami, token, args.whoami_rate, time.time() + 0.3, args.idle_whoami).result()
            idle_cpu = server_cpu(server.pids)
            idle_loop = idle_cpu[0] - quiet_cpu2[0] - background * (time.perf_counter() - idle_start)
            per_whoami = max(0.0, idle_loop) / max(1, len(idle["latencies_ms"]) + idle["errors"])

            # py-spy covers the measured window; the prober comes after it, under the same load (it
            # waits for its start time), so that the window's CPU is the logins' and nothing else's.
            probe_start = time.time() + args.warmup + args.duration + PROBE_MARGIN
            prober = Prober(whoami, token, args.whoami_rate, probe_start, args.probe)
            spy: list[subprocess.Popen] = []

            def window_start() -> CpuSnapshot:
                if args.profile:
                    fmt = "raw" if args.profile.endswith(".txt") else "flamegraph"
                    for pid, output in profile_outputs(args.profile, server.services).items():
                        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
                        command += ["--threads", "--nonblocking", "-r", "100", "-f", fmt, "-o", output]
                        command += ["-d", str(int(args.duration))]
                        spy.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                return CpuSnapshot.take(server.pids, run.name)

            hooks = {"start": window_start, "end": lambda: CpuSnapshot.take(server.pids, run.name)}
            pg_before = pg_counters(run.name) if run.postgres else pg
            tail = args.probe + 2 * PROBE_MARGIN
            load = asyncio.run(login_load(server, users, args.concurrency, args.warmup, args.duration, hooks, tail))
            load.probe = prober.result()
            for process in spy:
                process.wait(60)
            load.cpu = cpu_window(
                hooks["before"], hooks["after"], server.pids, {prober.proc.pid, *(p.pid for p in spy)}
            )
        finally:
            server.stop()
        if run.postgres:
            pg = {k: v - pg_before[k] for k, v in pg_counters(run.name).items()}

    return {
        "label": LABELS[mode],
        **report(args, server.services, params, verify, floor, load, idle, background, per_whoami, pg),
    }


def profile_outputs(path: str, names: dict[int, str]) -> dict[int, str]:
    """One py-spy output per server process (`names`: pid -> service): `path` itself for one process,
    else `path` with the service's name before its extension (/tmp/login.txt -> /tmp/login.identity.txt)."""
    if len(names) == 1:
        return dict.fromkeys(names, path)
    stem, dot, ext = path.rpartition(".")
    return {pid: f"{stem}.{name}.{ext}" if dot else f"{path}.{name}" for pid, name in names.items()}


def report(
    args: argparse.Namespace,
    names: dict[int, str],
    params: Argon2Params,
    verify: float,
    floor: float,
    load: LoadResult,
    idle: dict,
    background: float,
    per_whoami: float,
    pg: dict[str, int],
) -> dict:
    cpu = load.cpu
    assert cpu is not None and load.probe is not None
    ok = len(load.logins)
    rate = ok / load.window
    failures = sum(load.failures.values())
    others = cpu.other

    def per_login(seconds: float) -> str:
        return f"{seconds / ok * 1000:6.1f} ms/login" if ok else "      - ms/login"

    print()
    print(
        f"LOAD: {args.concurrency} workers (create flow + submit, back to back) for {load.window:.1f} s "
        f"after {args.warmup:g} s of warm-up"
    )
    print(f"  logins: {ok} ok, {failures} failed" + (f" {dict(load.failures)}" if failures else ""))
    print(
        f"  LOGINS/S: {rate:.2f}   latency per login p50 {pct(load.logins, 50):.0f} ms, "
        f"p99 {pct(load.logins, 99):.0f} ms (submission alone p50 {pct(load.submits, 50):.0f} ms, "
        f"p99 {pct(load.submits, 99):.0f} ms)"
    )
    print(f"  RATIO TO THE FLOOR, raw: {rate:.2f} / {floor:.2f} = {rate / floor:.1%}")
    client_cores = cpu.client / cpu.seconds
    client_floor = (CORES - client_cores) / verify
    print(
        f"  the client runs on this same {CORES}-core machine and steals CPU from the server: the load client "
        f"used {cpu.client:.2f} CPU-s in {cpu.seconds:.1f} s, {client_cores:.2f} cores;"
    )
    print(
        f"  ratio with the client's CPU accounted for: floor ({CORES} - {client_cores:.2f}) cores / "
        f"{verify * 1000:.1f} ms = {client_floor:.2f} logins/s, ratio {rate / client_floor:.1%}"
    )
    if others / cpu.seconds > 0.05:
        left = (CORES - client_cores - others / cpu.seconds) / verify
        print(
            f"  other processes on the machine (not this bench's) took {others / cpu.seconds:.2f} cores meanwhile; "
            f"with them accounted for too: floor {left:.2f} logins/s, ratio {rate / left:.1%}"
        )
    outside = cpu.server_loop + cpu.server_other_threads + cpu.postgres
    spent = outside + cpu.server_threads
    if ok:
        print(
            f"  CPU per login on the login path (the server's event loops, hashing pool and other threads + "
            f"this database's PostgreSQL backends): {spent / ok * 1000:.1f} ms, of which argon2 alone "
            f"{verify * 1000:.1f} ms: the ratio it allows with every core on logins is {verify / (spent / ok):.1%}"
        )

    print()
    print(
        f"CPU over the window ({cpu.seconds:.1f} s x {CORES} cores = {cpu.seconds * CORES:.1f} CPU-s; "
        f"busy {cpu.busy:.1f} CPU-s = {cpu.busy / (cpu.seconds * CORES):.0%}, steal {cpu.steal:.2f} s):"
    )
    rows = [
        ("server: event-loop thread(s)", cpu.server_loop),
        ("  of it, at the idle rate: background", background * cpu.seconds),
        ("server: other threads (not hashing)", cpu.server_other_threads),
        ("server: hashing pool (argon2)", cpu.server_threads),
        ("PostgreSQL: the bench database's backends", cpu.postgres),
        ("PostgreSQL: its own processes (shared)", cpu.postgres_aux),
        ("Redis (shared)", cpu.redis),
        ("load client (this process)", cpu.client),
        ("everything else on the machine", others),
    ]
    if len(names) > 1:  # each service's event loop and threads but its hashing pool
        rows[3:3] = [(f"  outside argon2, {names[pid]}", seconds) for pid, seconds in cpu.by_process.items()]
    for label, seconds in rows:
        print(f"  {label:<42} {seconds:6.2f} CPU-s  {seconds / cpu.seconds:5.2f} cores  {per_login(seconds)}")
    print(
        f"  (event-loop thread: {cpu.server_loop - cpu.server_loop_system:.2f} s user, "
        f"{cpu.server_loop_system:.2f} s system; measured with the server idle, for information: background "
        f"{background * 1000:.1f} ms/s, {per_whoami * 1000:.2f} ms per whoami)"
    )
    n = max(1, load.completed)
    print(
        f"  PostgreSQL per login (pg_stat_database over the whole load, {load.completed} logins, warm-up and the "
        f"outbox relays' idle polls included): {pg['xact_commit'] / n:.1f} commits, "
        f"{pg['xact_rollback'] / n:.1f} rollbacks, rows returned {pg['tup_returned'] / n:.0f}, fetched "
        f"{pg['tup_fetched'] / n:.0f}, inserted {pg['tup_inserted'] / n:.1f}, updated {pg['tup_updated'] / n:.1f}"
    )

    print()
    under = load.probe["latencies_ms"]
    quiet = idle["latencies_ms"]
    print(f"WHOAMI, cache hit ({args.whoami_rate:g}/s from a separate process, one keep-alive connection):")
    print(
        f"  idle server:  {len(quiet):4} requests, p50 {pct(quiet, 50):6.2f} ms, p99 {pct(quiet, 99):6.2f} ms, "
        f"max {max(quiet, default=float('nan')):6.2f} ms, errors {idle['errors']}"
    )
    print(
        f"  under logins: {len(under):4} requests, p50 {pct(under, 50):6.2f} ms, P99 {pct(under, 99):6.2f} ms, "
        f"max {max(under, default=float('nan')):6.2f} ms, errors {load.probe['errors']}   "
        f"(issue 17's goal p99 < {WHOAMI_P99_GOAL_MS:g} ms: {'met' if pct(under, 99) < WHOAMI_P99_GOAL_MS else 'NOT met'})"
    )
    if args.profile:
        print(
            f"\nprofile of each server process over the window (py-spy, 100 Hz, all threads; py-spy's own CPU is "
            f"in 'everything else'): {', '.join(f'{names[pid]} {out}' for pid, out in profile_outputs(args.profile, names).items())}"
        )
    return {"rate": rate, "client_floor": client_floor, "outside_ms": outside / ok * 1000 if ok else float("nan")}


if __name__ == "__main__":
    main()
