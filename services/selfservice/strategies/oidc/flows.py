"""What a verified social sign-in does to each flow (Kratos's `strategy_login.go`,
`strategy_registration.go`, `strategy_settings.go`).

- **login**: the owner of `provider:subject` is signed in (first updated from the claims when the
  provider says `update_identity_on_login: automatic`); a stranger's login turns into a
  registration, as in Kratos.
- **registration**: the mapped traits create the identity; a known subject's registration turns into
  a login. Traits the schema refuses leave the user on the registration form, pre-filled, with the
  verified claims kept server-side in the flow until the form is sent again. An address another
  account already has is never taken over: the user is sent to sign in to that account first, and
  the provider is linked once they have (Kratos's account linking, message 1010016), unless the
  provider's `account_linking_mode: automatic` links it at once (linking.py says when).
- **settings**: the provider is linked to the signed-in identity, unless another identity owns it.

Flows of native apps finish in the system browser: their session is kept for the app to fetch with
`GET /sessions/token-exchange` (see `exchange.py`), and the browser goes to the app's `return_to`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows import token_exchange as exchange
from services.selfservice.flows.errors import FlowDisabled, FlowInvalid, IdentityExists, RefreshRequired, TraitsRefused
from services.selfservice.flows.flow import API, Flow
from services.selfservice.flows.identity_schema import schema_fields, schema_of
from services.selfservice.flows.login.flow import same_identity
from services.selfservice.flows.login.hook import complete_login, finish_login
from services.selfservice.flows.login.strategy import LINK_AFTER_LOGIN, LoginOutcome, pending_link
from services.selfservice.flows.registration.hook import complete_registration, finish_registration
from services.selfservice.flows.registration.login_hints import Hints
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import Node
from services.selfservice.hooks.registry import HookContext
from services.selfservice.strategies.oidc.providers import Claims
from services.selfservice.strategies.oidc.strategy import METHOD, OidcStrategy, Pending, authentication_method
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

log = logging.getLogger(__name__)


def _handlers() -> tuple[Any, Any, Any, Any]:
    """The flow handlers, imported when first needed: they import the method list, which lists this
    method, so importing them at module level would be circular."""
    from services.selfservice.flows.login.handler import new_login_flow
    from services.selfservice.flows.registration.handler import new_registration_flow
    from services.selfservice.flows.settings.handler import interrupting_hooks, settings_succeeded

    return new_login_flow, new_registration_flow, settings_succeeded, interrupting_hooks


async def finish(
    c: SelfserviceContainer,
    request: web.Request,
    strategy: OidcStrategy,
    flow: Flow,
    pending: Pending,
    claims: Claims,
    tokens: dict[str, str],
) -> web.StreamResponse:
    credential_id = f"{pending.provider}:{claims.subject}"
    owner = await c.engine.identities.find_by_credential_identifier(METHOD, credential_id)
    if flow.kind == "settings":
        return await _link(c, request, strategy, flow, pending, claims, tokens, owner)
    if flow.kind == "login":  # a refresh or a step-up of a session: its own identity, as every method
        same_identity(flow, owner)
    if owner is not None:
        if flow.kind != "login":
            flow = await _converted(c, request, flow, "login")
        return await _signed_in(c, request, strategy, flow, owner, pending.provider, claims)
    kept = strategy.kept_sign_in(pending.provider, claims, tokens)
    holder = await strategy.account_to_link(flow, pending.provider, claims)
    if holder is not None:
        return await _linked_automatically(c, request, strategy, flow, holder, pending.provider, claims, kept)
    if flow.kind != "registration":
        if not c.config.flows["registration"].enabled:
            # Kratos's answer, ErrRegistrationDisabled as a form error: UIs read its reason.
            flow.ui.messages.append(text.validation_failed(FlowDisabled("registration").reason))
            raise FlowInvalid()
        flow = await _converted(c, request, flow, "registration")
    mapped = await strategy.map_claims(pending.provider, claims)
    traits = {**mapped.traits, **pending.traits}
    outcome = strategy.registration(flow, traits, mapped, kept)
    try:
        if flow.type == API:
            return await exchange.keep_for_app(c, flow, await finish_registration(c, request, flow, outcome))
        return await complete_registration(c, request, flow, outcome)
    except IdentityExists as exists:
        return await _link_after_signing_in(
            c, request, strategy, flow, pending.provider, claims, kept, exists.hints, exists.holder_id
        )
    except TraitsRefused as refused:
        strategy.continue_registration(flow, pending.provider, traits, kept, mapped, refused.error)
        return await c.engine.respond_invalid(request, flow)


async def _converted(c: SelfserviceContainer, request: web.Request, old: Flow, kind: str) -> Flow:
    """Kratos's login ⇄ registration switch: a new flow of the other kind, same return_to, app and
    identity schema."""
    new_login_flow, new_registration_flow, _, _ = _handlers()
    fields = {"refresh": False, "requested_aal": "aal1", "organization_id": None, **schema_fields(schema_of(old))}
    flow: Flow
    if kind == "login":
        flow = await new_login_flow(c, request, old.type, fields, None)
    else:
        flow = await new_registration_flow(c, request, old.type, schema_of(old))
    flow.return_to = old.return_to
    if exchange.KEY in old.internal:
        flow.internal[exchange.KEY] = old.internal[exchange.KEY]
    await c.engine.save(flow)
    return flow


async def _signed_in(
    c: SelfserviceContainer,
    request: web.Request,
    strategy: OidcStrategy,
    flow: Flow,
    identity: dict[str, Any],
    provider: str,
    claims: Claims,
) -> web.StreamResponse:
    if identity.get("state") != "active":
        flow.ui.messages.append(text.identity_disabled())
        raise FlowInvalid()
    # Before the hooks and the session, as Kratos: they see the identity as the provider has it now.
    identity = await strategy.updated_on_login(flow, provider, claims, identity)
    outcome = LoginOutcome(identity, authentication_method(strategy.provider_config(provider), claims))
    if flow.type == API:
        return await exchange.keep_for_app(
            c, flow, await finish_login(c, request, flow, outcome, for_app=exchange.delivers(flow))
        )
    return await complete_login(c, request, flow, outcome)


async def _linked_automatically(
    c: SelfserviceContainer,
    request: web.Request,
    strategy: OidcStrategy,
    flow: Flow,
    holder: dict[str, Any],
    provider: str,
    claims: Claims,
    kept: dict[str, Any],
) -> web.StreamResponse:
    """`account_linking_mode: automatic` (linking.py): the account that proved the address the
    provider vouches for signs in by the provider, with the link pending on that login, as a link
    after signing in is: the login hook makes it once the session is what whoami asks for, so the
    login's hooks and events, and the wait for a second factor, are that path's. The mapper does not
    run and `update_identity_on_login` does not apply: the account is not the provider's yet."""
    if holder.get("state") != "active":  # said on the flow the user started, the one shown
        flow.ui.messages.append(text.identity_disabled())
        raise FlowInvalid()
    if flow.kind != "login":
        flow = await _converted(c, request, flow, "login")
    log.info("social sign-in with %s links identity %s automatically (verified email)", provider, holder["id"])
    flow.internal[LINK_AFTER_LOGIN] = pending_link(METHOD, holder["id"], kept)
    outcome = LoginOutcome(holder, authentication_method(strategy.provider_config(provider), claims))
    if flow.type == API:
        return await exchange.keep_for_app(
            c, flow, await finish_login(c, request, flow, outcome, for_app=exchange.delivers(flow))
        )
    return await complete_login(c, request, flow, outcome)


async def _link_after_signing_in(
    c: SelfserviceContainer,
    request: web.Request,
    strategy: OidcStrategy,
    flow: Flow,
    provider: str,
    claims: Claims,
    kept: dict[str, Any],
    hints: Hints | None,
    holder_id: str | None,
) -> web.StreamResponse:
    """The address belongs to another account (`holder_id`): sign in to it first, then the provider
    is linked to it, and to no other account that signs in on the form (login/hook.py).
    With login hints (`selfservice.flows.registration.login_hints`), the message lists the account's
    ways in and the form offers only those, as Kratos's `populateAccountLinkingUI` does."""
    new_login_flow = _handlers()[0]
    fields = {"refresh": False, "requested_aal": "aal1", "organization_id": None, **schema_fields(schema_of(flow))}
    login = await new_login_flow(c, request, flow.type, fields, None)
    login.return_to = flow.return_to
    login.internal[LINK_AFTER_LOGIN] = pending_link(METHOD, holder_id, kept)
    if exchange.KEY in flow.internal:
        login.internal[exchange.KEY] = flow.internal[exchange.KEY]
    email = str(claims.values.get("email") or claims.subject)
    login_url = f"{c.config.public_base_url.rstrip('/')}/self-service/login/browser"
    types, providers = (hints.credential_types, hints.oidc_providers) if hints else ((), ())
    login.ui.messages.append(text.login_and_link_account(email, strategy.title(provider), login_url, types, providers))
    if hints:
        login.ui.nodes = [n for n in login.ui.nodes if _offered(n, hints)]
    await c.engine.save(login)
    return c.engine.ui_redirect(login) if login.is_browser else web.json_response(login.to_json(), status=400)


def _offered(node: Node, hints: Hints) -> bool:
    """Whether a login form's node leads to a way into the account: its method is one the account
    has (a social sign-in button, one of its providers); unlabelled and default-group nodes stay."""
    if node.group == "default" or "label" not in node.meta:
        return True
    if node.group == METHOD:
        return node.attributes.get("value") in hints.oidc_providers
    return node.group in hints.credential_types


async def _link(
    c: SelfserviceContainer,
    request: web.Request,
    strategy: OidcStrategy,
    flow: Flow,
    pending: Pending,
    claims: Claims,
    tokens: dict[str, str],
    owner: dict[str, Any] | None,
) -> web.StreamResponse:
    session = await c.engine.current_session(request)
    identity_id = flow.internal.get("identity_id")
    if session is None or session["identity"]["id"] != identity_id:
        raise errors.Forbidden("The settings flow belongs to another session.")
    current = await c.engine.identities.get_identity(identity_id)
    if current is None:
        raise errors.NotFound("The identity of this settings flow no longer exists.")
    _still_privileged(c, flow, session, current)
    if owner is not None:
        flow.ui.messages.append(
            text.identifier_exists_on_oidc_link()
            if owner["id"] != identity_id
            else text.validation_failed("This provider is already linked to your account.")
        )
        raise FlowInvalid()
    kept = strategy.kept_sign_in(pending.provider, claims, tokens)
    strategy.refuse_linked_already(flow, current, pending.provider)
    _, _, settings_succeeded, interrupting_hooks = _handlers()
    metadata = await interrupting_hooks(c, request, flow, {}, current, METHOD, session)
    identity = await strategy.link_after_login(current, kept, metadata)
    ctx = SettingsContext(request, session, identity, c.verifier)
    hooked = HookContext(request, flow, identity, METHOD, session=session)
    await c.hooks.run("settings", "after", "post", hooked)
    answer: web.StreamResponse = await settings_succeeded(c, request, flow, METHOD, identity, ctx, hooked.deliveries)
    return answer


def _still_privileged(c: SelfserviceContainer, flow: Flow, session: dict[str, Any], identity: dict[str, Any]) -> None:
    """The link was asked for by a privileged session, but it completes here, maybe long after (a
    tab left at the provider's page keeps the flow's state alive): the session must still be
    privileged, or someone at the unattended browser could link their own social account to it. As
    in Kratos's `linkProvider`, the browser is sent to sign in again."""
    from services.selfservice.flows.settings.handler import privileged, refresh_url  # see `_handlers`

    if privileged(c, session, identity):
        return
    settings_ui = f"{c.config.flows['settings'].ui_url}?{urlencode({'flow': flow.id})}"
    raise RefreshRequired(refresh_url(c, flow, session, identity, settings_ui))
