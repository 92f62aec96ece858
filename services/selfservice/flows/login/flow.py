"""The login flow's own fields (spec `loginFlow`): `refresh`, `requested_aal` and `organization_id`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.selfservice.flows.errors import FlowInvalid, shown_input
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.organizations import organization_of
from shared import text
from shared.errors import BadRequest

AALS = ("aal1", "aal2")


def login_fields(request: web.Request) -> dict[str, Any]:
    aal = (request.query.get("aal") or "aal1").lower()  # Kratos's NewFlow lowercases it
    if aal not in AALS:
        raise BadRequest(  # Kratos's reason, which names the levels it takes
            "Unable to parse AuthenticationMethod Assurance Level (AAL): "
            f"expected one of [{', '.join(AALS)}] but got {shown_input(aal)}"
        )
    return {
        "refresh": request.query.get("refresh") == "true",
        "requested_aal": aal,
        "organization_id": organization_of(request),
    }


def scoped_to_organization(fields: dict[str, Any], session: dict[str, Any] | None) -> bool:
    """Kratos's login `PrepareOrganizations`: a first-factor flow is scoped to the organization of
    the session's identity, else to the one the request names (`fields`, from `login_fields`); a
    second factor never is (social sign-in is none). Sets the flow's `organization_id`."""
    if fields.get("requested_aal", "aal1") != "aal1":
        fields["organization_id"] = None
        return False
    if member_of := ((session or {}).get("identity") or {}).get("organization_id"):
        fields["organization_id"] = member_of
    return bool(fields.get("organization_id"))


def same_identity(flow: Flow, identity: dict[str, Any] | None) -> None:
    """Refreshing or upgrading a session must be done by the identity that owns it, whatever the
    method: someone else's account (or, by a social provider, one no identity owns yet) must not
    re-authenticate it, or anyone at an unattended browser could make it privileged again."""
    expected = flow.internal.get("identity_id")
    if expected and (identity is None or expected != identity["id"]):
        flow.ui.messages.append(text.invalid_credentials())
        raise FlowInvalid()
