"""Warden behind PgBouncer, as many Kubernetes deployments run PostgreSQL: a real PgBouncer (Debian's
package, session pooling) in front of the test server. The connections for writes a crash may lose
ask for `synchronous_commit = off` at startup (shared/storage/postgres.py), a parameter PgBouncer
refuses unless `ignore_startup_parameters` lists it: then Warden warns once and commits those writes
durably, and sign-ins work either way."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from tests.conftest import _fresh_pg_database, _reachable, free_port, require_server
from tests.factories import running_warden
from tests.selfservice_helpers import PASSWORD, create_identity, selfservice_settings

DEBIAN_PGBOUNCER = Path("/usr/sbin/pgbouncer")
REFUSED = "refuses the synchronous_commit startup parameter"


def _require_pgbouncer() -> Path:
    """The binary; under CI (`CI=true`) a missing PgBouncer fails the test, elsewhere it skips it."""
    found = shutil.which("pgbouncer") or (str(DEBIAN_PGBOUNCER) if os.access(DEBIAN_PGBOUNCER, os.X_OK) else None)
    if found:
        return Path(found)
    message = "PgBouncer is not installed (Debian: apt-get install pgbouncer)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing server is a failure)")
    pytest.skip(message)


def _pgbouncer(ignored: str) -> Iterator[int]:
    """A PgBouncer on a free port in front of 127.0.0.1:5432, trusting every client; its port. It
    refuses to run as root, so as root it runs as the `postgres` user, from a directory it can use."""
    binary = _require_pgbouncer()
    require_server("PostgreSQL", "127.0.0.1", 5432)
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="warden-pgbouncer-"))
    (directory / "users.txt").write_text('"postgres" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n* = host=127.0.0.1 port=5432\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory}/users.txt\npool_mode = session\n"
        f"logfile = {directory}/pgbouncer.log\nignore_startup_parameters = {ignored}\n"
    )
    command = [str(binary), str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        for name in ("users.txt", "pgbouncer.ini"):
            shutil.chown(directory / name, "postgres")
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", port):
            assert process.poll() is None, (directory / "pgbouncer.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "PgBouncer did not listen within 10 s"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["refused", "ignored"])
def behind_pgbouncer(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(the DSN through PgBouncer, how PgBouncer treats the parameter)."""
    ignored = "extra_float_digits" + (",synchronous_commit" if request.param == "ignored" else "")
    for direct in _fresh_pg_database():
        name = direct.rsplit("/", 1)[1].split("?")[0]
        for port in _pgbouncer(ignored):
            yield f"postgres://postgres@127.0.0.1:{port}/{name}?sslmode=disable", request.param


def test_a_login_works_behind_pgbouncer_whether_it_refuses_the_setting_or_ignores_it(
    behind_pgbouncer: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dsn, treatment = behind_pgbouncer
    caplog.set_level(logging.WARNING, logger="shared.storage.postgres")
    with running_warden(selfservice_settings(tmp_path, dsn)) as warden:
        create_identity(warden.admin_url, "bouncer@example.com")
        for _ in range(2):  # the second time over connections the pool already holds
            flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
            response = urllib3.request(
                "POST",
                f"{warden.public_url}/self-service/login?flow={flow['id']}",
                json={"method": "password", "identifier": "bouncer@example.com", "password": PASSWORD},
            )
            assert response.status == 200, response.data
            assert json.loads(response.data)["session"]["identity"]["traits"]["email"] == "bouncer@example.com"
    warnings = [r.getMessage() for r in caplog.records if REFUSED in r.getMessage()]
    assert len(warnings) == (1 if treatment == "refused" else 0), warnings
