"""`make bench`: every benchmark, one after the other, each printing its ratios against a floor it
measures in the same run.

    .venv/bin/python bench/all.py [--quick]        # make bench / make bench ARGS=--quick

  bench/whoami.py   whoami on a cache hit, `warden serve session` and the all-in-one, against an
                    aiohttp handler doing one Redis GET;
  bench/login.py    password logins on PostgreSQL, SQLite and the four services apart, against
                    argon2 alone on every core, and a skeleton of the same login that is not Warden
                    (what the architecture costs at the least);
  bench/courier.py  courier messages/s to a local SMTP server, through RabbitMQ and embedded,
                    against the goal of 200/s and aiosmtplib alone.

`--quick` is passed to the scripts that take it (a smoke run of a few seconds each); a script that
does not yet take it gets short durations instead. The Makefile holds the shared benchmark lock
around the whole run, so that no other benchmark on the machine overlaps it. The machine's load
average is printed before and after each script: figures from a busy machine are noisy, the ratios
less so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("whoami.py", "login.py", "courier.py")
# For a script whose --help has no --quick: what makes it short.
SHORT = {"whoami.py": ["--duration", "3s", "--warmup", "1s", "--wait-idle", "3"]}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def arguments(script: str, quick: bool) -> list[str]:
    if not quick:
        return []
    usage = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True).stdout
    return ["--quick"] if "--quick" in usage else SHORT.get(script, [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of each benchmark")
    args = parser.parse_args()
    failed: list[str] = []
    for script in SCRIPTS:
        command = [sys.executable, str(BENCH / script), *arguments(script, args.quick)]
        print(f"\n== {' '.join(command[1:])}  ({load()}, {os.cpu_count()} cores)", flush=True)
        started = time.monotonic()
        code = subprocess.run(command).returncode
        print(f"== {script}: exit {code} after {time.monotonic() - started:.0f} s ({load()})", flush=True)
        if code != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
