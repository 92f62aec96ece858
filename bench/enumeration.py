"""Can a requester tell, by the answer's timing, whether an address has an account? A recovery
request (`POST /self-service/recovery`, method code) for addresses with an account and for
addresses without one, alternated, each address asked once (a second ask would meet the per-address
send budget, which does less work); the answer's time as the client sees it, on the all-in-one
process on SQLite and on PostgreSQL (a fresh database, dropped afterwards), the access log on.

With `--flow registration`, the same for a password registration (`POST /self-service/registration`,
native) under `security.account_enumeration.mitigate`, with the address of an existing account and
with a new one, each new address registered once (checklist EN-4, see
services/selfservice/flows/registration/existing_account.py). The tests' fast bcrypt (cost 4) keeps
the hash from hiding a difference in the rest of the work.

Prints the median and quartiles of each kind, the difference of the medians, and the two-sample
Kolmogorov–Smirnov statistic D (the largest gap between the two distributions; with n samples of
each, D above 1.63 * sqrt(2/n) says they differ at p < 0.01). See services/selfservice/flows/even_time.py.

    .venv/bin/python bench/enumeration.py [--samples 200] [--engines sqlite,postgres] [--flow registration]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factories import running_warden  # noqa: E402
from tests.selfservice_helpers import create_identity, database, selfservice_settings  # noqa: E402

FLOWS = {"recovery": {"enabled": True, "use": "code"}, "verification": {"enabled": True, "use": "code"}}
METHODS = {"code": {"enabled": True}, "password": {"enabled": True}}
# Registration hides existing accounts when nothing after it signs the new one in.
HIDING = {
    "flows": {**FLOWS, "registration": {"after": {"password": {"hooks": [{"hook": "show_verification_ui"}]}}}},
    "session_hook": False,
    "security": {"account_enumeration": {"mitigate": True}},
}
REGISTERED_PASSWORD = "Meadow-Copper-Falcon-2958"
WARM_UP = 10


def ks_statistic(a: list[float], b: list[float]) -> float:
    """The largest gap between the two empirical distribution functions."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    gap = 0.0
    while i < len(a) and j < len(b):
        value = min(a[i], b[j])
        while i < len(a) and a[i] == value:  # equal values step together, both sides at once
            i += 1
        while j < len(b) and b[j] == value:
            j += 1
        gap = max(gap, abs(i / len(a) - j / len(b)))
    return gap


def measure(engine: str, samples: int, kind: str) -> None:
    options = HIDING if kind == "registration" else {"flows": FLOWS}
    with tempfile.TemporaryDirectory() as directory, database(engine, Path(directory)) as dsn:
        settings = selfservice_settings(Path(directory), dsn, methods=METHODS, log={"level": "info"}, **options)
        with running_warden(settings) as warden:
            http = urllib3.PoolManager()
            known = [f"known-{i}-{uuid.uuid4().hex[:8]}@bench.example" for i in range(samples + WARM_UP)]
            for email in known:
                create_identity(warden.admin_url, email)
            unknown = [f"nobody-{i}-{uuid.uuid4().hex[:8]}@bench.example" for i in range(samples + WARM_UP)]

            def ask(email: str) -> float:
                flow = json.loads(http.request("GET", f"{warden.public_url}/self-service/{kind}/api").data)
                body: dict[str, object] = {"method": "code", "email": email}
                if kind == "registration":
                    body = {"method": "password", "traits": {"email": email}, "password": REGISTERED_PASSWORD}
                started = time.perf_counter()
                answer = http.request("POST", f"{warden.public_url}/self-service/{kind}?flow={flow['id']}", json=body)
                elapsed = time.perf_counter() - started
                if answer.status != 200:
                    raise SystemExit(f"{kind} answered {answer.status}: {answer.data[:300]!r}")
                return elapsed * 1000

            for i in range(WARM_UP):
                ask(known[samples + i])
                ask(unknown[samples + i])
            with_account, without = [], []
            for i in range(samples):
                with_account.append(ask(known[i]))
                without.append(ask(unknown[i]))

    def quartiles(values: list[float]) -> str:
        q1, q2, q3 = statistics.quantiles(values, n=4)
        return f"median {q2:7.3f} ms (quartiles {q1:.3f}–{q3:.3f})"

    d = ks_statistic(with_account, without)
    critical = 1.63 * math.sqrt(2 / samples)
    difference = statistics.median(with_account) - statistics.median(without)
    print(f"{engine}: {samples} each, alternated")
    print(f"  with an account:    {quartiles(with_account)}")
    print(f"  without an account: {quartiles(without)}")
    print(
        f"  medians differ by {difference:+.3f} ms; KS D = {d:.3f} "
        f"({'distinguishable' if d > critical else 'not distinguishable'} at p < 0.01: critical {critical:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--flow", choices=("recovery", "registration"), default="recovery")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        measure(engine, args.samples, args.flow)


if __name__ == "__main__":
    main()
