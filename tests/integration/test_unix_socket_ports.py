"""`serve.public.host: unix:<path>`: the public port on a Unix socket, as Kratos serves it. A native
client registers and asks whoami over the socket; the file has the configured mode, owner and group;
a socket file left by a process that died is replaced at start, and the file is gone after stop.
The proxy on the socket names the client in `X-Forwarded-For`: sessions record it, per-IP limits count it."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import socket
import stat
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.errors import StartupFailed
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, sqlite_selfservice_settings
from warden.cli import _where

MODE = 0o770


def _other_owner() -> tuple[str, str]:
    """A user and group other than the test's when it runs as root (who may give the file away),
    else its own (a user may always set those)."""
    if os.geteuid() == 0:
        user = next(p for p in pwd.getpwall() if p.pw_uid != 0)
        group = next(g for g in grp.getgrall() if g.gr_gid != 0)
        return user.pw_name, group.gr_name
    return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name


def _stale_socket(path: Path) -> None:
    """What a killed process leaves: a socket file that no one listens on."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))


def _settings(directory: Path, path: Path, owner: str, group: str) -> Any:
    socket_config = {"mode": MODE, "owner": owner, "group": group}
    return sqlite_selfservice_settings(directory, serve={"public": {"host": f"unix:{path}", "socket": socket_config}})


async def _register_and_ask_whoami(path: Path) -> dict[str, Any]:
    email = f"socket-{uuid.uuid4().hex[:10]}@example.com"
    async with aiohttp.ClientSession(
        "http://localhost", connector=aiohttp.UnixConnector(path=str(path)), headers={"Accept": "application/json"}
    ) as client:
        async with client.get("/self-service/registration/api") as answer:
            assert answer.status == 200
            flow = await answer.json()
        body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
        async with client.post(f"/self-service/registration?flow={flow['id']}", json=body) as answer:
            assert answer.status == 200, await answer.text()
            token = (await answer.json())["session_token"]
        async with client.get("/sessions/whoami", headers={"X-Session-Token": token}) as answer:
            assert answer.status == 200
            session: dict[str, Any] = await answer.json()
    assert session["identity"]["traits"]["email"] == email
    return session


def test_the_public_port_serves_on_a_unix_socket_with_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "public.sock"
    _stale_socket(path)
    owner, group = _other_owner()
    with running_warden(_settings(tmp_path, path, owner, group)) as warden:
        assert warden.public_url == f"unix:{path}"
        status = path.stat()
        assert stat.S_ISSOCK(status.st_mode) and stat.S_IMODE(status.st_mode) == MODE
        assert (pwd.getpwuid(status.st_uid).pw_name, grp.getgrgid(status.st_gid).gr_name) == (owner, group)
        session = asyncio.run(_register_and_ask_whoami(path))
        assert session["active"] is True
        assert warden.admin_url.startswith("http://127.0.0.1:")  # the other port stays on TCP
        ready = _where(warden.process)  # the start-up banner: the proxy's URL, and the socket
        rows = {line.split("  ")[1]: line.split()[-1] for line in ready.splitlines()[1:]}
        assert rows["public API"] == "http://127.0.0.1:4433/" and rows["public port socket"] == f"unix:{path}"
    assert not path.exists()


def test_a_socket_another_server_answers_on_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "busy.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen()
        warden = ThreadedWarden(_settings(tmp_path, path, *_other_owner()))
        with pytest.raises(StartupFailed, match=r"^serve\.public: a server is already listening on "):
            warden.start()
        warden.stop()
        assert path.exists()  # still the other server's


async def _submit_registration(client: aiohttp.ClientSession, email: str, forwarded_for: str) -> aiohttp.ClientResponse:
    headers = {"X-Forwarded-For": forwarded_for}
    async with client.get("/self-service/registration/api", headers=headers) as answer:
        flow = await answer.json()
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
    async with client.post(f"/self-service/registration?flow={flow['id']}", json=body, headers=headers) as answer:
        await answer.read()
        return answer


async def _forwarded_client_over_the_socket(path: Path) -> None:
    async with aiohttp.ClientSession(
        "http://localhost", connector=aiohttp.UnixConnector(path=str(path)), headers={"Accept": "application/json"}
    ) as client:
        # nginx's `$proxy_add_x_forwarded_for`: what the client claimed, then the address nginx saw.
        answer = await _submit_registration(client, "forwarded@example.com", "10.9.8.7, 203.0.113.7")
        assert answer.status == 200
        token = (await answer.json())["session_token"]
        async with client.get("/sessions/whoami", headers={"X-Session-Token": token}) as whoami:
            session = await whoami.json()
        assert [device["ip_address"] for device in session["devices"]] == ["203.0.113.7"]
        assert (await _submit_registration(client, "not-an-email", "203.0.113.7")).status == 400
        refused = await _submit_registration(client, "not-an-email", "203.0.113.7")
        assert refused.status == 429, "the forwarded client's window is full"
        other = await _submit_registration(client, "not-an-email", "198.51.100.8")
        assert other.status == 400, "another forwarded client is still served"


def test_a_request_on_a_unix_socket_names_its_client_in_x_forwarded_for(tmp_path: Path) -> None:
    """The socket's peer has no address: it is the proxy the file's permissions let in, so its
    `X-Forwarded-For` names the client that sessions record and per-IP limits count (no
    `trusted_proxies` entry could name it)."""
    path = tmp_path / "public.sock"
    window = {"limit": 2, "window": "1m"}
    settings = sqlite_selfservice_settings(
        tmp_path,
        serve={"public": {"host": f"unix:{path}"}},
        rate_limits={"enabled": True, "per_ip": {"registration": window}},
    )
    with running_warden(settings):
        asyncio.run(_forwarded_client_over_the_socket(path))
