"""The range API breach check (services/selfservice/strategies/password/breach_range.py) against a
real HTTPS range server on loopback (tests/hibp_range.py), trusted through `SSL_CERT_FILE` as an
operator trusts a private mirror's CA."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.selfservice.strategies.password.breach_range import (
    NETWORK_FAILURE,
    BreachRange,
    BreachRangeConfig,
)
from shared import errors, text
from shared.http.egress import EgressPolicy
from shared.tracing.redaction import redacted_url
from tests.conftest import free_port
from tests.hibp_range import RangeServer, sha1

PASSWORD = "correct-horse-battery-staple-91"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RangeServer]:
    running = RangeServer(tmp_path).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(running.pair.cert_path))  # read when a BreachRange is built
    try:
        yield running
    finally:
        running.stop()


def checker(host: str, max_breaches: int = 0, ignore: bool = True, policy: EgressPolicy | None = None) -> BreachRange:
    return BreachRange(BreachRangeConfig(host, max_breaches, ignore), policy or EgressPolicy())


async def test_a_password_breached_more_than_max_breaches_is_refused_with_its_count(server: RangeServer) -> None:
    server.breached(PASSWORD, 4)
    message = await checker(server.host, max_breaches=3).check(PASSWORD)
    assert message == text.password_breached(4)
    assert message is not None and (message.id, message.context) == (4000034, {"breaches": 4})


@pytest.mark.parametrize("count", [0, 2, 3])
async def test_a_password_breached_up_to_max_breaches_is_accepted(server: RangeServer, count: int) -> None:
    server.breached(PASSWORD, count)
    assert await checker(server.host, max_breaches=3).check(PASSWORD) is None


async def test_max_breaches_zero_refuses_any_breach_and_accepts_an_unknown_password(server: RangeServer) -> None:
    server.breached(PASSWORD, 1)
    assert await checker(server.host).check(PASSWORD) == text.password_breached(1)
    assert await checker(server.host).check(PASSWORD + "-not-breached") is None


async def test_only_the_five_character_prefix_is_sent(server: RangeServer) -> None:
    await checker(server.host).check(PASSWORD)
    [asked] = server.requests()
    digest = sha1(PASSWORD)
    assert (asked.method, asked.path, asked.query, asked.body) == ("GET", f"/range/{digest[:5]}", "", b"")
    assert asked.headers.get("Add-Padding") == "true"
    sent = asked.path + asked.query + " ".join(f"{k}: {v}" for k, v in asked.headers.items())
    assert PASSWORD not in sent and digest[5:] not in sent and digest[5:].lower() not in sent


async def test_the_prefix_is_in_no_span_when_tracing_is_on(server: RangeServer) -> None:
    """The client calls Warden makes are traced (shared/tracing/setup.py, with its URL filter): the
    range's URL, with the prefix of the password's hash in it, must not go to the tracing backend,
    which keeps it beside the registration's trace (whose request names the account). The call is
    a span of its own with the host alone, and no `traceparent` goes to the third party."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # the test's own: the process-wide one stays untouched
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider, url_filter=redacted_url)  # as Tracing.start does
    try:
        with provider.get_tracer("test").start_as_current_span("POST /self-service/registration"):
            await checker(server.host).check(PASSWORD)
    finally:
        instrumentor.uninstrument()
    prefix = sha1(PASSWORD)[:5]
    spans = exporter.get_finished_spans()
    assert not any(prefix in str(value) for s in spans for value in (s.attributes or {}).values()), spans
    assert not any(prefix in s.name for s in spans)
    [asked] = server.requests()
    assert "traceparent" not in {k.lower() for k in asked.headers}


async def test_a_range_is_asked_once_and_kept(server: RangeServer) -> None:
    server.breached(PASSWORD, 7)
    breach_range = checker(server.host)
    for _ in range(3):
        assert await breach_range.check(PASSWORD) == text.password_breached(7)
    assert len(server.requests()) == 1


async def test_an_unreachable_host_lets_the_password_through_when_network_errors_are_ignored() -> None:
    closed = f"127.0.0.1:{free_port()}"
    assert await checker(closed, ignore=True).check(PASSWORD) is None


async def test_an_unreachable_host_refuses_the_password_when_network_errors_count() -> None:
    closed = f"127.0.0.1:{free_port()}"
    assert await checker(closed, ignore=False).check(PASSWORD) == text.password_policy_violation(NETWORK_FAILURE)


@pytest.mark.parametrize("ignore", [True, False])
async def test_a_status_other_than_200_is_a_network_error(server: RangeServer, ignore: bool) -> None:
    server.answer(PASSWORD, 503, "down for maintenance")
    expected = None if ignore else text.password_policy_violation("503: unexpected status code")
    breach_range = checker(server.host, ignore=ignore)
    assert await breach_range.check(PASSWORD) == expected
    assert await breach_range.check(PASSWORD) == expected
    assert len(server.requests()) == 2, "a failed range is not kept"


@pytest.mark.parametrize("ignore", [True, False])
async def test_an_answer_that_is_not_a_range_is_an_upstream_error_either_way(server: RangeServer, ignore: bool) -> None:
    server.answer(PASSWORD, 200, f"{sha1(PASSWORD)[5:]}:lots\r\n")
    with pytest.raises(errors.BadGateway):
        await checker(server.host, ignore=ignore).check(PASSWORD)


async def test_the_certificate_is_verified(server: RangeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")  # the system's CAs do not know the test's certificate
    server.breached(PASSWORD, 9)
    assert await checker(server.host, ignore=False).check(PASSWORD) == text.password_policy_violation(NETWORK_FAILURE)
    assert server.requests() == []


async def test_the_egress_guard_applies(server: RangeServer) -> None:
    server.breached(PASSWORD, 9)
    guarded = EgressPolicy(disallow_private_ip_ranges=True)
    assert await checker(server.host, ignore=False, policy=guarded).check(PASSWORD) == (
        text.password_policy_violation(NETWORK_FAILURE)
    )
    assert server.requests() == []


async def test_neither_the_password_nor_its_hash_is_logged(
    server: RangeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.breached(PASSWORD, 2)
    await checker(server.host).check(PASSWORD)
    server.answer(PASSWORD + "2", 500)
    await checker(server.host).check(PASSWORD + "2")
    await checker(f"127.0.0.1:{free_port()}").check(PASSWORD + "3")
    assert "gave no usable answer" in caplog.text
    for password in (PASSWORD, PASSWORD + "2", PASSWORD + "3"):
        digest = sha1(password)
        assert password not in caplog.text
        assert digest[5:] not in caplog.text and digest[5:].lower() not in caplog.text
