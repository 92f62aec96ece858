"""Pick argon2 iterations so that one hash takes about a target time on this machine, like
`kratos hashers argon2 calibrate` (which settles on the most iterations that stay under the target).

Unlike Kratos, memory is not searched: it is a given (it is bounded by what the host can spare, not
by time), and the iterations come from a linear fit of two probes, checked by at most four more.
So the time is bounded: at most six probes of `runs` hashes each, every one capped by
`max_iterations`. The result's `argon2` block has the keys Kratos prints (`config.Argon2`'s JSON),
as schema-valid strings, ready to go under `hashers.argon2`.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from shared.units import format_byte_size, format_duration

from . import bounds
from .argon2_hashes import hash_argon2id
from .config import OWASP_MIN_ITERATIONS

_MAX_CHECKS = 3


def calibrate_argon2(
    target_seconds: float,
    memory_bytes: int,
    parallelism: int,
    *,
    max_iterations: int = bounds.ARGON2_MAX_ITERATIONS,
    min_iterations: int = OWASP_MIN_ITERATIONS,
    runs: int = 2,
    salt_length: int = 16,
    key_length: int = 32,
    expected_deviation_seconds: float = 0.5,
    dedicated_memory_bytes: int = 1 << 30,
    probe: Callable[[int], float] | None = None,
) -> dict[str, Any]:
    """`probe(iterations) -> seconds` times one hash; by default a real argon2id hash."""
    _check(target_seconds, memory_bytes, parallelism, min_iterations, max_iterations, runs)
    timed = probe or _real_probe(memory_bytes // 1024, parallelism, salt_length, key_length)
    seen: dict[int, float] = {}

    def measure(iterations: int) -> float:
        if iterations not in seen:
            seen[iterations] = statistics.median(timed(iterations) for _ in range(runs))
        return seen[iterations]

    chosen = _search(measure, target_seconds, min_iterations, max_iterations)
    return {
        "argon2": {
            "memory": format_byte_size(memory_bytes),
            "iterations": chosen,
            "parallelism": parallelism,
            "salt_length": salt_length,
            "key_length": key_length,
            "expected_duration": format_duration(target_seconds),
            "expected_deviation": format_duration(expected_deviation_seconds),
            "dedicated_memory": format_byte_size(dedicated_memory_bytes),
        },
        "measured_duration": format_duration(seen[chosen]),
        "measured_seconds": seen[chosen],
        "probes": [{"iterations": t, "seconds": s} for t, s in seen.items()],
    }


def _search(measure: Callable[[int], float], target: float, low: int, high: int) -> int:
    first = measure(low)
    if first >= target or low == high:
        return low  # even the cheapest allowed setting is at or over the target
    step = max(measure(low + 1) - first, 1e-9)  # the cost of one more iteration
    guess = low + int((target - first) // step)
    chosen = min(max(guess, low), high)
    for _ in range(_MAX_CHECKS):
        took = measure(chosen)
        if took > target and chosen > low:
            chosen -= 1
        elif chosen < high and took + step <= target and measure(chosen + 1) <= target:
            chosen += 1
        else:
            break
    measure(chosen)  # so the result can report its time
    return chosen


def _real_probe(memory_kib: int, parallelism: int, salt_length: int, key_length: int) -> Callable[[int], float]:
    password = os.urandom(16)

    def timed(iterations: int) -> float:
        started = time.perf_counter()
        hash_argon2id(
            password,
            memory_kib=memory_kib,
            iterations=iterations,
            parallelism=parallelism,
            salt_length=salt_length,
            key_length=key_length,
        )
        return time.perf_counter() - started

    return timed


def _check(target: float, memory: int, parallelism: int, low: int, high: int, runs: int) -> None:
    if target <= 0 or runs < 1:
        raise ValueError("target_seconds must be positive and runs at least 1")
    if not 1 <= parallelism <= bounds.ARGON2_MAX_PARALLELISM:
        raise ValueError(f"parallelism must be between 1 and {bounds.ARGON2_MAX_PARALLELISM}")
    if not 8 * parallelism * 1024 <= memory <= bounds.ARGON2_MAX_MEMORY_KIB * 1024:
        raise ValueError(f"memory must be between {8 * parallelism}KB and 1GB")
    if not 1 <= low <= high <= bounds.ARGON2_MAX_ITERATIONS:
        # Beyond the bound Warden would refuse to verify its own hashes.
        raise ValueError(f"need 1 <= min_iterations <= max_iterations <= {bounds.ARGON2_MAX_ITERATIONS}")
