"""What a login refused by `require_verified_address` answers (Kratos's
`hook/require_verified_address.go`, without `feature_flags.legacy_require_verified_login_error`):
no session, a verification flow for the identity's address, already in `sent_email` with the code
on its way, and the client sent to it: a JSON client gets 403 `session_verified_address_required`
with the flow as `details.continue_with`, a browser form a 303 to the verification UI.

Kratos makes the flow for the first address with a value, by whatever channel: with the code
method, so does Warden, a phone number (`via: sms`) getting its code by the courier's SMS channel.
A link goes by mail only, so with the link method it is the first email address. An identity with
no address the method can reach, or with verification switched off, gets the form error 4000010
instead (Kratos's answer when it finds no address to make a flow for). An identity with no address
at all never gets here: the hook answers it with Kratos's 500."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.errors import AddressNotVerified
from services.selfservice.flows.request import wants_json
from shared import text
from shared.http.middleware import error_response

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer


async def verification_required(
    c: SelfserviceContainer, request: web.Request, flow: Flow, identity: dict[str, Any]
) -> web.StreamResponse:
    addresses = identity.get("verifiable_addresses") or []
    channels = c.verifier.channels()
    first = next((a for a in addresses if a.get("via") in channels and a.get("value")), None)
    items = await c.verifier.send(request, flow.type, [first], origin=flow) if first else []
    if not items:
        flow.ui.messages.append(text.address_not_verified())
        raise FlowInvalid()
    if wants_json(request):
        error = AddressNotVerified(items)
        response = error_response(error, request)
        response.set_status(error.status)
        return response
    return see_other(str(items[0]["flow"]["url"]))
