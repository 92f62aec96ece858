"""Identity import throughput: 10,000 identities through batch `PATCH /admin/identities` (1,000 a
request, bcrypt hashes imported as they are), against a baseline measured in the same run: the same
server creating identities one `POST /admin/identities` at a time. Once on SQLite, once on
PostgreSQL (a fresh database, dropped afterwards).

    .venv/bin/python bench/identity_import.py [--count 10000] [--single 500] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import bcrypt
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resources import pg  # noqa: E402  (bench/ is on the path when run as a script)

from tests.factories import running_warden, settings_for  # noqa: E402

HASH = bcrypt.hashpw(b"imported password", bcrypt.gensalt(4)).decode()


def _body(prefix: str, i: int) -> dict:
    return {
        "schema_id": "default",
        "traits": {"email": f"{prefix}-{i}@bench.example"},
        "credentials": {"password": {"config": {"hashed_password": HASH}}},
    }


def _single(http: urllib3.PoolManager, admin: str, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        response = http.request(
            "POST",
            f"{admin}/admin/identities",
            body=json.dumps(_body("single", i)),
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 201, response.data[:200]
    return count / (time.perf_counter() - started)


def _batched(http: urllib3.PoolManager, admin: str, count: int, batch: int = 1000) -> float:
    started = time.perf_counter()
    for start in range(0, count, batch):
        items = [
            {"create": _body("batch", i), "patch_id": str(uuid.uuid4())}
            for i in range(start, min(count, start + batch))
        ]
        response = http.request(
            "PATCH",
            f"{admin}/admin/identities",
            body=json.dumps({"identities": items}),
            headers={"Content-Type": "application/json"},
            timeout=300,
        )
        results = json.loads(response.data)["identities"]
        assert response.status == 200 and all(r["action"] == "create" for r in results), response.data[:300]
    return count / (time.perf_counter() - started)


def run(engine: str, count: int, single: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        name = f"warden_bench_{uuid.uuid4().hex[:10]}"
        if engine == "postgres":
            pg(f'CREATE DATABASE "{name}"')
            dsn = f"postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"
        else:
            dsn = f"sqlite://{tmp}/bench.sqlite"
        try:
            with running_warden(settings_for(Path(tmp), dsn)) as warden:
                http = urllib3.PoolManager(maxsize=2)
                return _single(http, warden.admin_url, single), _batched(http, warden.admin_url, count)
        finally:
            if engine == "postgres":
                pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; all-in-one Warden in-process (one event loop), client on the same machine")
    for engine in args.engines.split(","):
        single_rate, batch_rate = run(engine, args.count, args.single)
        print(
            f"{engine:9} single POST: {single_rate:8.0f} identities/s ({args.single})   "
            f"batch PATCH: {batch_rate:8.0f} identities/s ({args.count})   ratio batch/single: {batch_rate / single_rate:5.1f}x"
        )


if __name__ == "__main__":
    main()
