"""The egress guard (`clients.http.disallow_private_ip_ranges`) against a real receiver on loopback:
refused by literal address and by name when private ranges are off limits, allowed when listed as
an exception or when the guard is off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from shared.http.egress import Egress, EgressPolicy, PrivateAddressRefused, is_public


@pytest.fixture
async def receiver() -> AsyncIterator[int]:
    async def hook(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_private_destinations_are_refused(receiver: int, host: str) -> None:
    egress = Egress(EgressPolicy(disallow_private_ip_ranges=True))
    try:
        with pytest.raises(OSError) as caught:
            async with egress.request("GET", f"http://{host}:{receiver}/hook"):
                pass
        refused = caught.value if isinstance(caught.value, PrivateAddressRefused) else caught.value.__cause__
        assert isinstance(refused, PrivateAddressRefused)
    finally:
        await egress.close()


async def test_exception_urls_and_an_open_policy_get_through(receiver: int) -> None:
    url = f"http://127.0.0.1:{receiver}/hook"
    for policy in (EgressPolicy(), EgressPolicy(True, frozenset({url}))):
        egress = Egress(policy)
        try:
            assert await egress.fetch_text(url) == "ok"
        finally:
            await egress.close()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254, the cloud metadata address
        ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_what_counts_as_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_web_hooks_courier_channels_and_fetched_templates_all_go_through_the_guard(receiver: int) -> None:
    from services.courier.channels.http import HttpChannel
    from services.courier.config import RequestConfig
    from services.courier.domain import Message
    from services.selfservice.hooks.web_hook_calls import WebHooks, WebHookSpec
    from shared.jsonnet import JsonnetBody
    from shared.jsonnet_sandbox import JsonnetSandbox

    url = f"http://localhost:{receiver}/hook"
    egress = Egress(EgressPolicy(disallow_private_ip_ranges=True))
    sandbox = JsonnetSandbox(size=1)
    try:
        hooks = WebHooks({}, {}, egress, 3.0, (), sandbox)
        with pytest.raises(OSError):
            spec = WebHookSpec("selfservice.flows.login.after.hooks.0.config", url)
            await hooks.call(spec, "{}", asyncio.get_running_loop().time() + 3.0)
        channel = HttpChannel(RequestConfig(url), JsonnetBody("function(ctx) {}", "body"), egress, sandbox, timeout=3)
        message = Message("0b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00", "sms", "+15550100", "", "hi", None, "stub", {})
        with pytest.raises(OSError):
            await channel.send(message)
        with pytest.raises(OSError):  # a Jsonnet body or claims mapper named by URL
            await egress.fetch_text(url)
    finally:
        await sandbox.close()
        await egress.close()
