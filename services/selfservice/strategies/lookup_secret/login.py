"""A backup recovery code as the second step of a login (`aal=aal2`). Spending a code is a
compare-and-set on the credential: of two concurrent submissions of one code exactly one wins."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.lookup_secret.codes import unused_count
from services.selfservice.strategies.mfa import has_credential, is_aal2_login, second_factor_method, upgrading_identity
from shared import text
from shared.aal import backup_codes

if TYPE_CHECKING:
    from services.selfservice.strategies.lookup_secret.strategy import LookupSecretStrategy

log = logging.getLogger(__name__)

FIELD = "lookup_secret"
SWAP_TRIES = 5  # a lost race re-reads the codes; another code spent at the same moment is no reason to fail


def populate(strategy: LookupSecretStrategy, flow: Flow) -> None:
    if not (is_aal2_login(flow) and has_credential(flow, strategy.method)):
        return
    flow.ui.add(
        input_node("lookup_secret", FIELD, "text", value="", required=True, label=text.label_lookup_code()),
        input_node("lookup_secret", "method", "submit", value="lookup_secret", label=text.use_backup_recovery_code()),
    )


async def authenticate(strategy: LookupSecretStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    identity_id = upgrading_identity(flow)
    code = body.get(FIELD)
    if not isinstance(code, str) or not code.strip():
        flow.ui.add_node_message(FIELD, text.property_missing(FIELD))
        raise FlowInvalid()
    await strategy.services.check_throttle(identity_id)
    for _ in range(SWAP_TRIES):
        config = await strategy.stored_config(identity_id)
        if not backup_codes(config):
            flow.ui.messages.append(text.no_lookup_codes())
            raise FlowInvalid()
        index = await _find(strategy, identity_id, config, code.strip().lower())
        entry = backup_codes(config)[index] if index is not None else None
        if entry is None or entry.get("used_at"):
            await strategy.services.attempt(identity_id, succeeded=False)
            message = text.lookup_code_invalid() if entry is None else text.lookup_code_already_used()
            flow.ui.add_node_message(FIELD, message)
            raise FlowInvalid()
        assert index is not None  # an unknown code has no entry
        after = strategy.hasher.spent(config, index)
        if await strategy.services.identities.swap_credential(identity_id, strategy.method, config, after):
            break
    else:
        flow.ui.add_node_message(FIELD, text.lookup_code_already_used())
        raise FlowInvalid()
    await strategy.services.attempt(identity_id, succeeded=True)
    if unused_count(after) == 0:
        flow.ui.messages.append(text.lookup_codes_exhausted())
    identity = await strategy.services.identities.get_identity(identity_id)
    if identity is None:
        flow.ui.messages.append(text.no_lookup_codes())
        raise FlowInvalid()
    return LoginOutcome(identity, second_factor_method(strategy.method))


async def _find(strategy: LookupSecretStrategy, identity_id: str, config: dict[str, Any], code: str) -> int | None:
    """The entry `code` matches; none when the stored set cannot be checked (parameters past the
    bounds, stored before imports were checked): an operator's error, logged, and to the user a
    code that does not work, as it cannot."""
    try:
        return await strategy.hasher.find(config, code)
    except ValueError as exc:
        log.error(
            "identity %s: its backup codes cannot be checked (%s); regenerate or re-import them", identity_id, exc
        )
        return None
