"""Evaluates Jsonnet programs for a parent process, one after the other (shared/jsonnet_sandbox.py):
each job is a length-prefixed JSON object on stdin (`name`, `source`, `tla_codes`, `ext_codes`:
Jsonnet code), each answer a status byte (0: the output; 1: Jsonnet's error) and a length-prefixed text on
stdout. Run as a script (`python -I jsonnet_worker.py MEMORY OUTPUT`), importing only the standard
library and `_gojsonnet`: its memory is bounded before the first job is read, a program that needs
more makes the Go runtime abort the process, and its parent kills it when a job runs out of time."""

from __future__ import annotations

import json
import resource
import struct
import sys
from typing import BinaryIO

import _gojsonnet

MEMORY_BYTES = int(sys.argv[1]) if len(sys.argv) > 1 else 512 * 1024 * 1024
OUTPUT_CHARS = int(sys.argv[2]) if len(sys.argv) > 2 else 16 * 1024 * 1024
LENGTH = struct.Struct(">I")
OUTPUT, ERROR = 0, 1


def _no_imports(_directory: str, path: str) -> tuple[str, bytes]:
    raise RuntimeError(f"imports are not allowed in this Jsonnet program ({path})")


def _evaluated(job: dict[str, object]) -> tuple[int, str]:
    try:
        output = _gojsonnet.evaluate_snippet(
            job["name"],
            job["source"],
            tla_codes=job["tla_codes"],
            ext_codes=job["ext_codes"],
            import_callback=_no_imports,
        )
    except RuntimeError as exc:
        return ERROR, str(exc)
    if len(output) > OUTPUT_CHARS:
        return ERROR, f"RUNTIME ERROR: the output is longer than {OUTPUT_CHARS} characters"
    return OUTPUT, output


def _read(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None  # the parent closed the pipe: done


def main() -> int:
    # go-jsonnet's Go runtime reserves a large address space at its start (which a cap on the address
    # space would refuse): started first, then bounded in the memory it may write to, which is what
    # its heap takes from the machine.
    _gojsonnet.evaluate_snippet("start", "null")
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
    jobs, answers = sys.stdin.buffer, sys.stdout.buffer
    while (head := _read(jobs, LENGTH.size)) is not None:
        body = _read(jobs, LENGTH.unpack(head)[0])
        if body is None:
            return 0
        status, text = _evaluated(json.loads(body))
        encoded = text.encode()
        answers.write(bytes([status]) + LENGTH.pack(len(encoded)) + encoded)
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
