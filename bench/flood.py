"""A real user's login while another client floods the login (finding 6 of the security review),
against the same user's login on an idle server in the same run.

    .venv/bin/python bench/flood.py [--flood 160] [--rounds 5] [--cost 10]

The all-in-one Warden runs in this process's thread (tests/factories.py) on SQLite, bcrypt at
`--cost`, trusting 127.0.0.1 as a proxy so that X-Forwarded-For names the two clients, with the
per-IP windows off (they would stop the flood before the hashing queue sees it). Each round: the
user's login alone, then a flood of `--flood` concurrent garbage logins from one address and, once
the flood is queued, the user's login from another. Printed: median user login idle and flooded, their
ratio, and how the flood was answered (400 checked, 503 shed with Retry-After).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from tests.factories import running_warden, settings_for  # noqa: E402
from tests.integration.test_review_throttling import PASSWORD, Client  # noqa: E402

USER_IP, FLOOD_IP = "198.51.100.5", "203.0.113.66"


async def _user_login(client: Client) -> float:
    flow = await client.flow(ip=USER_IP)
    started = time.perf_counter()
    assert await client.login("user@example.com", PASSWORD, USER_IP, flow_id=flow) == 200
    return time.perf_counter() - started


async def _round(client: Client, flood: int, answers: Counter[int]) -> tuple[float, float]:
    idle = await _user_login(client)
    flows = await asyncio.gather(*(client.flow(ip=FLOOD_IP) for _ in range(flood)))
    body = {"method": "password", "password": "x" * 20}
    tasks = [
        asyncio.create_task(client.submit("login", f, {**body, "identifier": f"garbage-{i}@example.com"}, FLOOD_IP))
        for i, f in enumerate(flows)
    ]
    await asyncio.sleep(0.2)  # the flood is in line
    flooded = await _user_login(client)
    for answer in await asyncio.gather(*tasks):
        answers[answer.status] += 1
    return idle, flooded


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        extra = {
            "serve": {"public": {"trusted_proxies": ["127.0.0.1"]}},
            "hashers": {"algorithm": "bcrypt", "bcrypt": {"cost": args.cost}},
        }
        with running_warden(settings_for(Path(tmp), f"sqlite://{tmp}/warden.sqlite", extra)) as warden:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                client = Client(http, warden)
                await client.register("user@example.com")
                answers: Counter[int] = Counter()
                rounds = [await _round(client, args.flood, answers) for _ in range(args.rounds)]
    idle, flooded = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"user login, idle server:   median {idle * 1000:.0f} ms over {args.rounds} rounds")
    print(f"user login, during flood:  median {flooded * 1000:.0f} ms ({flooded / idle:.1f}x idle)")
    print(f"flood of {args.flood} x {args.rounds}: {dict(sorted(answers.items()))} (400 checked, 503 shed)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cost", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
