"""How password hashing behaves on this machine: whether each primitive releases the GIL (N hashes on
N threads against N hashes on one thread), and how long the event loop stalls while the Hasher works.

    .venv/bin/python bench/hashing.py [--workers N]

Numbers depend on the machine and on what else runs on it; compare them, don't assert on them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import bcrypt
from argon2.low_level import Type, hash_secret_raw

from services.identity.hashing import Hasher, hasher_config_from


def primitives() -> dict[str, Callable[[], object]]:
    salt = os.urandom(16)
    bsalt = bcrypt.gensalt(10)
    jobs: dict[str, Callable[[], object]] = {
        "argon2id 19MiB t=2": lambda: hash_secret_raw(b"pw", salt, 2, 19 * 1024, 1, 32, Type.ID),
        "argon2id 1MiB t=40": lambda: hash_secret_raw(b"pw", salt, 40, 1024, 1, 32, Type.ID),
        "bcrypt cost 10": lambda: bcrypt.hashpw(b"pw", bsalt),
        "pbkdf2-sha256 200k": lambda: hashlib.pbkdf2_hmac("sha256", b"pw", salt, 200_000),
        "scrypt N=2^14 r=8": lambda: hashlib.scrypt(b"pw", salt=salt, n=1 << 14, r=8, p=1, maxmem=64 << 20),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt

            jobs["sha512-crypt 100k"] = lambda: crypt.crypt("pw", "$6$rounds=100000$saltsalt$")
        except ImportError:
            pass
    return jobs


def speedup(job: Callable[[], object], workers: int, rounds: int = 4) -> tuple[float, float]:
    def run(threads: int) -> float:
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            list(pool.map(lambda _: job(), range(workers * rounds)))
            return time.perf_counter() - started

    run(workers)  # warm up
    return run(1), run(workers)


async def loop_stall(hashes: int) -> tuple[float, float]:
    hasher = Hasher(hasher_config_from({"argon2": {"memory": "64MB", "iterations": 2}}))
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(f"pw{i}") for i in range(hashes)))
    elapsed = time.perf_counter() - started
    done.set()
    await task
    hasher.close()
    return elapsed, max(b - a for a, b in pairwise(ticks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    workers = parser.parse_args().workers
    print(f"{workers} threads, load average {os.getloadavg()[0]:.2f}")
    for name, job in primitives().items():
        serial, parallel = speedup(job, workers)
        ratio = serial / parallel
        print(f"{name:22} 1 thread {serial:6.3f}s  {workers} threads {parallel:6.3f}s  speed-up x{ratio:.2f}")
    elapsed, worst = asyncio.run(loop_stall(8))
    print(f"8 argon2id 64MiB hashes via Hasher: {elapsed:.3f}s, longest event-loop stall {worst * 1000:.1f}ms")


if __name__ == "__main__":
    main()
