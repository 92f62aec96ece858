"""TOTP in settings: pair an authenticator app (a new secret shown as a QR code and as text, saved
once a code from the app proves the pairing) or unlink it (from an aal2 session only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import Node, input_node
from services.selfservice.strategies.totp.codes import matching_step, new_secret, provisioning_url, qr_data_uri
from shared import text

if TYPE_CHECKING:
    from services.selfservice.strategies.totp.strategy import TotpStrategy

PENDING = "totp_url"  # flow.internal: the sealed URL of a pairing not yet confirmed


def populate(strategy: TotpStrategy, flow: Flow, identity: dict[str, Any]) -> None:
    if strategy.method in (identity.get("credentials") or {}):
        # Kratos's NewUnlinkTOTPNode marks the button required, as its snapshots show.
        unlink = input_node("totp", "totp_unlink", "submit", value="true", required=True, label=text.unlink_totp())
        flow.ui.add(unlink)
        flow.internal.pop(PENDING, None)
        return
    account = _account_name(strategy, identity)
    url = provisioning_url(new_secret(), account, strategy.issuer)
    flow.internal[PENDING] = strategy.seal(url)
    secret = url.split("secret=", 1)[1].split("&", 1)[0]
    flow.ui.add(
        Node(
            "totp",
            {"id": "totp_qr", "src": qr_data_uri(url), "width": 256, "height": 256},
            "img",
            meta={"label": text.totp_qr_code()},
        ),
        Node(
            "totp",
            {"id": "totp_secret_key", "text": text.totp_secret(secret).to_json()},
            "text",
            meta={"label": text.label_totp_secret()},
        ),
        input_node(
            "totp", "totp_code", "text", required=True, autocomplete="one-time-code", label=text.label_verify_code()
        ),
        input_node("totp", "method", "submit", value="totp", label=text.label_save()),
    )


async def update(strategy: TotpStrategy, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
    identity_id = ctx.identity["id"]
    # Kratos's `continueSettingsFlow` asks only whether an app is paired: if so, the submission
    # unlinks it or changes nothing (a success); if not, it pairs one, `totp_unlink` or not.
    if strategy.method in (ctx.identity.get("credentials") or {}):
        if not _true(body.get("totp_unlink")):
            return ctx.identity
        strategy.services.require_aal2_session(ctx.session, flow)
        updated = await strategy.services.identities.remove_credential(
            identity_id, strategy.method, metadata=ctx.metadata
        )
        await strategy.services.notify(updated, strategy.method, added=False)
        return updated
    sealed = flow.internal.get(PENDING)
    code = body.get("totp_code")
    if not isinstance(sealed, str):
        flow.ui.messages.append(text.no_settings_strategy())
        raise FlowInvalid()
    if not isinstance(code, str) or not code.strip():
        flow.ui.add_node_message("totp_code", text.property_missing("totp_code"))
        raise FlowInvalid()
    strategy.services.require_aal2_to_add(ctx.session, ctx.identity, flow)
    url = strategy.open(sealed)
    step = matching_step(url, code)
    if step is None or not await strategy.steps.spend(identity_id, step):
        flow.ui.add_node_message("totp_code", text.totp_code_invalid())
        raise FlowInvalid()
    flow.internal.pop(PENDING, None)
    updated = await strategy.services.identities.update_credential(
        identity_id, strategy.method, {"totp_url": strategy.seal(url)}, metadata=ctx.metadata
    )
    await strategy.services.completed(ctx.session, strategy.method)
    await strategy.services.notify(updated, strategy.method, added=True)
    return updated


def claims(body: dict[str, Any]) -> bool:
    return _true(body.get("totp_unlink"))


def _account_name(strategy: TotpStrategy, identity: dict[str, Any]) -> str:
    """The schema's `credentials.totp.account_name` trait (Kratos's rule), else the identity id."""
    names = strategy.schemas.marked_values(
        "totp", "account_name", identity.get("traits") or {}, identity.get("schema_id")
    )
    return names[0] if names else identity["id"]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
