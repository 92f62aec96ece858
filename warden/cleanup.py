"""How `warden cleanup` runs: how many rows a transaction deletes, how long past its lifetime a record
is kept, and how long to pause between tables. Each comes from its flag, spelled as `kratos cleanup
sql` spells it, else from the config file or environment (Kratos's `database.cleanup.*` keys), else
from Warden's default.

Kratos itself reads `older_than` only from `--keep-last` (its config key is in the schema but never
read); Warden honours both, the flag first. Kratos pauses `database.cleanup.sleep.tables` after every
table, one minute by default (its flag's default and its schema's), because it deletes one batch a
table and is meant to be run again and again. `warden cleanup` deletes until nothing is left and
pauses only when asked to: with Kratos's minute between its eight tables, every run (an empty
database's, a cron job's) would take seven minutes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.units import parse_duration

CLEANUP_BATCH = 1000  # rows per transaction when neither the flag nor the config says


@dataclass(frozen=True)
class CleanupOptions:
    batch: int = CLEANUP_BATCH
    keep_last: timedelta = timedelta(0)  # records whose lifetime ended less than this long ago stay
    pause: timedelta = timedelta(0)  # between two tables


def cleanup_options(
    settings: Any,
    *,
    batch_size: int | None = None,
    keep_last: timedelta | None = None,
    sleep_tables: timedelta | None = None,
) -> CleanupOptions:
    """The flags, else the values the config file or the environment sets. Not the schema's defaults
    (a batch of 100, a minute's pause): unset, Warden's larger batch and no pause stand."""
    configured = (settings.raw.get("database") or {}).get("cleanup") or {}
    older_than, sleep = configured.get("older_than"), (configured.get("sleep") or {}).get("tables")
    return CleanupOptions(
        batch=int(batch_size or configured.get("batch_size") or CLEANUP_BATCH),
        keep_last=keep_last if keep_last is not None else parse_duration(older_than or "0s"),
        pause=sleep_tables if sleep_tables is not None else parse_duration(sleep or "0s"),
    )


def duration_flag(value: str) -> timedelta:
    """A duration flag as Go's flags take it ("90s", "1m30s", "0"), minus fractions and signs."""
    try:
        return parse_duration("0s" if value.strip() == "0" else value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
