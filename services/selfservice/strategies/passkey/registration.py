"""Registering a key, for the passkey method and for the webauthn method alike (Kratos's passkey and
webauthn `registration.go` and `settings.go` do the same): the browser's answer to the options is
checked against the flow's challenge (ceremony.py) and becomes the stored form of a new key, in a
sign-up with the traits or in settings beside the keys the account has. What differs between the
two methods (their fields, nodes and what a key is called) each passes in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_id, schema_of
from services.selfservice.flows.registration.strategy import KEPT_TRAITS, RegistrationOutcome
from services.selfservice.strategies.passkey import ceremony, responses
from services.selfservice.strategies.passkey.ceremony import Challenges, RelyingParty
from services.selfservice.strategies.passkey.options import Criteria
from services.selfservice.strategies.passkey.responses import Refused
from services.selfservice.traits import TraitSchemas, trait_errors
from shared import errors
from shared.clients.ports import IdentityClient


class KeyMethod(Protocol):
    """What registering a key reads of its method (PasskeyStrategy, WebAuthnStrategy)."""

    @property
    def method(self) -> str: ...  # the credential type and the registration's method
    @property
    def challenges(self) -> Challenges: ...
    @property
    def rp(self) -> RelyingParty: ...
    @property
    def criteria(self) -> Criteria: ...
    @property
    def challenge_key(self) -> str: ...  # where the flow keeps the challenge of the options it shows
    @property
    def schemas(self) -> TraitSchemas: ...
    @property
    def identities(self) -> IdentityClient: ...


async def new_key(
    m: KeyMethod, flow: Flow, answer: Any, handle: Any, registered: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The stored form of the key the browser's `answer` registers under the user `handle` the flow
    issued, or Refused: no handle, an answer that does not parse or verify (the challenge is spent
    either way), or a key among the `registered` ones (a client that ignored excludeCredentials)."""
    if not isinstance(handle, str):
        raise Refused("no user handle was issued for this flow")
    credential = responses.parse_attestation(answer)
    key = await ceremony.verify_registration(
        m.challenges, m.rp, flow, m.challenge_key, credential, m.criteria.verifies_user
    )
    if any(k.get("id") == key["id"] for k in registered):
        raise Refused("this key is registered already")
    return key


async def sign_up(
    m: KeyMethod,
    flow: Flow,
    body: dict[str, Any],
    *,
    answer: Any,
    handle: Any,
    renew: Callable[[], None],
    described: Callable[[Any], dict[str, Any]],
) -> RegistrationOutcome:
    """A sign-up with the traits and a key in one submission, or the key alone after the traits step
    of a `profile_first` registration (the traits that step kept). A refused answer or traits the
    schema refuses answer the form again with a new challenge (`renew`: the answer spent the one it
    showed). `described` gives the fields the method adds to the key, from the traits."""
    schema = schema_of(flow)
    traits = m.schemas.coerce(body.get("traits") or flow.internal.get(KEPT_TRAITS) or {}, schema)
    for node in m.schemas.nodes(schema, values=traits if isinstance(traits, dict) else {}):
        flow.ui.set_value(node.name or "", node.attributes.get("value"))
    try:
        key = await new_key(m, flow, answer, handle)
    except Refused as refused:
        renew()
        flow.ui.messages.append(responses.registration_refusal(refused))
        raise FlowInvalid() from None
    try:
        await m.identities.validate_identity({"schema_id": schema_id(flow, m.schemas), "traits": traits})
    except errors.BadRequest as exc:
        renew()
        trait_errors(flow, exc)
        raise FlowInvalid() from None
    config = {"credentials": [{**key, **described(traits)}], "user_handle": handle}
    draft = {"schema_id": schema_id(flow, m.schemas), "traits": traits, "credentials": {m.method: {"config": config}}}
    return RegistrationOutcome(draft, {"method": m.method, "aal": "aal1"}, persisted=False)
