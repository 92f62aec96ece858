"""The session settings Warden reads from `kratos.yml` (`session.*`, `cache.session_ttl`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.aal import AssuranceRules
from shared.cookies import CookieConfig
from shared.errors import ConfigError
from shared.units import parse_duration


@dataclass(frozen=True)
class SessionConfig:
    lifespan: timedelta
    earliest_possible_extend: timedelta | None
    required_aal: str
    cache_ttl_seconds: float
    cookie: CookieConfig
    public_base_url: str
    # `session.check.headers`: (trait path, header name) pairs, in config order.
    check_headers: tuple[tuple[str, str], ...] = ()
    assurance: AssuranceRules = AssuranceRules()  # what level an identity can reach (highest_available)
    inactivity_timeout: timedelta | None = None  # `session.inactivity_timeout` (Warden's; Kratos has none)
    # `feature_flags.faster_session_extend`: the admin extend answers 204 instead of the session.
    faster_extend: bool = False

    @property
    def use_recorded_every(self) -> timedelta | None:
        """How stale the recorded last use may get before a use is written again: a quarter of the
        timeout, at most a minute (a write per session per minute, not per request)."""
        if self.inactivity_timeout is None:
            return None
        return min(self.inactivity_timeout / 4, timedelta(minutes=1))

    @classmethod
    def from_settings(cls, settings: Any) -> SessionConfig:
        get = settings.get
        extend = get("session.earliest_possible_extend")
        lifespan = parse_duration(get("session.lifespan", "24h"))
        return cls(
            lifespan=lifespan,
            earliest_possible_extend=parse_duration(extend) if extend else None,
            required_aal=get("session.whoami.required_aal", "aal1") or "aal1",
            cache_ttl_seconds=parse_duration(settings.cache.session_ttl).total_seconds(),
            cookie=CookieConfig.session_cookie(settings),
            public_base_url=settings.serve.public.base_url,
            check_headers=tuple((get("session.check.headers") or {}).items()),
            assurance=AssuranceRules.from_settings(settings),
            inactivity_timeout=_inactivity_timeout(get("session.inactivity_timeout"), lifespan),
            faster_extend=get("feature_flags.faster_session_extend") is True,
        )


def _inactivity_timeout(raw: Any, lifespan: timedelta) -> timedelta | None:
    """Off when unset; otherwise more than nothing (0s would end every session at its first use)
    and less than the lifespan (which would end every session first)."""
    if not raw:
        return None
    timeout = parse_duration(raw)
    if not timedelta(0) < timeout < lifespan:
        raise ConfigError(f"session.inactivity_timeout: {raw!r} must be more than 0s and less than session.lifespan")
    return timeout
