"""A session in Kratos's JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.session.domain import AuthenticationMethod, Session


def ts(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def public_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """What a session shows of its identity: no credentials, no admin metadata."""
    return {k: v for k, v in identity.items() if k not in ("credentials", "metadata_admin")}


def admin_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """What an admin session view shows of its identity: Kratos's `AdminSession` adds the admin
    metadata, and its GetSession loads the identity without credentials (`identity.ExpandDefault`)."""
    return {k: v for k, v in identity.items() if k != "credentials"}


def session_view(session: Session, identity: dict[str, Any] | None, *, with_devices: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": session.id,
        "active": session.is_valid() and (identity is None or identity.get("state", "active") == "active"),
        "expires_at": ts(session.expires_at),
        "authenticated_at": ts(session.authenticated_at),
        "authenticator_assurance_level": session.aal,
        "authentication_methods": [_method(m) for m in session.authentication_methods],
        "issued_at": ts(session.issued_at),
    }
    if identity is not None:
        body["identity"] = identity
    if with_devices:
        body["devices"] = [
            {"id": d.id, "ip_address": d.ip_address, "user_agent": d.user_agent, "location": d.location or ""}
            for d in session.devices
        ]
    return body


def _method(m: AuthenticationMethod) -> dict[str, Any]:
    body: dict[str, Any] = {"method": m.method, "aal": m.aal, "completed_at": ts(m.completed_at)}
    if m.provider:
        body["provider"] = m.provider
    if m.upstream_acr is not None:
        body["upstream_acr"] = m.upstream_acr
    if m.upstream_amr:  # `omitempty` in Kratos: an empty list (stored before it was dropped) is left out
        body["upstream_amr"] = list(m.upstream_amr)
    return body
