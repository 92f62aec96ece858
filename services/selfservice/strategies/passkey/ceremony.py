"""The WebAuthn ceremonies the passkey (and security key) methods share, on py_webauthn: the relying
party from `selfservice.methods.<id>.config.rp`, options whose challenge is kept in the flow (bound to
it, spent by the first answer whatever its outcome), and verification that turns every forged or
wrong answer into a `Refused` (responses.py parses what the browser posts), which the methods show
as a 400 flow message."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from services.selfservice.flows.errors import RedirectBrowser, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.persistence import FlowRepository, spend
from services.selfservice.strategies.passkey.options import Criteria
from services.selfservice.strategies.passkey.responses import Refused
from shared import passkey_handles
from shared.clients.ports import IdentityClient
from shared.storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelyingParty:
    id: str
    display_name: str
    origins: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Any, method: str, public_base_url: str) -> RelyingParty:
        """`config.rp.{id, display_name, origins | origin}`. Without origins, Kratos's default: the
        RP id under the public URL's scheme. Without an id (Kratos requires one), the public URL's
        host and origin, so that a local setup works."""
        rp = settings.get(f"selfservice.methods.{method}.config.rp") or {}
        base = urlsplit(public_base_url)
        default = f"{base.scheme}://{rp['id']}" if rp.get("id") else f"{base.scheme}://{base.netloc}"
        origins = rp.get("origins") or ([rp["origin"]] if rp.get("origin") else [default])
        return cls(
            id=str(rp.get("id") or base.hostname or "localhost"),
            display_name=str(rp.get("display_name") or "Warden"),
            origins=tuple(str(o).rstrip("/") for o in origins),
        )


def new_user_handle() -> str:
    """Random, never the identity id (WebAuthn §14.6.1: the handle must not identify the user)."""
    return passkey_handles.new()


def _challenge(flow: Flow, key: str) -> bytes:
    """A new challenge for this flow, replacing any earlier one."""
    challenge = secrets.token_bytes(32)
    flow.internal[key] = bytes_to_base64url(challenge)
    return challenge


@dataclass(frozen=True)
class Challenges:
    """Spends a flow's challenge where the flow is stored, not only in the copy a submission loaded:
    submissions sent at once (a double click, a retrying client, a copied request) all load the flow
    before any saves it, and an authenticator whose counter stays at 0 gives them nothing else to
    tell a replay by. The first to take the challenge checks its answer; the others are refused."""

    uow: UnitOfWorkFactory
    flows: FlowRepository

    async def spend(self, flow: Flow, key: str) -> bytes:
        """The flow's challenge, removed: an answer is checked against it once."""
        stored = flow.internal.pop(key, None)  # this copy's, spent whatever the answer
        if not isinstance(stored, str):
            raise Refused("no challenge was issued for this flow")
        if not await spend(self.uow, self.flows, flow, key, stored):
            raise Refused("the challenge was answered already")
        return base64url_to_bytes(stored)


def registration_options(
    rp: RelyingParty, flow: Flow, key: str, user_handle: str, user_name: str, exclude: list[str], criteria: Criteria
) -> dict[str, Any]:
    """go-webauthn's BeginRegistration options under the method's criteria (options.py): passkeys
    ask as `selfservice.methods.passkey.config` says, security keys as Kratos's WebAuthnConfig."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.display_name,
        user_id=base64url_to_bytes(user_handle),
        user_name=user_name or "user",
        user_display_name=user_name or "user",
        challenge=_challenge(flow, key),
        timeout=criteria.registration_timeout,
        attestation=AttestationConveyancePreference(criteria.attestation),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(criteria.resident_key),
            require_resident_key=criteria.resident_key == "required",
            user_verification=UserVerificationRequirement(criteria.user_verification),
            authenticator_attachment=AuthenticatorAttachment(criteria.attachment) if criteria.attachment else None,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(i)) for i in exclude],
    )
    return {"publicKey": json.loads(options_to_json(options))}


def login_options(rp: RelyingParty, flow: Flow, key: str, allow: list[str], criteria: Criteria) -> dict[str, Any]:
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=_challenge(flow, key),
        timeout=criteria.login_timeout,
        allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(i)) for i in allow],
        user_verification=UserVerificationRequirement(criteria.user_verification),
    )
    return {"publicKey": json.loads(options_to_json(options))}


async def verify_registration(
    challenges: Challenges,
    rp: RelyingParty,
    flow: Flow,
    key: str,
    credential: dict[str, Any],
    verify_user: bool = False,
) -> dict[str, Any]:
    """The stored form of a new key (Kratos's credential config entry), or Refused. With
    `verify_user` (user verification `required`), a key that did not verify its user is refused."""
    challenge = await challenges.spend(flow, key)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=verify_user,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise Refused(str(exc)) from None
    return {
        "id": bytes_to_base64url(verified.credential_id),
        "public_key": bytes_to_base64url(verified.credential_public_key),
        "attestation_type": verified.fmt.value if hasattr(verified.fmt, "value") else str(verified.fmt),
        "authenticator": {"aaguid": verified.aaguid, "sign_count": verified.sign_count, "clone_warning": False},
        "added_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


async def verify_login(
    challenges: Challenges,
    rp: RelyingParty,
    flow: Flow,
    key: str,
    credential: dict[str, Any],
    stored: dict[str, Any],
    owner: str,
    verify_user: bool = False,
) -> dict[str, Any]:
    """Checks an assertion against the stored key; returns the key's new `authenticator`, or Refused.

    A counter that does not move forward (a cloned authenticator, WebAuthn §6.1.1) does not refuse
    the sign-in, as in Kratos (`webauthnx.UpdateSignCountAfterLogin`): the stored counter stays,
    `clone_warning` is set on the key for an admin to see in the identity's credentials, and it is
    logged. The signature was right: synced passkeys report counters that do not rise."""
    challenge = await challenges.spend(flow, key)
    authenticator = dict(stored.get("authenticator") or {})
    count = int(authenticator.get("sign_count") or 0)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=base64url_to_bytes(stored["public_key"]),
            credential_current_sign_count=0,  # compared below: a counter going back does not refuse
            require_user_verification=verify_user,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise Refused(str(exc)) from None
    new = int(verified.new_sign_count)
    if new <= count and (new or count):
        log.warning("webauthn: sign counter did not move forward, possible cloned authenticator (identity %s)", owner)
        return {**authenticator, "sign_count": count, "clone_warning": True}
    return {**authenticator, "sign_count": new, "clone_warning": bool(authenticator.get("clone_warning"))}


def user_handle(credential: dict[str, Any]) -> str | None:
    """The assertion's user handle as base64url (unpadded), or None without one."""
    handle = (credential.get("response") or {}).get("userHandle")
    decoded = passkey_handles.decode(handle) if isinstance(handle, str) and handle else None
    return passkey_handles.encode(decoded) if decoded else None


def credential_identifiers(credential: dict[str, Any]) -> list[str]:
    """The credential identifiers an assertion's user handle may be stored under: Kratos's (the
    handle as text), then Warden's earlier form (its base64url). Empty without a handle."""
    handle = (credential.get("response") or {}).get("userHandle")
    decoded = passkey_handles.decode(handle) if isinstance(handle, str) and handle else None
    if not decoded:
        return []
    return list(dict.fromkeys([passkey_handles.identifier(decoded), passkey_handles.encode(decoded)]))


async def check_assertion(
    identities: IdentityClient,
    challenges: Challenges,
    rp: RelyingParty,
    flow: Flow,
    challenge_key: str,
    credential_type: str,
    owner: str,
    credential: dict[str, Any],
    usable: Callable[[dict[str, Any]], bool] = lambda key: True,
    verify_user: bool = False,
) -> None:
    """Verifies an assertion against the owner's stored key of this type, one that is `usable` for
    this step, and stores its counter and clone warning (compare-and-set: of two concurrent uses of
    one stored state, one wins). Refused otherwise."""
    stored = await identities.get_credential(owner, credential_type)
    config = (stored or {}).get("config") or {}
    keys = list(config.get("credentials") or [])
    key = next((k for k in keys if k.get("id") == credential.get("rawId") and usable(k)), None)
    if key is None:
        flow.internal.pop(challenge_key, None)  # spent all the same
        raise Refused("no such key")
    authenticator = await verify_login(challenges, rp, flow, challenge_key, credential, key, owner, verify_user)
    updated = {**key, "authenticator": authenticator}
    new = {**config, "credentials": [updated if k is key else k for k in keys]}
    if not await identities.swap_credential(owner, credential_type, config, new):
        raise Refused("the key was used concurrently")


def next_screen(flow: Flow, login_ui_url: str) -> NoReturn:
    """A step that only shows the next form (the options to answer): Kratos saves the flow and sends
    a browser back to the login UI with it (422 `browser_location_change_required` for a SPA, 303
    for a form). An app's API flow, which Kratos does not offer these methods at all, gets the flow
    (400), nothing having failed."""
    if flow.is_browser:
        raise RedirectBrowser(f"{login_ui_url}?{urlencode({'flow': flow.id})}")
    raise StepCompleted()


def stored_keys(identity: dict[str, Any], credential_type: str) -> list[dict[str, Any]]:
    """The keys of this type in an identity's view (the identity service lists their public part)."""
    credential = (identity.get("credentials") or {}).get(credential_type) or {}
    return [k for k in (credential.get("config") or {}).get("credentials") or [] if isinstance(k.get("id"), str)]


def added_at(key: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(key.get("added_at")))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
