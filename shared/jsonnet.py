"""Jsonnet programs from config (courier request bodies, web hook bodies, social sign-in claim
mappers), evaluated the way Kratos evaluates them: syntax checked when the program is loaded, so a
broken local template fails start-up; imports refused, because the program runs on every message or
sign-in and must read nothing but what it is given.

A program fed what a user sent (a web hook's `ctx` carries the submitted `transient_payload` and
traits) is evaluated by `evaluate`, in a child process bounded in memory and killed at its deadline,
as Kratos runs Jsonnet in a process pool of its own (jsonnetsecure): _jsonnet's output grows with
the data's depth times its size, and 20 kB of nested arrays took a minute of CPU and hundreds of MB,
which in this process would stop every request it serves."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import _jsonnet

PIPE = asyncio.subprocess.PIPE
WORKER = Path(__file__).with_name("jsonnet_worker.py")
EVALUATION_MEMORY_BYTES = 256 * 1024 * 1024  # the child's address space: a 1 MB payload needs far less
EVALUATION_OUTPUT_CHARS = 16 * 1024 * 1024


class JsonnetError(Exception):
    """The program failed at run time (`error '…'`, a missing field); the text is Jsonnet's."""


def _no_imports(_directory: str, path: str) -> tuple[str, bytes]:
    raise RuntimeError(f"imports are not allowed in this Jsonnet program ({path})")


class JsonnetProgram:
    def __init__(self, source: str, name: str) -> None:
        self._source = source
        self._name = name
        try:  # a syntax error fails now; a runtime error needs real inputs to show itself
            _jsonnet.evaluate_snippet(name, source, import_callback=_no_imports)
        except RuntimeError as exc:
            if str(exc).startswith("STATIC ERROR"):
                raise

    def text(self, *, tla: dict[str, Any] | None = None, ext: dict[str, Any] | None = None) -> str:
        """The program's output as JSON text, given top-level arguments and/or external variables."""
        try:
            return str(
                _jsonnet.evaluate_snippet(
                    self._name,
                    self._source,
                    tla_codes={k: json.dumps(v) for k, v in (tla or {}).items()},
                    ext_codes={k: json.dumps(v) for k, v in (ext or {}).items()},
                    import_callback=_no_imports,
                )
            )
        except RuntimeError as exc:
            raise JsonnetError(str(exc).strip()) from None

    async def evaluate(
        self, *, timeout: float, tla: dict[str, Any] | None = None, ext: dict[str, Any] | None = None
    ) -> str:
        """`text`, in a child process given `timeout` seconds and `EVALUATION_MEMORY_BYTES` (raises
        JsonnetError for a program that fails, runs out of memory, or is not done in time)."""
        job = json.dumps(
            {
                "name": self._name,
                "source": self._source,
                "tla": {k: json.dumps(v) for k, v in (tla or {}).items()},
                "ext": {k: json.dumps(v) for k, v in (ext or {}).items()},
            }
        ).encode()
        bounds = (str(EVALUATION_MEMORY_BYTES), str(EVALUATION_OUTPUT_CHARS))
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(WORKER), *bounds, stdin=PIPE, stdout=PIPE, stderr=PIPE
        )
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                output, error = await child.communicate(job)
        except TimeoutError:
            raise JsonnetError(f"RUNTIME ERROR: the program did not finish within {timeout:.1f}s") from None
        finally:
            if child.returncode is None:  # out of time, or the caller gave up: nothing may keep running
                child.kill()
                await child.wait()
        if child.returncode == 1:  # the program's own error, as `text` would have raised it
            raise JsonnetError(error.decode(errors="replace").strip())
        if child.returncode != 0:  # _jsonnet aborts when an allocation fails
            raise JsonnetError(f"RUNTIME ERROR: the program ran out of memory (exit status {child.returncode})")
        return output.decode()

    def value(self, *, tla: dict[str, Any] | None = None, ext: dict[str, Any] | None = None) -> Any:
        return json.loads(self.text(tla=tla, ext=ext))


class JsonnetBody(JsonnetProgram):
    """A request body template, given the call's context as `ctx` (Kratos's courier HTTP channels
    and web hooks)."""

    def build(self, ctx: dict[str, Any]) -> str:
        return self.text(tla={"ctx": ctx})

    async def build_bounded(self, ctx: dict[str, Any], timeout: float) -> str:
        """`build` for a context carrying what a user sent: see `evaluate`."""
        return await self.evaluate(timeout=timeout, tla={"ctx": ctx})
