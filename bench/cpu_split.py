"""Whose CPU a stretch of a benchmark was, from /proc: the Warden processes' (and how long their
hashing threads waited for a core), the load generator's (this process), the backends of the run's
PostgreSQL database, and everyone else's. On a shared machine "everyone else" is what makes one
minute's latency incomparable with another's: Warden's hashing threads run at a lower priority
(`HASHING_NICENESS`), so another user's busy process takes their core first and logins queue."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(path: str) -> tuple[str, float, int] | None:
    """(comm, CPU seconds, niceness) of a process or thread; None once it is gone."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return text[text.index("(") + 1 : text.rindex(")")], (int(fields[11]) + int(fields[12])) / TICK, int(fields[16])


def _waited(path: str) -> float:
    """Seconds a thread was runnable but waiting for a CPU (the scheduler's run-queue time)."""
    try:
        return int(Path(path).read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / TICK, sum(values) / TICK


def _database_backends(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `database` (their title names it)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        found = _stat(f"/proc/{entry}/stat")
        if found is None or found[0] != "postgres":
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if f" {database} " in title:
            total += found[1]
    return total


@dataclass(frozen=True)
class CpuSnapshot:
    busy: float
    total: float
    warden: float  # every thread of the Warden processes
    hashing: float  # of which the hashing threads (niced below the event loop)
    hashing_waited: float  # how long those threads waited for a core
    load: float  # this process: the load generator
    database: float  # the backends of the run's database

    @classmethod
    def take(cls, warden_pids: list[int], database: str) -> CpuSnapshot:
        warden = hashing = waited = 0.0
        for pid in warden_pids:
            main = _stat(f"/proc/{pid}/stat")
            for task in os.listdir(f"/proc/{pid}/task") if main else ():
                found = _stat(f"/proc/{pid}/task/{task}/stat")
                if found is None:
                    continue
                warden += found[1]
                if main and found[2] > main[2]:
                    hashing += found[1]
                    waited += _waited(f"/proc/{pid}/task/{task}/schedstat")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = _machine()
        return cls(busy, total, warden, hashing, waited, usage.ru_utime + usage.ru_stime, _database_backends(database))


@dataclass(frozen=True)
class CpuShare:
    """Percent of one core over a window."""

    warden: float
    hashing: float
    hashing_waited: float
    load: float
    database: float
    others: float  # everything else on the machine: Redis, RabbitMQ, and other users' processes

    @classmethod
    def between(cls, before: CpuSnapshot, after: CpuSnapshot) -> CpuShare:
        seconds = max(1e-9, (after.total - before.total) / (os.cpu_count() or 1))

        def pct(name: str) -> float:
            return 100 * (getattr(after, name) - getattr(before, name)) / seconds

        others = pct("busy") - pct("warden") - pct("load") - pct("database")
        return cls(pct("warden"), pct("hashing"), pct("hashing_waited"), pct("load"), pct("database"), max(0.0, others))
