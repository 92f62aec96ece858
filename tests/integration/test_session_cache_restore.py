"""whoami after Redis starts again from a snapshot: redis.conf saves one by default, so a Redis pod
restarted with its volume comes back with the keys of the moment it saved, the cache entries of
sessions revoked since among them. Warden must not serve those.

The test runs a redis-server of its own (a free port, a snapshot file in the test's directory), so
that it can stop and start it without touching the shared one.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis as redis_sync

from tests.conftest import eventually, free_port
from tests.factories import running_warden
from tests.integration.test_session_faults import api_for, cache_key, warden_settings

# The session process checks the cache's run every second (SessionCache.run_repairs).
REPAIR_INTERVAL_SECONDS = 1.0


class PrivateRedis:
    """A redis-server that saves its snapshot in `directory`, started and stopped by the test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_sync.Redis:
        return redis_sync.Redis(port=self.port)

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed (.ci/run installs it)"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            + ["--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except redis_sync.ConnectionError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        """Stops without saving: the snapshot on disk stays the one `SAVE` wrote."""
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM with `--save ""` exits without a new snapshot
        self.process.wait(timeout=10)
        self.process = None


def _snapshot_value(redis: PrivateRedis, directory: Path, key: str) -> bytes | None:
    """What `key` holds in `redis`'s snapshot, read by a redis-server of its own started from a copy,
    which no Warden knows: read from `redis` itself once it starts again, the value could already be
    the repair's (the race a loaded machine lost)."""
    directory.mkdir()
    shutil.copy(redis.directory / "dump.rdb", directory / "dump.rdb")
    copy = PrivateRedis(directory)
    copy.start()
    try:
        value = copy.client().get(key)
    finally:
        copy.stop()
    return value if value is None or not value.startswith(b"dropped") else None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.mark.parametrize("gap", ["during requests", "between requests"])
async def test_a_session_revoked_after_a_snapshot_stays_revoked_when_redis_starts_again_from_it(
    tmp_path: Path, pg_dsn: str, private_redis: PrivateRedis, gap: str
) -> None:
    prefix = "restore:"
    settings = warden_settings(tmp_path, pg_dsn, private_redis.url, prefix)
    with running_warden(settings) as warden:
        async with aiohttp.ClientSession() as http:
            api = api_for(http, warden)
            revoked_id, revoked = await api.issue(await api.create_identity())
            _, kept = await api.issue(await api.create_identity())
            assert await api.whoami_status(revoked) == 200
            assert await api.whoami_status(kept) == 200
            assert private_redis.client().exists(cache_key(prefix, revoked)), "cached before the snapshot"
            private_redis.client().save()
            assert _snapshot_value(private_redis, tmp_path / "copy", cache_key(prefix, revoked)) is not None, (
                "the snapshot holds the live entry"
            )

            await api.revoke(revoked_id)
            assert await api.whoami_status(revoked) == 401

            private_redis.stop()
            if gap == "during requests":  # whoamis find Redis gone while it restarts
                assert await api.whoami_status(revoked) == 401
            private_redis.start()  # from the snapshot; Warden's repair may already be writing over it

            if gap == "between requests":  # only the repair loop can tell
                await asyncio.sleep(REPAIR_INTERVAL_SECONDS * 2)
            for _ in range(5):
                assert await api.whoami_status(revoked) == 401, "a session revoked after the snapshot was served"
                await asyncio.sleep(0.1)

            async def kept_is_cached_again() -> bool:
                assert await api.whoami_status(kept) == 200
                return bool(private_redis.client().exists(cache_key(prefix, kept)))

            await eventually(kept_is_cached_again, timeout=5)
