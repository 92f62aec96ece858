"""`?organization=` on login and registration flow creation (Kratos's
`flow.ParseOrganizationFromURLQuery` and the flows' `PrepareOrganizations`).

Organizations are an Ory Network feature, yet open-source Kratos still acts on the parameter: a
malformed UUID is ignored (recorded, never an error); a UUID is taken as it is, without looking it
up (there is nothing to look it up in), becomes the flow's `organization_id`, and limits a
first-factor form to the methods that support organizations, social sign-in alone. Warden does
the same, so a UI that passes the parameter sees what Kratos would show it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable
from uuid import UUID

from aiohttp import web

log = logging.getLogger("warden.selfservice")

PARAMETER = "organization"
S = TypeVar("S")


@runtime_checkable
class OrganizationMethod(Protocol):
    """A method an organization's members sign in or up with (Kratos's `OrganizationImplementor`)."""

    def supports_organizations(self) -> bool: ...


def organization_of(request: web.Request) -> str | None:
    """The request's organization UUID, None when there is none or it is malformed."""
    raw = request.query.get(PARAMETER) or ""
    if not raw:
        return None
    try:
        return str(UUID(raw))
    except ValueError:
        log.info("ignoring the malformed organization query parameter of a flow")  # Kratos records it too
        return None


def organization_methods(strategies: Sequence[S]) -> list[S]:
    """The methods an organization-scoped form offers."""
    return [s for s in strategies if isinstance(s, OrganizationMethod) and s.supports_organizations()]
