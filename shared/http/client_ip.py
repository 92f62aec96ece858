"""Who the client is: the socket's peer, or, when that peer is a configured trusted proxy, the
address the proxies say they forwarded for (finding 14 of the security review).

`X-Forwarded-For` is read right to left, skipping trusted proxies: the first address that is not one
is the client. A header from anyone else is ignored, so a client cannot choose the address that
device records and per-IP limits see. `serve.public.trusted_proxies` lists addresses or networks
(CIDR); the generated nginx config is one such proxy, and its address must be listed.

A request that arrives on a Unix socket (`serve.<port>.host: unix:<path>`) has a peer with no
address, which no list can name; it comes from a local process the socket file's permissions let
in, i.e. the proxy the operator put there, so it is trusted as a listed proxy is. (Kratos reads
`X-Forwarded-For` from every peer, ory/x httpx.ClientIP, and has no setting for this.)
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from contextvars import ContextVar

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Set by the request kernel (shared.http.kernel) for the life of each request.
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


class TrustedProxies:
    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._networks: tuple[Network, ...] = tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_of(self, request: web.Request) -> str | None:
        peer = request.remote
        # A TCP peer always has an address: the socket is looked at only for one that has none (this
        # runs on every request, whoami's included).
        if not (self._networks and self.trusts(peer)) and (peer or not _on_unix_socket(request)):
            return peer
        hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop if _is_address(hop) else peer
        return hops[0] if hops and _is_address(hops[0]) else peer


def _on_unix_socket(request: web.Request) -> bool:
    """Whether the request came on a Unix socket (through TLS too: the TLS transport answers for
    the socket underneath)."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    return sock is not None and sock.family == socket.AF_UNIX


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
