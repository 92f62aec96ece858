"""The login flow's own fields (spec `loginFlow`): `refresh` and `requested_aal`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.selfservice.flows.errors import shown_input
from shared.errors import BadRequest

AALS = ("aal1", "aal2")


def login_fields(request: web.Request) -> dict[str, Any]:
    aal = request.query.get("aal") or "aal1"
    if aal not in AALS:
        raise BadRequest(f"Unable to parse AuthenticationMethod Assurance Level (AAL): {shown_input(aal)}")
    return {"refresh": request.query.get("refresh") == "true", "requested_aal": aal, "organization_id": None}
