"""The sandbox that web hook bodies are evaluated in (shared/jsonnet_sandbox.py): real worker
processes, reused between jobs, bounded in memory and killed at a job's deadline."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from shared.jsonnet import JsonnetBody, JsonnetError, JsonnetProgram
from shared.jsonnet_sandbox import JsonnetSandbox

BODY = JsonnetBody("function(ctx) { to: ctx.email, plan: ctx.payload.plan }", "body")
SLOW = JsonnetProgram("std.foldl(function(a, b) a + b, std.range(1, 1000000), 0)", "slow")


def _workers() -> list[int]:
    """The pids of this process's live Jsonnet workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        state = next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))
        if int(parent) == os.getpid() and b"jsonnet_worker.py" in command and state != "Z":
            found.append(int(entry.name))
    return found


async def test_a_body_is_evaluated_by_a_worker_that_stays_for_the_next() -> None:
    sandbox = JsonnetSandbox(size=2)
    try:
        ctx = {"email": "a@example.com", "payload": {"plan": "pro"}}
        first = await sandbox.evaluate(BODY, timeout=10, tla={"ctx": ctx})
        assert json.loads(first) == {"to": "a@example.com", "plan": "pro"}
        workers = _workers()
        assert len(workers) == 1, workers
        await sandbox.evaluate(BODY, timeout=10, tla={"ctx": {**ctx, "payload": {"plan": "free"}}})
        assert _workers() == workers, "the second job went to the same worker"
    finally:
        await sandbox.close()
    assert _workers() == []


async def test_a_programs_own_error_is_jsonnets_and_the_worker_stays() -> None:
    sandbox = JsonnetSandbox(size=1)
    try:
        with pytest.raises(JsonnetError, match="RUNTIME ERROR: Field does not exist: payload"):
            await sandbox.evaluate(BODY, timeout=10, tla={"ctx": {"email": "a@example.com"}})
        workers = _workers()
        ctx = {"email": "b@example.com", "payload": {"plan": "pro"}}
        assert json.loads(await sandbox.evaluate(BODY, timeout=10, tla={"ctx": ctx}))["to"] == "b@example.com"
        assert _workers() == workers
    finally:
        await sandbox.close()


async def test_a_payload_that_needs_too_much_memory_fails_and_the_next_job_gets_a_new_worker() -> None:
    """60 kB of arrays nested 450 deep make some 40 MB of output, and many times that in memory."""
    bomb = json.loads("[" * 450 + ",".join(["1"] * 30_000) + "]" * 450)
    sandbox = JsonnetSandbox(size=1, memory_bytes=128 * 1024 * 1024)
    try:
        with pytest.raises(JsonnetError, match="ran out of memory"):
            await sandbox.evaluate(BODY, timeout=30, tla={"ctx": {"email": "x", "payload": {"plan": bomb}}})
        assert _workers() == [], "the worker that ran out is gone"
        ctx = {"email": "c@example.com", "payload": {"plan": "pro"}}
        assert json.loads(await sandbox.evaluate(BODY, timeout=10, tla={"ctx": ctx}))["plan"] == "pro"
    finally:
        await sandbox.close()


async def test_a_job_out_of_time_fails_and_its_worker_is_killed() -> None:
    sandbox = JsonnetSandbox(size=1)
    try:
        with pytest.raises(JsonnetError, match="did not finish within 0.2s"):
            await sandbox.evaluate(SLOW, timeout=0.2)
        assert _workers() == [], "nothing keeps running for a job nobody waits for"
        ctx = {"email": "d@example.com", "payload": {"plan": "pro"}}
        assert json.loads(await sandbox.evaluate(BODY, timeout=10, tla={"ctx": ctx}))["to"] == "d@example.com"
    finally:
        await sandbox.close()


async def test_a_worker_killed_while_idle_is_replaced_before_the_next_job() -> None:
    sandbox = JsonnetSandbox(size=1)
    try:
        ctx = {"email": "e@example.com", "payload": {"plan": "pro"}}
        await sandbox.evaluate(BODY, timeout=10, tla={"ctx": ctx})
        [worker] = _workers()
        os.kill(worker, signal.SIGKILL)
        while Path(f"/proc/{worker}").exists():  # until it is reaped, as it soon is
            await asyncio.sleep(0.01)
        # asyncio's child watcher reaps in a thread of its own and tells the loop after: a turn of
        # the loop for that word to arrive (uvloop, as Warden runs, reaps on the loop itself).
        await asyncio.sleep(0.1)
        assert json.loads(await sandbox.evaluate(BODY, timeout=10, tla={"ctx": ctx}))["to"] == "e@example.com"
    finally:
        await sandbox.close()


async def test_a_worker_busy_when_the_sandbox_closes_is_stopped_when_its_job_ends() -> None:
    """The service stops (its composition root closes the sandbox) while a job is still running, a
    web hook's say: the worker went back to the idle list after the job and outlived the service."""
    sandbox = JsonnetSandbox(size=1)
    ctx = {"email": "f@example.com", "payload": {"plan": "pro"}}
    job = asyncio.create_task(sandbox.evaluate(BODY, timeout=30, tla={"ctx": ctx}))
    await asyncio.sleep(0)  # the job has asked for a worker, which is starting
    await sandbox.close()
    assert json.loads(await job)["to"] == "f@example.com", "the job still gets its answer"
    assert _workers() == [], "no worker is left behind"
