"""Mail bombing (review finding 7): how many codes and links one address may be sent.

Twenty recovery requests for one address in half a second queued twenty mails. Every message a
self-service flow sends to an address (recovery, verification, login and registration codes) spends
from that address's sliding window, whoever asks and from wherever; past it, the flow goes on exactly
as if the message had been sent (the same writes, the same answer, so the limit tells nobody whether
the address has an account) but nothing is queued. The per-client-IP windows of the rate limits
(`rate_limits.per_ip.code_send`) slow down one client spraying many addresses.

The windows live in the shared rate limiter (Redis, or the process in the embedded mode); when it
cannot be reached the message is sent: a Redis outage must not stop people from signing in.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from shared.errors import CacheUnavailable
from shared.identifiers import fold_address
from shared.ratelimit.ports import RateLimiter, Window

log = logging.getLogger(__name__)

# A code lives 15 minutes: five messages in that time cover every resend a person makes.
PER_ADDRESS = Window(limit=5, seconds=15 * 60)


@dataclass(frozen=True)
class SendBudget:
    limiter: RateLimiter
    per_address: Window = PER_ADDRESS

    async def spend(self, address: str) -> bool:
        """Counts one message to `address`; False when its window is full (send nothing)."""
        key = "send:address:" + hashlib.sha256(fold_address(address).encode()).hexdigest()  # no address in Redis
        try:
            if await self.limiter.hit(key, self.per_address) == 0:
                return True
        except CacheUnavailable:
            log.warning("per-address send limits are not enforced: the rate limiter is unreachable")
            return True
        log.info("a message was not sent: its address reached its limit of %d per window", self.per_address.limit)
        return False
