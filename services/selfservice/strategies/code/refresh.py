"""A refresh login by code with `feature_flags.refresh_login_choose_address` (Kratos's address
picker on the code refresh screen, ory/kratos#4194): the session fixes who signs in, so instead of
an identifier field the flow offers a "Send code to …" button (1010023, field `address`, group
`code`) per address a code for that identity may go to, and the code goes to the one pressed only.
The addresses are shown in full, as Kratos's second-factor buttons are: they are the session's own
(whoami shows them), so masking them would hide nothing from anyone.

Which addresses: those a refresh by typed identifier reaches, so that the flag changes the screen,
not who gets codes: the identity's code credential addresses; with
`missing_credential_fallback_enabled` and none, the email addresses among its sign-in identifiers
(fallback.py). They are read again at each send, so an address the identity gave up since the
screen was made gets nothing. Any other value (another account's address, a typo) is Kratos's
4000035 and sends nothing; the passwordless login's no-enumeration answer has nothing to hide here,
the session's identity being known. From the code on, the flow is passwordless login's (login.py):
guesses counted against the address, and the login handler checks that the code signed in the
session's own identity. A flow made with the flag stays such a flow if the flag is turned off, but
its buttons, which post no `method`, are then claimed by no method (4010002), as before the flag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice import code_owner
from services.selfservice.codes import Recipient
from services.selfservice.flows.errors import FlowInvalid, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.request import string_field
from services.selfservice.strategies.code import fallback, nodes
from services.selfservice.strategies.code.addresses import code_addresses, named, normalized
from services.selfservice.strategies.identifier_first.strategy import IDENTIFIER_TYPES
from shared import text

if TYPE_CHECKING:
    from services.selfservice.strategies.code.strategy import PasswordlessCodeStrategy

KIND = "login"
PICKER = "refresh_address_picker"  # flow.internal: made with the flag, for this identity


async def populate(strategy: PasswordlessCodeStrategy, flow: Flow, identity_id: str) -> None:
    flow.internal[PICKER] = identity_id
    flow.ui.add(*(nodes.address_button(a) for a in await offered(strategy, identity_id)))


def offers(flow: Flow) -> bool:
    return bool(flow.internal.get(PICKER))


async def send(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> None:
    """The code to the address the body names (`address`, as the buttons post it; else `identifier`,
    as an app may), if it is one of the identity's; the flow on its code screen."""
    chosen = string_field(body, "address", "identifier")
    if not normalized(chosen):
        flow.ui.messages.append(text.property_missing("address"))
        raise FlowInvalid()
    identity_id = str(flow.internal[PICKER])
    identity = await strategy.identities.get_identity(identity_id)
    address = named(await offered(strategy, identity_id, identity), chosen) if identity is not None else None
    if address is None:
        flow.ui.messages.append(text.no_code_user())
        raise FlowInvalid()
    await strategy.sender.admit()  # the client's code_send window
    nodes.address_code_screen(flow, address)
    code_owner.remember(flow, address.address, identity_id)
    await strategy.sender.send(flow, KIND, [address], identity)
    raise StepCompleted(shows_payload=True)


async def offered(
    strategy: PasswordlessCodeStrategy, identity_id: str, identity: dict[str, Any] | None = None
) -> list[Recipient]:
    addresses = await code_addresses(strategy.identities, identity_id)
    if addresses or not strategy.fallback:
        return addresses
    identity = identity or await strategy.identities.get_identity(identity_id) or {}
    credentials = identity.get("credentials") or {}
    identifiers = [i for t in IDENTIFIER_TYPES for i in (credentials.get(t) or {}).get("identifiers") or []]
    return [fallback.recipient(i) for i in dict.fromkeys(identifiers) if "@" in i]
