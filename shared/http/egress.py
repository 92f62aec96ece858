"""Outgoing HTTP to third parties named in config (web hooks, courier HTTP channels, Jsonnet
templates and mappers fetched by URL), through one guard.

`clients.http.disallow_private_ip_ranges: true` refuses private, loopback, link-local and other
non-public destinations (SSRF). The check sits in the resolver, so the address that is checked is
the address that is connected to: a name that resolves to a public address when checked and a
private one a moment later (DNS rebinding) cannot slip through. Literal IP hosts never reach the
resolver and are checked before the request. URLs listed in `clients.http.private_ip_exception_urls`
(exact match, as Kratos) go through an unguarded session. Redirects are never followed: a 3xx would
carry the request to an address nobody configured."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

MAX_RESPONSE_BYTES = 5 * 1024 * 1024  # Kratos reads at most 5 MB of a web hook's answer


async def read_up_to(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The answer's first `limit` bytes, or all of it if shorter. `content.read(n)` returns what has
    arrived so far, which may be a part of an answer sent in several pieces."""
    read = bytearray()
    while len(read) < limit and (chunk := await content.read(limit - len(read))):
        read += chunk
    return bytes(read)


class PrivateAddressRefused(OSError):
    """The destination is not a public address and the config forbids those."""


def is_public(address: str) -> bool:
    """Whether `address` is a public destination. An IPv6 address that carries an IPv4 one
    (`::ffff:a.b.c.d`, or 6to4's `2002:aabb:ccdd::/48`, which a 6to4 relay delivers to a.b.c.d) is
    judged by the IPv4 address it reaches."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


class PublicOnlyResolver(ThreadedResolver):
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        public = [r for r in found if is_public(r["host"])]
        if not public:
            raise PrivateAddressRefused(f"{host} resolves to no public address, and private ones are not allowed")
        return public


@dataclass(frozen=True)
class EgressPolicy:
    disallow_private_ip_ranges: bool = False
    exception_urls: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Any) -> EgressPolicy:
        return cls(
            bool(settings.get("clients.http.disallow_private_ip_ranges", False)),
            frozenset(settings.get("clients.http.private_ip_exception_urls") or ()),
        )

    def guarded(self, url: str) -> bool:
        return self.disallow_private_ip_ranges and url not in self.exception_urls

    def check_literal(self, url: str) -> None:
        host = URL(url).host or ""
        try:
            public = is_public(host.strip("[]"))
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if not public:
            raise PrivateAddressRefused(f"{host} is not a public address, and private ones are not allowed")


class Egress:
    """One per service: the sessions its outgoing calls go through. Open and close inside the loop."""

    def __init__(self, policy: EgressPolicy, *, timeout: float = 30.0) -> None:
        self.policy = policy
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._open = aiohttp.ClientSession(timeout=client_timeout)
        self._guarded = (
            aiohttp.ClientSession(timeout=client_timeout, connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver()))
            if policy.disallow_private_ip_ranges
            else self._open
        )

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """`session.request(...)` (use with `async with`), after the guard had its say."""
        session = self._open
        if self.policy.guarded(url):
            self.policy.check_literal(url)
            session = self._guarded
        return session.request(method, url, allow_redirects=False, **kwargs)

    async def fetch_text(self, url: str) -> str:
        """A template or mapper named by an http(s) URL."""
        async with self.request("GET", url) as response:
            response.raise_for_status()
            return str(await response.text())

    async def close(self) -> None:
        await self._open.close()
        if self._guarded is not self._open:
            await self._guarded.close()
