"""Review finding 16: a dependency that is down is a 503 with Retry-After (the client may retry
later), never a 500; and the internal client does not take a proxy's HTML error page for JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import selfservice_settings
from tests.tcp_proxy import ThreadedTcpProxy


@pytest.fixture
def database_proxy(pg_dsn: str) -> Iterator[tuple[ThreadedTcpProxy, str]]:
    proxied = ThreadedTcpProxy(5432).start()
    yield proxied, pg_dsn.replace("127.0.0.1:5432", f"127.0.0.1:{proxied.port}")
    proxied.close()


@pytest.fixture
def proxied_warden(tmp_path: Path, database_proxy: tuple[ThreadedTcpProxy, str]) -> Iterator[ThreadedWarden]:
    with running_warden(selfservice_settings(tmp_path, database_proxy[1])) as running:
        yield running


def test_finding_16_a_database_that_is_down_answers_503_with_retry_after(
    proxied_warden: ThreadedWarden, database_proxy: tuple[ThreadedTcpProxy, str]
) -> None:
    proxy, _ = database_proxy
    assert urllib3.request("GET", f"{proxied_warden.admin_url}/admin/identities").status == 200
    proxy.refuse()
    for method, url in (
        ("GET", f"{proxied_warden.admin_url}/admin/identities"),
        ("GET", f"{proxied_warden.public_url}/self-service/login/api"),
        ("GET", f"{proxied_warden.public_url}/sessions/whoami?token=ory_st_x"),
    ):
        down = urllib3.request(method, url, headers={"X-Session-Token": "ory_st_" + "x" * 32}, retries=False)
        assert down.status == 503, (url, down.data)
        assert int(down.headers["Retry-After"]) >= 1
        assert json.loads(down.data)["error"]["code"] == 503
    proxy.restore()
    assert urllib3.request("GET", f"{proxied_warden.admin_url}/admin/identities").status == 200
