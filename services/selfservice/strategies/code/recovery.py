"""The screens of recovery by a chosen address (Kratos's "recovery v2", `code/strategy_recovery.go`,
behind `feature_flags.choose_recovery_address`): the user names the account, picks one of its
recovery addresses, shown masked, types that address in full when it is not the one typed first,
and types the code sent there. What each submission does is
`flows/recovery/choose_address.py`'s; this module only lays the flow out, as Kratos's nodes are.

A masked address never shows enough to be read back in full, and the button that picks it carries
an opaque token (the flow keeps, server-side, which address it stands for), never the address: the
user has proven nothing yet. Kratos's button value is the SHA-256 of the address, which anyone can
compute for a guessed address and so confirm it; a random token per flow confirms nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.ui import Node, input_node
from services.selfservice.strategies.code.nodes import GROUP, code_input
from shared import text

# Kratos's recovery v2 states (`selfservice/flow/state.go`).
AWAITING_ADDRESS = "recovery_awaiting_address"
AWAITING_CHOICE = "recovery_awaiting_address_choice"
AWAITING_CONFIRM = "recovery_confirming_address"
AWAITING_CODE = "recovery_awaiting_code"
STATES = frozenset({AWAITING_ADDRESS, AWAITING_CHOICE, AWAITING_CONFIRM, AWAITING_CODE})

IDENTIFIER = "recovery_address"  # what the user typed to name the account
SELECT = "recovery_select_address"  # a button per address; its value is the option's token
CONFIRM = "recovery_confirm_address"  # the chosen address typed in full, when it is not the one typed first
SCREEN = "screen"  # "previous": one screen back
PREVIOUS = "previous"


@dataclass(frozen=True)
class Option:
    """One address the code can go to, as the flow keeps it (never sent to the client but masked)."""

    token: str
    via: str  # "email" | "sms"; "none" for the stand-in of an identifier that is no address
    address: str

    def to_json(self) -> dict[str, str]:
        return {"token": self.token, "via": self.via, "address": self.address}


def mask(address: str) -> str:
    """Kratos's `MaskAddress`: an email address keeps two characters of its local part and its
    domain ("te****@ory.sh"), anything else its first three and last two ("+49****67"); shorter
    values stay as they are. Unlike Kratos, a local part of one or two characters keeps only its
    first ("a****@example.com", where Kratos would show "a@example.com" whole)."""
    if "@" in address:
        local, _, domain = address.partition("@")
        if not local:
            return address
        return f"{local[: 2 if len(local) > 2 else 1]}****@{domain}"
    if len(address) < 6:
        return address
    return f"{address[:3]}****{address[-2:]}"


def address_screen(flow: Flow) -> None:
    """The first screen: any identifier of the account (an email address, a phone number, a username)."""
    _clear(flow)
    flow.ui.add(
        input_node(GROUP, IDENTIFIER, "text", required=True, label=text.label_recovery_address()),
        input_node(GROUP, "method", "submit", value="code", label=text.label_continue()),
    )
    flow.state = AWAITING_ADDRESS


def choice_screen(flow: Flow, typed: str, options: list[Option]) -> None:
    """A button per address (1060006 "How do you want to recover your account?")."""
    _clear(flow)
    flow.ui.add(
        *(input_node(GROUP, SELECT, "submit", value=o.token, label=text.label(mask(o.address))) for o in options)
    )
    flow.ui.add(
        input_node(GROUP, "method", "hidden", value="code"),
        input_node(GROUP, IDENTIFIER, "hidden", value=typed),
        _back(),
    )
    flow.ui.messages = [text.recovery_choose_address()]
    flow.state = AWAITING_CHOICE


def confirm_screen(flow: Flow, typed: str, chosen: Option) -> None:
    """The chosen address asked for in full (1060005), as Kratos asks when it is not the address
    typed first: knowing one address of an account must not be enough to have a code sent to
    another (an SMS to a phone number the requester never saw whole)."""
    _clear(flow)
    email = chosen.via == "email"
    flow.ui.add(
        input_node(
            GROUP,
            CONFIRM,
            "email" if email else "tel",
            required=True,
            label=text.label_email() if email else text.label_phone_number(),
        ),
        input_node(GROUP, IDENTIFIER, "hidden", value=typed),
        input_node(GROUP, "method", "submit", value="code", label=text.label_continue()),
        input_node(GROUP, "method", "hidden", value="code"),
        _back(),
    )
    flow.ui.messages = [text.recovery_ask_full_address()]
    flow.state = AWAITING_CONFIRM


def code_screen(flow: Flow, typed: str, chosen: Option, named: str | None = None) -> None:
    """The code field, as recovery v1 shows it, and Resend (a new code to the same address) and Back
    (to the choice); 1060004 names the address, masked: `named`, the address as confirmed in full,
    where there was a confirmation (as Kratos names what was typed, matching or not)."""
    _clear(flow)
    flow.ui.add(
        code_input(text.label_recovery_code()),
        input_node(GROUP, "method", "submit", value="code", label=text.label_continue()),
        input_node(GROUP, "method", "hidden", value="code"),
        input_node(GROUP, SELECT, "submit", value=chosen.token, label=text.label_resend_code()),
        input_node(GROUP, IDENTIFIER, "hidden", value=typed),
        _back(),
    )
    flow.ui.messages = [text.recovery_code_sent_to(mask(chosen.address if named is None else named))]
    flow.state = AWAITING_CODE


def _back() -> Node:
    return input_node(GROUP, SCREEN, "submit", value=PREVIOUS, label=text.recovery_back())


def _clear(flow: Flow) -> None:
    """Every screen starts over from the CSRF token, as Kratos re-creates the container."""
    flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
    flow.ui.messages = []
