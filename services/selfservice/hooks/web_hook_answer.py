"""What an interrupting `web_hook`'s answer does to the flow (Kratos's `parseWebhookResponse`):

- 4xx/5xx with `{"messages":[{"instance_ptr":"#/traits/email","messages":[{id,text,type,context}]}]}`:
  the flow stops and shows each message on the field the pointer names (or on the whole form);
- 200 with `{"identity":{traits?, metadata_public?, metadata_admin?}}` under `response.parse`:
  the identity is changed before it is saved; an empty or identity-less answer, or any other 2xx
  or 3xx, changes nothing (Kratos reads the body of a 200 only); a
  registration's hook may also give `verifiable_addresses` and `recovery_addresses`, taken as an
  admin import takes them (a hook that trusts an address marks it verified);
- anything else (a 4xx without messages, a body that is not JSON): Kratos's 502."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.hooks.web_hook_calls import Answer
from shared import errors, json_codec
from shared.text import Message

# What a hook may change about an identity before it is saved. Credentials, state and ids stay
# the flow's business.
METADATA = ("metadata_public", "metadata_admin")
PATCHABLE = ("traits", *METADATA)
# Only an identity about to be created takes addresses from a hook: settings keeps the identity's own.
ADDRESSES = ("verifiable_addresses", "recovery_addresses")


class WebHookFailed(errors.WardenError):
    code = 502
    default_message = "A third-party upstream service responded improperly."

    def __init__(self, detail: str) -> None:
        super().__init__("A third-party upstream service responded improperly.", message=detail)


class WebHookTimedOut(errors.WardenError):
    code = 504
    default_message = "A third-party upstream service did not respond in time."

    def __init__(self) -> None:
        super().__init__("A third-party upstream service did not respond in time.", message="web hook timed out")


def apply_answer(answer: Answer, flow: Flow, identity: dict[str, Any], *, parse: bool) -> None:
    if answer.status >= 400:
        messages = _messages(answer.body)
        if not messages:
            raise WebHookFailed(f"web hook failed with status code {answer.status}")
        for pointer, message in messages:
            flow.ui.add_node_message(pointer, message)
        raise FlowInvalid()
    if parse and answer.status == 200 and answer.body.strip():  # Kratos reads no other 2xx's body
        patch = _document(answer.body).get("identity")
        if isinstance(patch, dict):
            for key in (*PATCHABLE, *ADDRESSES) if flow.kind == "registration" else PATCHABLE:
                if key in patch:
                    identity[key] = patch[key]


def _document(raw: bytes) -> dict[str, Any]:
    try:
        document = json_codec.loads_standard(raw)
    except ValueError:
        raise WebHookFailed("web hook response could not be unmarshalled properly from JSON") from None
    if not isinstance(document, dict):
        raise WebHookFailed("web hook response is not a JSON object")
    return document


def _messages(raw: bytes) -> list[tuple[str, Message]]:
    """(node name, message) pairs; the pointer `#/traits/email` names the node `traits.email`."""
    try:
        groups = json_codec.loads_standard(raw).get("messages")
    except (ValueError, AttributeError):
        return []
    found: list[tuple[str, Message]] = []
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict) or not isinstance(group.get("messages"), list):
            continue
        pointer = str(group.get("instance_ptr") or "#").removeprefix("#").strip("/").replace("/", ".")
        for detail in group["messages"]:
            if isinstance(detail, dict) and isinstance(detail.get("text"), str):
                kind = "error" if detail.get("type") == "error" else "info"
                context = dict(detail["context"]) if isinstance(detail.get("context"), dict) else {}
                found.append((pointer, Message(_int(detail.get("id")), detail["text"], kind, context)))
    return found


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
