"""The code method's UI nodes for login and registration (Kratos's `code/node.go` and
`populateEmailSentFlow`): the button that asks for a code, and the screen that takes it."""

from __future__ import annotations

from services.selfservice.codes import Recipient
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.ui import Node, input_node
from shared import text
from shared.text import Message

GROUP = "code"
# The groups the code screen replaces (Kratos's RemoveGroups): every method's form goes.
REPLACED_GROUPS = {"default", "password", "oidc", "code", "webauthn", "passkey", "identifier_first", "profile", "saml"}


def send_button(label: Message) -> Node:
    return input_node(GROUP, "method", "submit", value="code", label=label)


def address_button(address: Recipient) -> Node:
    """Kratos's "Send code to …" (1010023) for an address of the signed-in identity, shown in full
    (it is the session's own): the button posts only `address`, no `method`."""
    return input_node(
        GROUP, "address", "submit", value=address.address, label=text.send_code_to(address.address, address.via)
    )


def code_input(label: Message) -> Node:
    """The six-digit code field, as every code screen (login, registration, recovery,
    verification) shows it."""
    return input_node(
        GROUP, "code", "text", required=True, autocomplete="one-time-code", pattern="[0-9]+", maxlength=6, label=label
    )


def code_screen(flow: Flow, kept: list[Node], code_label: Message, sent: Message, back: Node | None = None) -> None:
    """The flow once a code went out: the nodes `kept` (the identifier or the traits, hidden), the
    code field, Continue, Resend and (two-step registration) Back."""
    others = [n for n in flow.ui.nodes if n.group not in REPLACED_GROUPS or n.name == "csrf_token"]
    flow.ui.nodes = [
        *others,
        *kept,
        input_node(GROUP, "method", "hidden", value="code"),
        code_input(code_label),
        input_node(GROUP, "method", "submit", value="code", label=text.label_continue()),
        input_node(GROUP, "resend", "submit", value="code", label=text.label_resend_code()),
        *([back] if back is not None else []),
    ]
    flow.ui.messages = [sent]
    flow.state = "sent_email"
    flow.active = "code"


def address_code_screen(flow: Flow, address: Recipient) -> None:
    """The code screen once a code went to an address picked by its button: the address rides along
    hidden, so that Resend sends to it again."""
    kept = input_node(GROUP, "address", "hidden", value=address.address)
    code_screen(flow, [kept], text.label_login_code(), text.login_code_sent())


def hidden(node: Node) -> Node:
    """A copy of `node` as a hidden input that keeps its value (what the code screen carries along)."""
    attributes = {k: v for k, v in node.attributes.items() if k not in ("autocomplete", "pattern", "maxlength")}
    attributes["type"] = "hidden"
    return Node(node.group, attributes, node.type, [], dict(node.meta))
