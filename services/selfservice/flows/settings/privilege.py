"""Whether a session may make the changes that need a privileged session (Kratos's `IsPrivileged`:
signed in within `privileged_session_max_age`), and what it must prove again when it may not.

Kratos looks at `authenticated_at` alone, which any refresh moves, whatever its method: an aal2
session (a password and a second factor) refreshed with the password alone stayed aal2 and became
privileged, and could then unlink the second factor and change the password. Someone holding a
stolen aal2 session and the password, but not the authenticator, took the account over that way.
Warden is stricter: an aal2 session of an identity that has a second factor is privileged only
while both its first factor and a second factor were proven within the window. What is stale is
asked for again (`refresh=true`, then `refresh=true&aal=aal2`, Kratos's way of proving the second
factor again), each on its own login, and a paused change resumes once both are fresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.selfservice.flows.flow import now
from shared.aal import AAL1, AAL2, AssuranceRules

# Methods that prove the first factor when the provider vouched for a second one too (their aal2
# entry stands for both, as it makes the session aal2 on its own).
_BOTH_FACTORS = frozenset({"oidc", "saml"})


def stale_factor(
    session: Mapping[str, Any], identity: Mapping[str, Any], max_age: timedelta, assurance: AssuranceRules
) -> str | None:
    """None if the session is privileged; else what to prove again: AAL1 (sign in again) or AAL2
    (the second factor again)."""
    if now() - _time(session.get("authenticated_at")) > max_age:
        return AAL1
    if session.get("authenticator_assurance_level") != AAL2 or not assurance.has_second_factor(identity):
        return None
    fresh = [
        m
        for m in session.get("authentication_methods") or []
        if isinstance(m, Mapping) and now() - _time(m.get("completed_at")) <= max_age
    ]
    if not any(m.get("aal") != AAL2 or m.get("method") in _BOTH_FACTORS for m in fresh):
        return AAL1
    if not any(m.get("aal") == AAL2 for m in fresh):
        return AAL2
    return None


def _time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:  # none recorded: as long ago as can be
        return datetime.min.replace(tzinfo=UTC)
