"""Evaluates one Jsonnet program in a process of its own (shared/jsonnet.py's `evaluate`): the job,
JSON on stdin (`name`, `source`, `tla`, `ext` as Jsonnet code), the output on stdout; Jsonnet's
error on stderr and exit status 1. Run as a script (`python -I jsonnet_worker.py`), importing only
the standard library and `_jsonnet`: its memory is bounded before the job is read, and its parent
kills it when it runs out of time."""

from __future__ import annotations

import json
import resource
import sys

import _jsonnet

MEMORY_BYTES = int(sys.argv[1]) if len(sys.argv) > 1 else 512 * 1024 * 1024
OUTPUT_CHARS = int(sys.argv[2]) if len(sys.argv) > 2 else 16 * 1024 * 1024


def _no_imports(_directory: str, path: str) -> tuple[str, bytes]:
    raise RuntimeError(f"imports are not allowed in this Jsonnet program ({path})")


def main() -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    job = json.loads(sys.stdin.buffer.read())
    try:
        output = _jsonnet.evaluate_snippet(
            job["name"], job["source"], tla_codes=job["tla"], ext_codes=job["ext"], import_callback=_no_imports
        )
    except (RuntimeError, MemoryError) as exc:
        sys.stderr.write(str(exc) or "RUNTIME ERROR: out of memory")
        return 1
    if len(output) > OUTPUT_CHARS:
        sys.stderr.write(f"RUNTIME ERROR: the output is longer than {OUTPUT_CHARS} characters")
        return 1
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
