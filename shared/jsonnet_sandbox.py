"""Where a Jsonnet program fed what a user sent is evaluated: worker processes of this one's own,
each bounded in memory and killed when a job runs out of time, as Kratos runs Jsonnet in a process
pool (jsonnetsecure). A program's output grows with its data's depth times its size: 60 kB of
nested arrays in a web hook's `transient_payload` make 40 MB of output, which in this process would
hold every request it serves, and a little more would take the machine's memory.

The workers (shared/jsonnet_worker.py) live on between jobs, so a job costs a pipe's round trip
(some 0.3 ms), not a Python start (some 30 ms of CPU). At most `size` run at once, and a job waits
for one within its own time; one that failed for want of memory, or was killed for want of time,
is replaced by a new one at the next job. One sandbox per service (its composition root makes it and
closes it at stop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
from pathlib import Path
from typing import Any

from shared.jsonnet import JsonnetError, JsonnetProgram

WORKER = Path(__file__).with_name("jsonnet_worker.py")
# A worker's writable memory: go-jsonnet holds parsed data at some 200 times its JSON size (a 1.4 MB
# list of 30,000 small objects, more than a request may carry, needs more than 256 MB and less than 512).
MEMORY_BYTES = 512 * 1024 * 1024
OUTPUT_CHARS = 16 * 1024 * 1024
_LENGTH = struct.Struct(">I")
_OUTPUT = 0


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, memory_bytes: int, output_chars: int) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(WORKER),
            str(memory_bytes),
            str(output_chars),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,  # the Go runtime's account of an abort: nothing of ours
        )
        return cls(process)

    async def run(self, job: bytes) -> tuple[int, str]:
        """(status, text) of one job; raises IncompleteReadError or ConnectionError if the worker
        died on it (the Go runtime aborts when the program needs more memory than it may have)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(_LENGTH.pack(len(job)) + job)
        await stdin.drain()
        head = await stdout.readexactly(1 + _LENGTH.size)
        text = await stdout.readexactly(_LENGTH.unpack(head[1:])[0])
        return head[0], text.decode()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


class JsonnetSandbox:
    def __init__(self, size: int | None = None, memory_bytes: int = MEMORY_BYTES) -> None:
        self._slots = asyncio.Semaphore(size or max(2, os.cpu_count() or 1))
        self._idle: list[_Worker] = []
        self._memory = memory_bytes
        self._closed = False  # the service stopped: a job still running (or started late) keeps no worker

    async def evaluate(
        self,
        program: JsonnetProgram,
        *,
        timeout: float,
        tla: dict[str, Any] | None = None,
        ext: dict[str, Any] | None = None,
    ) -> str:
        """`program.text(tla, ext)`, done within `timeout` seconds in a worker (raises JsonnetError for
        a program that fails, runs out of memory, or is not done in time)."""
        job = json.dumps({"name": program.name, "source": program.source, **program.arguments(tla, ext)}).encode()
        try:
            async with asyncio.timeout(max(timeout, 0.0)), self._slots:
                status, text = await self._run(job)
        except TimeoutError:
            raise JsonnetError(f"RUNTIME ERROR: the program did not finish within {timeout:.1f}s") from None
        if status != _OUTPUT:  # the program's own error, as `program.text` would have raised it
            raise JsonnetError(text.strip())
        return text

    async def _run(self, job: bytes) -> tuple[int, str]:
        worker = await self._worker()
        try:
            answer = await worker.run(job)
        except (asyncio.IncompleteReadError, ConnectionError):
            await worker.stop()
            raise JsonnetError("RUNTIME ERROR: the program ran out of memory") from None
        except BaseException:  # out of time, or the caller gave up: nothing may keep running
            await asyncio.shield(worker.stop())
            raise
        if self._closed:  # `close` has come and gone: an idle worker now would outlive the service
            await worker.stop()
        else:
            self._idle.append(worker)
        return answer

    async def _worker(self) -> _Worker:
        """An idle worker still alive (one may have been killed meanwhile, by the machine's OOM
        killer say), else a new one."""
        while self._idle:
            worker = self._idle.pop()
            if worker.process.returncode is None:
                return worker
            await worker.stop()
        return await _Worker.start(self._memory, OUTPUT_CHARS)

    async def close(self) -> None:
        """Stops the idle workers; one busy with a job is stopped when the job ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            with contextlib.suppress(ProcessLookupError):
                await worker.stop()
