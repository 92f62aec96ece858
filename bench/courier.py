"""Courier throughput to a local SMTP server: messages per second of one courier process, against
the goal of 200/s and against a floor measured in the same run.

    .venv/bin/python bench/courier.py [--messages 2000] [--modes floor,rabbitmq,embedded] [--quick]

Every mode sends the same kind of message (a verification code, rendered from the built-in
templates) to bench/smtp_sink.py, an aiosmtpd server in a process of its own that prints each
Message-ID it accepts; the clock runs from the first message handed over to the last one accepted.

  rabbitmq  `warden serve courier` on PostgreSQL and RabbitMQ (a database and a virtual host of the
            run's own, dropped afterwards), as in production: this script publishes
            `courier.message.requested` commands to the exchange, as the other services' outbox
            relays do, and the courier stores, renders and sends them.
  embedded  the courier alone in a child process on SQLite with the in-process bus, the embedded
            default; the child publishes the commands on its own bus.
  floor     aiosmtplib alone in a child process: an email of the same size, built the courier's way
            (services/courier/channels/wire.py), over as many reused connections as the courier
            sends side by side, nothing stored. What one Python process pushes into this server at best.

Each message must arrive exactly once; a duplicate or a missing message fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from stack import Warden, free_port, fresh_database, fresh_vhost, load_average, migrate  # noqa: E402

GOAL = 200.0  # messages/s per courier process (issue 17)
MODES = ("floor", "rabbitmq", "embedded")
EXCHANGE = "warden"
FLOOR_CONNECTIONS = 10


class Sink:
    """bench/smtp_sink.py as a child; a thread counts the ids it prints and when they came."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench/smtp_sink.py"), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP sink did not start")
        self.ids: Counter[str] = Counter()
        self.last_at = 0.0
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"smtp://127.0.0.1:{self.port}/?disable_starttls=true"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.ids[line.strip()] += 1
                self.last_at = time.monotonic()

    def reset(self) -> None:
        with self._lock:
            self.ids.clear()
            self.last_at = 0.0

    def received(self) -> int:
        with self._lock:
            return sum(self.ids.values())

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.received() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        time.sleep(0.5)  # a duplicate sent right after the last message still counts
        return True

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def command(recipient: str) -> dict[str, Any]:
    """The `courier.message.requested` envelope a verification code would send."""
    return {
        "id": str(uuid.uuid4()),
        "type": "courier.message.requested",
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "source": "bench",
        "data": {
            "template_type": "verification_code_valid",
            "recipient": recipient,
            "template_data": {
                "VerificationCode": "314159",
                "VerificationURL": "https://id.example/self-service/verification?code=314159",
                "ExpiresInMinutes": 15,
            },
        },
    }


def courier_config(workdir: Path, dsn: str, bus: str, smtp_uri: str) -> Path:
    # A courier of its own needs a shared cache; it keeps nothing there that needs cleaning up.
    cache = os.environ.get("WARDEN_BENCH_REDIS", "redis://127.0.0.1:6379/0") if bus != "memory" else "memory"
    config = {
        "dsn": dsn,
        "bus": {"url": bus, "exchange": EXCHANGE},
        "cache": {"url": cache, "prefix": f"warden_bench_courier_{uuid.uuid4().hex[:10]}:"},
        "courier": {"smtp": {"connection_uri": smtp_uri, "from_address": "no-reply@bench.example"}},
        "secrets": {"cookie": ["bench-courier-cookie-secret-0123456789"]},
    }
    path = workdir / "courier.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


# -- the modes ----------------------------------------------------------------------------------


class Measured:
    def __init__(self, mode: str, messages: int, seconds: float, cpu: float, duplicates: int, missing: int) -> None:
        self.mode, self.messages, self.seconds = mode, messages, seconds
        self.cpu_ms = cpu / max(1, messages) * 1000  # the sender's CPU time per message: steadier than the rate
        self.duplicates, self.missing = duplicates, missing

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _measure(mode: str, sink: Sink, count: int, started: float, timeout: float, pid: int, cpu: float) -> Measured:
    arrived = sink.wait_for(count, timeout)
    cpu = cpu_seconds(pid) - cpu
    with sink._lock:
        ids, last_at = Counter(sink.ids), sink.last_at
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    missing = 0 if arrived else count - len(ids)
    return Measured(mode, len(ids), max(1e-6, last_at - started), cpu, duplicates, missing)


def run_child(mode: str, sink: Sink, count: int, workdir: Path, timeout: float) -> Measured:
    """floor and embedded: a child of this script that prints `go` just before its first send."""
    child = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            f"--child-{mode}",
            "--messages",
            str(count),
            "--smtp",
            sink.uri,
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        cwd=workdir,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        started, cpu = time.monotonic(), cpu_seconds(child.pid)
        if line != "go":
            raise SystemExit(f"{mode}: the child did not start ({line!r})")
        return _measure(mode, sink, count, started, timeout, child.pid, cpu)
    finally:
        child.terminate()
        child.wait(20)


def run_rabbitmq(sink: Sink, count: int, workdir: Path, timeout: float, profile: str | None) -> Measured:
    with fresh_database("warden_bench_courier") as dsn, fresh_vhost("warden_bench_courier") as amqp:
        config = courier_config(workdir, dsn, amqp, sink.uri)
        migrate({}, workdir, config)
        # A service alone in its process needs the token the services share (it refuses to start without).
        token = {"SERVICES_INTERNAL_TOKEN": f"bench-courier-{uuid.uuid4().hex}"}
        courier = Warden("courier", ["serve", "courier", "-c", str(config)], token, workdir).wait_ready()
        try:
            spy = py_spy(courier.proc.pid, profile) if profile else None
            started, cpu = time.monotonic(), cpu_seconds(courier.proc.pid)
            asyncio.run(publish(amqp, count))
            print(f"  (published {count} commands in {time.monotonic() - started:.2f} s)")
            measured = _measure("rabbitmq", sink, count, started, timeout, courier.proc.pid, cpu)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
                print(f"  (py-spy profile of the courier: {profile})")
            return measured
        finally:
            courier.stop()


def py_spy(pid: int, output: str) -> subprocess.Popen[bytes]:
    fmt = "raw" if output.endswith(".txt") else "flamegraph"
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "--gil", "-r", "100", "-f", fmt]
    return subprocess.Popen([*command, "-o", output], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def publish(url: str, count: int) -> None:
    """As an outbox relay does: persistent messages, each confirmed by the broker."""
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)
        for start in range(0, count, 100):
            batch = [command(f"user{n}@bench.example") for n in range(start, min(count, start + 100))]
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            json.dumps(envelope).encode(),
                            message_id=envelope["id"],
                            type=envelope["type"],
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=envelope["type"],
                    )
                    for envelope in batch
                )
            )
    finally:
        await connection.close()


# -- the children -------------------------------------------------------------------------------


async def child_floor(count: int, smtp_uri: str) -> None:
    import aiosmtplib

    from services.courier.channels.smtp_uri import parse_connection_uri
    from services.courier.channels.wire import wire_email
    from services.courier.config import Sender
    from services.courier.domain import Message

    target = parse_connection_uri(smtp_uri)
    sender = Sender("no-reply@bench.example")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def connection() -> None:
        async with aiosmtplib.SMTP(hostname=target.host, port=target.port, start_tls=False) as client:
            while not queue.empty():
                n = queue.get_nowait()
                message = Message(
                    id=str(uuid.uuid4()),
                    channel="email",
                    recipient=f"user{n}@bench.example",
                    subject="Use code 314159 to verify your account",
                    body="Hi, please verify your account by entering the following code: 314159",
                    html_body="<p>Hi, please verify your account by entering the following code: 314159</p>",
                    template_type="verification_code_valid",
                    template_data={},
                )
                await client.sendmail(sender.from_address, [message.recipient], wire_email(message, sender))

    print("go", flush=True)
    await asyncio.gather(*(connection() for _ in range(FLOOR_CONNECTIONS)))
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def child_embedded(count: int, smtp_uri: str) -> None:
    from services.courier.service import DEFINITION as COURIER
    from shared.bus.envelope import Envelope
    from shared.config import load_settings
    from warden.process import WardenProcess

    workdir = Path.cwd()
    config = courier_config(workdir, f"sqlite://{workdir}/warden.sqlite", "memory", smtp_uri)
    env = {"SERVE_PUBLIC_PORT": str(free_port()), "SERVE_ADMIN_PORT": str(free_port())}
    process = WardenProcess(load_settings([config], env, dev=False), [COURIER], migrate=True)
    await process.start()
    try:
        print("go", flush=True)
        for n in range(count):
            body = command(f"user{n}@bench.example")
            await process.bus.publish(Envelope(body["type"], body["source"], body["data"], body["id"]))
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await process.stop()


# -- report -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per mode (default 2000)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 messages per mode")
    parser.add_argument("--profile", help="py-spy record the RabbitMQ mode's courier into this file (.svg or .txt)")
    parser.add_argument("--smtp", help=argparse.SUPPRESS)
    parser.add_argument("--child-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-embedded", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_floor:
        return asyncio.run(child_floor(args.messages, args.smtp))
    if args.child_embedded:
        return asyncio.run(child_embedded(args.messages, args.smtp))

    count = 200 if args.quick else args.messages
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    timeout = max(60.0, count / 10)
    print(f"courier throughput, {count} messages per mode; {load_average()}")
    results: dict[str, Measured] = {}
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="warden-bench-courier-") as tmp:
            for mode in modes:
                sink.reset()
                workdir = Path(tmp) / mode
                workdir.mkdir()
                if mode == "rabbitmq":
                    results[mode] = run_rabbitmq(sink, count, workdir, timeout, args.profile)
                else:
                    results[mode] = run_child(mode, sink, count, workdir, timeout)
                report(results[mode], results.get("floor"))
    finally:
        sink.stop()
    print(f"after the run: {load_average()}")
    if any(r.duplicates or r.missing for r in results.values()):
        raise SystemExit("FAILED: a message was lost or sent twice")


def report(result: Measured, floor: Measured | None) -> None:
    line = (
        f"{result.mode:>9}: {result.messages} messages in {result.seconds:.2f} s = {result.rate:.0f} messages/s, "
        f"{result.cpu_ms:.2f} ms CPU each"
    )
    if result.mode != "floor":
        line += f", {result.rate / GOAL:.2f}x the goal of {GOAL:.0f}/s"
        if floor is not None:
            line += f", {result.rate / floor.rate:.2f}x the floor ({result.cpu_ms / floor.cpu_ms:.1f}x its CPU)"
    if result.duplicates or result.missing:
        line += f"; {result.duplicates} sent twice, {result.missing} missing"
    print(line, flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
