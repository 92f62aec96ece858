"""Per-client limits (finding 2 of the security review): sliding windows per client IP for each
self-service flow and for the codes a client makes Warden send, from `rate_limits` in the config.

A client past a window is refused with TooManyRequests (429, Retry-After). When the store cannot be
reached the request goes through: these limits slow a flood, the per-account password throttle (in
the database) is what bounds guessing, and an outage of Redis must not lock every user out.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from shared.errors import CacheUnavailable, TooManyRequests
from shared.ratelimit.ports import RateLimiter, Window
from shared.units import parse_duration

log = logging.getLogger(__name__)

PER_IP = ("login", "registration", "recovery", "verification", "code_send")


class ClientLimits:
    def __init__(
        self,
        limiter: RateLimiter,
        per_ip: Mapping[str, Window],
        enabled: bool = True,
        blocked: Callable[[], None] = lambda: None,
    ) -> None:
        self._limiter = limiter
        self._per_ip = dict(per_ip)
        self._enabled = enabled
        self._blocked = blocked  # told of each refusal (metrics)

    @classmethod
    def from_settings(
        cls, settings: Any, limiter: RateLimiter, blocked: Callable[[], None] = lambda: None
    ) -> ClientLimits:
        windows = {name: window_from(settings.get(f"rate_limits.per_ip.{name}")) for name in PER_IP}
        return cls(limiter, windows, bool(settings.get("rate_limits.enabled", True)), blocked)

    async def check_ip(self, action: str, client_ip: str | None) -> None:
        """Counts one `action` for the client IP; TooManyRequests past its window."""
        window = self._per_ip.get(action)
        if not self._enabled or window is None or not client_ip:
            return
        await self.check(f"ip:{action}:{client_key(client_ip)}", window)

    async def check(self, key: str, window: Window) -> None:
        """Counts one hit under `key` (any key: per IP, per address); TooManyRequests past `window`."""
        try:
            wait = await self._limiter.hit(key, window)
        except CacheUnavailable:
            log.warning("rate limits are not enforced: their store is unreachable")
            return
        if wait > 0:
            self._blocked()
            raise TooManyRequests(max(1, math.ceil(wait)), "Too many requests from this client, please slow down.")


def client_key(client_ip: str) -> str:
    """Whose window an address counts on: an IPv4 address's own; an IPv6 address's /64, the
    smallest block a network hands one subscriber, who can take any address in it at will (per
    address, one host would get 2^64 windows: a new number texted from each). An IPv4 address
    written as IPv6 (::ffff:a.b.c.d) is that IPv4 address."""
    try:
        ip = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def window_from(raw: Mapping[str, Any]) -> Window:
    return Window(limit=int(raw["limit"]), seconds=parse_duration(raw["window"]).total_seconds())
