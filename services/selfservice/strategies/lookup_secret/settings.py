"""Backup recovery codes in settings (Kratos's `lookup/settings.go`): regenerate (shown once, until
confirmed), confirm, reveal, disable. Warden keeps codes only under a slow KDF, so "reveal" shows
which codes were used and when, never a code again: the codes are shown once, when generated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.settings.strategy import SettingsContext, ShowForm
from services.selfservice.flows.ui import Node, input_node
from services.selfservice.strategies.lookup_secret.codes import (
    CODE_COUNT,
    CODE_LENGTH,
    new_codes,
    unused_count,
    used_at,
)
from shared import text
from shared.aal import backup_codes
from shared.text import Message

if TYPE_CHECKING:
    from services.selfservice.strategies.lookup_secret.strategy import LookupSecretStrategy

REGENERATE, REVEAL, CONFIRM, DISABLE = (f"lookup_secret_{a}" for a in ("regenerate", "reveal", "confirm", "disable"))
ACTIONS = (REGENERATE, REVEAL, CONFIRM, DISABLE)
CODES_NODE = "lookup_secret_codes"
PENDING = "lookup_secret_codes"  # flow.internal: generated codes awaiting confirmation
HIDDEN = "•" * CODE_LENGTH


def populate(strategy: LookupSecretStrategy, flow: Flow, identity: dict[str, Any]) -> None:
    if strategy.method in (identity.get("credentials") or {}):
        flow.ui.add(_button(REVEAL, text.reveal_lookup_codes()), _button(DISABLE, text.disable_lookup_codes()))
    else:
        flow.ui.add(_button(REGENERATE, text.regenerate_lookup_codes()))


def claims(body: dict[str, Any]) -> bool:
    return any(_true(body.get(action)) for action in ACTIONS)


async def update(
    strategy: LookupSecretStrategy, flow: Flow, body: dict[str, Any], ctx: SettingsContext
) -> dict[str, Any]:
    has_codes = strategy.method in (ctx.identity.get("credentials") or {})
    if _true(body.get(CONFIRM)):
        return await _confirm(strategy, flow, ctx, has_codes)
    if _true(body.get(REGENERATE)):
        strategy.services.require_aal2_to_add(ctx.session, ctx.identity, flow)  # no codes shown in vain
        codes = new_codes()
        flow.internal[PENDING] = strategy.cipher.encrypt(" ".join(codes))
        _clear(flow)
        flow.ui.add(_codes_node([text.lookup_code(c) for c in codes]), _button(CONFIRM, text.confirm_lookup_codes()))
        raise ShowForm()
    if _true(body.get(REVEAL)):
        if not has_codes:  # Kratos's 400, whose reason its settings error handler shows as 4000001
            flow.ui.messages.append(text.validation_failed("Can not reveal lookup codes because you have none."))
            raise FlowInvalid()
        config = await strategy.stored_config(ctx.identity["id"])
        stored = [e for e in backup_codes(config) if isinstance(e, dict)]
        _clear(flow)
        shown = [text.lookup_code_used(at) if (at := used_at(e)) else text.lookup_code(HIDDEN) for e in stored]
        flow.ui.add(
            _codes_node(shown),
            _button(REGENERATE, text.regenerate_lookup_codes()),
            _button(DISABLE, text.disable_lookup_codes()),
        )
        if unused_count(config) == 0:
            flow.ui.messages.append(text.lookup_codes_exhausted())
        raise ShowForm()
    if _true(body.get(DISABLE)):
        if not has_codes:
            return ctx.identity  # Kratos removes what is not there: a success that changes nothing
        strategy.services.require_aal2_session(ctx.session, flow)
        updated = await strategy.services.identities.remove_credential(
            ctx.identity["id"], strategy.method, metadata=ctx.metadata
        )
        await strategy.services.notify(updated, strategy.method, added=False)
        return updated
    flow.ui.messages.append(text.no_settings_strategy())
    raise FlowInvalid()


async def _confirm(strategy: LookupSecretStrategy, flow: Flow, ctx: SettingsContext, had_codes: bool) -> dict[str, Any]:
    sealed = flow.internal.pop(PENDING, None)
    codes = strategy.cipher.decrypt(sealed).split() if isinstance(sealed, str) else []
    if len(codes) != CODE_COUNT:
        flow.ui.messages.append(
            text.validation_failed("You must (re-)generate recovery backup codes before you can save them.")
        )
        raise FlowInvalid()
    # Replacing codes removes the old ones; adding them beside another factor is checked again here,
    # as the identity may have gained one since the codes were shown.
    strategy.services.require_aal2_to_add(ctx.session, ctx.identity, flow)
    # Sent as Kratos's import takes codes: the identity service seals them (shared.backup_codes) with
    # its KDF parameters, on its hashing threads, and stores nothing else.
    given = {"recovery_codes": [{"code": c, "used_at": None} for c in codes]}
    updated = await strategy.services.identities.update_credential(
        ctx.identity["id"], strategy.method, given, metadata=ctx.metadata
    )
    await strategy.services.completed(ctx.session, strategy.method)
    if not had_codes:
        await strategy.services.notify(updated, strategy.method, added=True)
    return updated


def _codes_node(codes: list[Message]) -> Node:
    return Node(
        "lookup_secret",
        {"id": CODES_NODE, "text": text.lookup_code_list(codes).to_json()},
        "text",
        meta={"label": text.label_lookup_codes()},
    )


def _button(name: str, label: Message) -> Node:
    return input_node("lookup_secret", name, "submit", value="true", label=label)


def _clear(flow: Flow) -> None:
    flow.ui.nodes = [n for n in flow.ui.nodes if n.group != "lookup_secret" and n.attributes.get("id") != CODES_NODE]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
