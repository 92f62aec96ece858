"""An admin certificate renewed in place (self-signed, as a deployment without a private CA has it)
keeps the calls between processes working without a restart: the admin port serves the renewed
certificate (shared.http.tls_reload) and the internal clients trust it from then on. A real HTTPS
admin app on loopback, and the identity client `warden serve <service>` builds."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from shared.clients.identity import HttpIdentityClient
from shared.http.app import BoundRoute, create_app
from shared.http.tls import TlsPair
from shared.http.tls_reload import ReloadingContext
from shared.metrics import Metrics
from tests.certificates import self_signed_pair
from tests.conftest import free_port
from tests.unit.test_config import load
from warden.adapters import http_clients

TOKEN = "internal-https-renewal-token-0123456789"


async def _info(_request: web.Request) -> web.Response:
    """Each call on a connection of its own: every one is a new handshake."""
    return web.json_response({"service": "identity"}, headers={"Connection": "close"})


@pytest.fixture
async def renewed_admin(tmp_path: Path) -> AsyncIterator[tuple[HttpIdentityClient, ReloadingContext, Path]]:
    """The identity client of a process whose admin certificate is `served.crt`, calling an HTTPS
    admin app that serves the same files (as processes sharing one config and volume do)."""
    served, port = self_signed_pair(tmp_path, "served"), free_port()
    tls = {"cert": {"path": str(served.cert_path)}, "key": {"path": str(served.key_path)}}
    settings = load(
        tmp_path,
        {
            "serve": {"admin": {"tls": tls}},
            "services": {"internal_token": TOKEN, "identity": {"internal_url": f"https://127.0.0.1:{port}"}},
        },
    )
    pair = TlsPair.from_settings(settings, "admin")
    assert pair is not None
    reloading = ReloadingContext(pair)
    routes = [BoundRoute("GET", "/internal/identity/info", _info)]
    app = create_app(port="admin", routes=routes, readiness=[], metrics=Metrics(), internal_token=TOKEN)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=reloading.listener).start()
    clients, sessions = http_clients(settings, ["identity"], admin_tls=reloading)
    try:
        yield clients.identity, reloading, tmp_path  # type: ignore[misc]
    finally:
        for session in sessions:
            await session.close()
        await runner.cleanup()


async def test_calls_between_processes_go_on_after_the_admin_certificate_is_renewed_in_place(
    renewed_admin: tuple[HttpIdentityClient, ReloadingContext, Path],
) -> None:
    identity, reloading, directory = renewed_admin
    assert (await identity.info())["service"] == "identity"

    renewed = self_signed_pair(directory, "renewed")
    shutil.copyfile(renewed.cert_path, directory / "served.crt")
    shutil.copyfile(renewed.key_path, directory / "served.key")
    assert reloading.reload_if_changed() is True  # this process's poll: the admin port serves it now

    assert (await identity.info())["service"] == "identity"  # the renewed certificate, trusted
