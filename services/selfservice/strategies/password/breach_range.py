"""The breach check against a Have I Been Pwned range API (Kratos's `validator.go`, `fetch`), on top
of the offline list the policy always checks (policy.py).

Only when `haveibeenpwned_host` is set in the config (a self-hosted mirror, or Kratos's own default
`api.pwnedpasswords.com` named on purpose) and `haveibeenpwned_enabled` is on. Kratos calls
`api.pwnedpasswords.com` when the key is absent; Warden then calls nothing, because a machine
without a way out would stall every registration on the timeout (DESIGN §8: the check works without
a network).

With k-anonymity, as Kratos: the password's SHA-1 in upper-case hex; `GET https://<host>/range/<its
first 5 characters>`; the answer's `SUFFIX:COUNT` lines (a line without a count counts 1, as Kratos
reads HIBP's odd lines); a count over `max_breaches` refuses the password with 4000034 and the count.
Only the prefix leaves the process, never the password or the rest of its hash; none of them is
logged or traced (the call's span names the host alone). `Add-Padding: true` asks the API to pad its answer with zero-count rows, so that its size
does not tell an onlooker the prefix (Warden's addition; zero counts never exceed `max_breaches`).

No answer, a refused connection, a timeout, a refused private address or a status other than 200
are network errors: `ignore_network_errors` (default true) lets the password through (the offline
list has been checked), false refuses it with Kratos's 4000005 and its reason. An answer that is not
a range (a count that is not a number, more than MAX_RANGE_BYTES) is Kratos's upstream error, a
502, either way.

The call goes through the egress guard (shared/http/egress.py, `clients.http.*`), with a short
timeout and the trust store as it is when the method is built (the system's, or `SSL_CERT_FILE`:
a private mirror's CA). Ranges are kept an hour (Kratos keeps its counts an hour), a few at a time,
in this process; what is kept is public breach data, nothing of the passwords that were checked."""

from __future__ import annotations

import hashlib
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

from shared import errors, text
from shared.config.tree import MISSING, get_path
from shared.http.egress import Egress, EgressPolicy, PrivateAddressRefused, read_up_to
from shared.text import Message
from shared.tracing.spans import tracer

log = logging.getLogger(__name__)
CONFIG = ("selfservice", "methods", "password", "config")
TIMEOUT = 5.0  # seconds for one range; a registration waits on it
CACHE_SECONDS = 3600.0  # Kratos's hashCacheItemTTL
CACHE_RANGES = 128  # a range over `max_breaches` is a few hundred rows
MAX_RANGE_BYTES = 1024 * 1024  # a padded range is about 40 KB
PREFIX_LENGTH = 5
# Kratos's ErrNetworkFailure; Warden leaves out the transport's own words, which name the URL.
NETWORK_FAILURE = "unable to check if password has been leaked because an unexpected network error occurred"


class RangeUnreachable(Exception):
    """No usable answer: what `ignore_network_errors` is about. `reason` is Kratos's, for the user;
    `cause` is what went wrong, for the log (a type or a status: the transport's own text can carry
    the URL, and with it the prefix)."""

    def __init__(self, reason: str, cause: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


@dataclass(frozen=True)
class BreachRangeConfig:
    host: str
    max_breaches: int = 0
    ignore_network_errors: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> BreachRangeConfig | None:
        """None unless the breach check is on and `haveibeenpwned_host` is set in the config itself
        (`settings.get` would answer the schema's default host)."""
        host = get_path(settings.raw, (*CONFIG, "haveibeenpwned_host"))
        enabled = settings.get(".".join((*CONFIG, "haveibeenpwned_enabled")), True)
        if host is MISSING or not host or not enabled:
            return None
        return cls(
            str(host),
            int(settings.get(".".join((*CONFIG, "max_breaches")), 0)),
            bool(settings.get(".".join((*CONFIG, "ignore_network_errors")), True)),
        )


class BreachRange:
    def __init__(
        self, config: BreachRangeConfig, egress: EgressPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._egress = egress
        self._clock = clock
        self._tls = ssl.create_default_context()
        self._ranges: OrderedDict[str, tuple[float, Mapping[str, int]]] = OrderedDict()

    async def check(self, password: str) -> Message | None:
        """4000034 when the password was breached more than `max_breaches` times; 4000005 when the
        API cannot say and network errors are not ignored; else None."""
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:PREFIX_LENGTH], digest[PREFIX_LENGTH:]
        try:
            breached = await self._range(prefix)
        except RangeUnreachable as exc:
            log.warning("the breach range API at %s gave no usable answer: %s", self.config.host, exc.cause)
            return None if self.config.ignore_network_errors else text.password_policy_violation(exc.reason)
        count = breached.get(suffix, 0)
        return text.password_breached(count) if count > self.config.max_breaches else None

    async def _range(self, prefix: str) -> Mapping[str, int]:
        """The range's suffixes counted over `max_breaches`, kept CACHE_SECONDS."""
        now = self._clock()
        kept = self._ranges.get(prefix)
        if kept is not None and now - kept[0] < CACHE_SECONDS:
            self._ranges.move_to_end(prefix)
            return kept[1]
        breached = parse_range(await self._fetch(prefix), self.config.max_breaches)
        self._ranges[prefix] = (now, breached)
        self._ranges.move_to_end(prefix)
        while len(self._ranges) > CACHE_RANGES:
            self._ranges.popitem(last=False)
        return breached

    async def _fetch(self, prefix: str) -> bytes:
        # A session per call, as the oidc method's: a method has no shutdown hook to close one with,
        # and a range that is kept is not asked again for an hour.
        egress = Egress(self._egress, timeout=TIMEOUT)
        url = f"https://{self.config.host}/range/{prefix}"
        # A span of Warden's own, naming the host alone: the client instrumentation's would record
        # the URL, and with it the prefix, in the tracing backend beside the registration's trace
        # (and send the range API a `traceparent`). A failure is told by its type alone: aiohttp's
        # words can name the URL too.
        attributes = {"http.request.method": "GET", "server.address": self.config.host}
        traced = tracer("warden.breach_range").start_as_current_span(
            "GET breach range",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        with traced as span:
            try:
                with suppress_instrumentation():
                    async with egress.request("GET", url, headers={"Add-Padding": "true"}, ssl=self._tls) as response:
                        span.set_attribute("http.response.status_code", response.status)
                        if response.status != 200:
                            reason = f"{response.status}: unexpected status code"  # Kratos's ErrUnexpectedStatusCode
                            raise RangeUnreachable(reason, f"status {response.status}")
                        body = await read_up_to(response.content, MAX_RANGE_BYTES + 1)
            except (TimeoutError, aiohttp.ClientError, PrivateAddressRefused, OSError) as exc:
                span.set_status(StatusCode.ERROR, type(exc).__name__)
                raise RangeUnreachable(NETWORK_FAILURE, type(exc).__name__) from None
            finally:
                await egress.close()
        if len(body) > MAX_RANGE_BYTES:
            raise errors.BadGateway(f"The breach range API answered with more than {MAX_RANGE_BYTES} bytes.")
        return body


def parse_range(body: bytes, max_breaches: int) -> dict[str, int]:
    """The suffixes of `body`'s `SUFFIX:COUNT` lines whose count is over `max_breaches`. A line
    without a colon counts 1 (Kratos, ory/kratos#2145); a count may carry thousands separators; any
    other count is an upstream error, as in Kratos."""
    breached: dict[str, int] = {}
    for line in body.decode("utf-8", errors="replace").splitlines():
        suffix, colon, raw_count = line.strip().partition(":")
        if not suffix:
            continue
        count = _count(raw_count) if colon else 1
        if count > max_breaches:
            breached[suffix.upper()] = count
    return breached


def _count(raw: str) -> int:
    digits = raw.strip().replace(",", "")
    if not digits.isascii() or not digits.isdigit():
        raise errors.BadGateway("Expected password hash to contain a count formatted as int.")
    return int(digits)
