"""A session as Kratos models it: plain dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from shared.aal import AAL1, AAL2


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class AuthenticationMethod:
    method: str
    aal: str = AAL1
    completed_at: datetime = field(default_factory=now)
    provider: str | None = None
    # What a social sign-in's provider claimed of its own authentication (its `acr`, its `amr`),
    # whether or not that made the method aal2 (selfservice's oidc/assurance.py).
    upstream_acr: str | None = None
    upstream_amr: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Device:
    ip_address: str | None = None
    user_agent: str | None = None
    location: str | None = None
    id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class Session:
    identity_id: str
    token_hash: str
    expires_at: datetime
    authentication_methods: tuple[AuthenticationMethod, ...] = ()
    devices: tuple[Device, ...] = ()
    active: bool = True
    id: str = field(default_factory=new_id)
    authenticated_at: datetime = field(default_factory=now)
    issued_at: datetime = field(default_factory=now)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    active_at: datetime | None = None  # last used, where `session.inactivity_timeout` is kept

    @property
    def aal(self) -> str:
        return AAL2 if any(m.aal == AAL2 for m in self.authentication_methods) else AAL1

    def is_valid(self, at: datetime | None = None) -> bool:
        return self.active and (at or now()) < self.expires_at

    @property
    def last_active(self) -> datetime:
        """The last use recorded, or the last authentication (which a use never precedes)."""
        return max(self.active_at or self.authenticated_at, self.authenticated_at)

    def idle(self, timeout: timedelta | None, at: datetime | None = None) -> bool:
        """Unused for `timeout` (None: no inactivity timeout)."""
        return timeout is not None and (at or now()) >= self.last_active + timeout

    def revoked(self) -> Session:
        return replace(self, active=False, updated_at=now())

    def with_method(self, method: AuthenticationMethod, lifespan: timedelta) -> Session:
        """A refresh or a second factor on this session, as Kratos's `ActivateSession` records it: the
        method is appended (a second password refresh is a second entry, as `CompletedLoginFor`
        appends), the session counts as authenticated then and runs a whole lifespan from then."""
        return replace(
            self,
            authentication_methods=(*self.authentication_methods, method),
            authenticated_at=method.completed_at,
            expires_at=method.completed_at + lifespan,
            updated_at=now(),
        )
