"""The identity service's internal API: the in-process adapter of `IdentityClient` and the
`/internal/identity/*` routes that serve the same calls to other processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.identity.api.bodies import CreateIdentityBody, parse
from services.identity.domain import CredentialType, Identity
from services.identity.errors import IdentityNotFound, MalformedBody
from services.identity.manager import METADATA, IdentityManager, MetadataChanges
from services.identity.passwords import PasswordVerifier
from services.identity.schemas.normalize import normalize_email
from services.identity.views import admin_view
from shared import passkey_handles
from shared.http.bodies import read_json
from shared.json_codec import json_response
from shared.service import Route
from shared.service_kit import ServiceInfo

if TYPE_CHECKING:
    from services.identity.service import IdentityContainer

BASE = "/internal/identity"
# Self-service lists an identity's keys (public keys and names, nothing secret) in its settings forms.
# The configs self-service and sessions read in an identity's view (their secrets never shown): the
# keys of passkeys and security keys, and which backup codes are spent (shared/aal.py).
SELF_SERVICE_CONFIGS = (CredentialType.PASSKEY, CredentialType.WEBAUTHN, CredentialType.LOOKUP_SECRET)


class IdentityInternalApi(ServiceInfo):
    def __init__(self, manager: IdentityManager, passwords: PasswordVerifier, schema_url: Any) -> None:
        super().__init__("identity")
        self._manager = manager
        self._passwords = passwords
        self._schema_url = schema_url

    def _seen(self, identity: Identity) -> dict[str, Any]:
        """How every answer of this API shows an identity: the admin view with the configs
        self-service reads, and on each credential whether it can sign in (`usable`: a password with
        a hash, not one holding identifiers only), which a view without the hash cannot tell;
        self-service counts an account's ways in from it (shared.first_factors.ways_in, which the
        manager's `_ways_in` counts with too). Credentials never leave through the public port
        (selfservice/views.py), so neither does this."""
        view = admin_view(identity, self._schema_url, SELF_SERVICE_CONFIGS)
        for kind, credential in identity.credentials.items():
            view["credentials"][kind]["usable"] = self._manager.usable(credential)
        return view

    def _view(self, identity: Identity | None) -> dict[str, Any] | None:
        return self._seen(identity) if identity is not None else None

    async def get_identity(self, identity_id: str) -> dict[str, Any] | None:
        try:
            return self._view(await self._manager.get(identity_id))
        except IdentityNotFound:
            return None

    async def create_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        """`registration_flow_id` (internal only, never an admin API field) rides on the committed
        `identity.created` event, so self-service sends the registration's verification mails from
        the event, whatever becomes of the request that asked for the identity."""
        body = dict(body)
        flow_id = body.pop("registration_flow_id", None)
        given = parse(CreateIdentityBody, body).to_input()
        created = await self._manager.create(given, registration_flow_id=flow_id if isinstance(flow_id, str) else None)
        return self._seen(created)

    async def validate_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        """What creating would make of `body` (admin view, with the `code` credential's addresses),
        stored nowhere: a registration by code checks the traits before it sends a code."""
        prepared = await self._manager.prepare_new(parse(CreateIdentityBody, body).to_input())
        return admin_view(prepared, self._schema_url, include_credentials=(CredentialType.CODE,))

    async def verify_password(
        self, identifier: str, password: str, client_ip: str | None = None
    ) -> dict[str, Any] | None:
        return self._view(await self._passwords.verify(identifier, password, client_ip))

    async def second_factor_attempt(self, identity_id: str, outcome: str, client_ip: str | None = None) -> None:
        await self._passwords.second_factor_attempt(identity_id, outcome, client_ip)

    async def code_attempt(
        self, address: str, outcome: str, client_ip: str | None = None, identity_id: str | None = None
    ) -> None:
        await self._passwords.code_attempt(address, outcome, client_ip, identity_id)

    async def get_credential(
        self, identity_id: str, credential_type: str, seal_backup_codes: bool = False
    ) -> dict[str, Any] | None:
        try:
            credential = await self._manager.get_credential(identity_id, credential_type, seal_backup_codes)
        except IdentityNotFound:
            return None
        if credential is None:
            return None
        return {
            "type": credential.type,
            "identifiers": list(credential.identifiers),
            "config": credential.config,
            "version": credential.version,
        }

    async def update_credential(
        self,
        identity_id: str,
        credential_type: str,
        config: dict[str, Any],
        identifiers: Sequence[str] | None = None,
        metadata: MetadataChanges | None = None,
    ) -> dict[str, Any]:
        if credential_type == CredentialType.PASSWORD and config.get("password"):  # the owner's new one
            await self._manager.refuse_the_current_password(identity_id, str(config["password"]))
        updated = await self._manager.set_credential(identity_id, credential_type, config, identifiers, metadata)
        return self._seen(updated)

    async def find_by_credential_identifier(self, credential_type: str, identifier: str) -> dict[str, Any] | None:
        return self._view(await self._manager.find_by_identifier(credential_type, identifier))

    async def find_by_webauthn_user_handle(self, user_handle: str) -> dict[str, Any] | None:
        handle = passkey_handles.decode(user_handle)
        return self._view(await self._manager.find_by_webauthn_user_handle(handle)) if handle else None

    async def swap_credential(
        self, identity_id: str, credential_type: str, expected: dict[str, Any], config: dict[str, Any]
    ) -> bool:
        return await self._manager.swap_credential(identity_id, credential_type, expected, config)

    async def remove_credential(
        self,
        identity_id: str,
        credential_type: str,
        identifier: str | None = None,
        metadata: MetadataChanges | None = None,
    ) -> dict[str, Any]:
        await self._manager.delete_credential(identity_id, credential_type, identifier, metadata, by_owner=True)
        return self._seen(await self._manager.get(identity_id))

    async def mark_address_verified(
        self, via: str, value: str, identity_id: str | None = None
    ) -> dict[str, Any] | None:
        return self._view(await self._manager.mark_address_verified(via, value, identity_id))

    async def update_traits(
        self, identity_id: str, traits: dict[str, Any], metadata: MetadataChanges | None = None
    ) -> dict[str, Any]:
        updated = await self._manager.set_traits(identity_id, traits, metadata)
        return self._seen(updated)

    async def find_by_address(self, kind: str, via: str, value: str) -> dict[str, Any] | None:
        return self._view(
            await self._manager.find_by_address(
                kind, via, normalize_email(value.strip()) if via == "email" else value.strip()
            )
        )


def _json(result: Any, missing_is_404: bool = True) -> web.Response:
    if result is None and missing_is_404:
        raise IdentityNotFound()
    return json_response(result)


async def _fields(request: web.Request, *names: str) -> list[Any]:
    return _fields_of(await read_json(request), *names)


def _fields_of(body: Any, *names: str) -> list[Any]:
    if not isinstance(body, dict) or any(not isinstance(body.get(n), str) for n in names):
        raise MalformedBody(f"the body needs {', '.join(names)}")
    return [body[n] for n in names]


async def _get_identity(c: IdentityContainer, request: web.Request) -> web.Response:
    return _json(await c.internal.get_identity(request.match_info["id"]))


async def _create_identity(c: IdentityContainer, request: web.Request) -> web.Response:
    return json_response(await c.internal.create_identity(await read_json(request)), status=201)


async def _validate_identity(c: IdentityContainer, request: web.Request) -> web.Response:
    return json_response(await c.internal.validate_identity(await read_json(request)))


async def _verify_password(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    identifier, password = _fields_of(body, "identifier", "password")
    return json_response({"identity": await c.internal.verify_password(identifier, password, _client_ip(body))})


async def _get_credential(c: IdentityContainer, request: web.Request) -> web.Response:
    seal = request.query.get("seal_backup_codes") == "true"
    return _json(await c.internal.get_credential(request.match_info["id"], request.match_info["type"], seal))


async def _update_credential(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
        raise MalformedBody("the body needs a config object")
    identifiers = body.get("identifiers")
    if identifiers is not None and (
        not isinstance(identifiers, list) or not all(isinstance(i, str) and i for i in identifiers)
    ):
        raise MalformedBody("identifiers must be a list of non-empty strings")
    result = await c.internal.update_credential(
        request.match_info["id"], request.match_info["type"], body["config"], identifiers, _metadata_of(body)
    )
    return json_response(result)


async def _find_by_credential(c: IdentityContainer, request: web.Request) -> web.Response:
    credential_type, identifier = await _fields(request, "type", "identifier")
    return json_response({"identity": await c.internal.find_by_credential_identifier(credential_type, identifier)})


async def _find_by_webauthn_user_handle(c: IdentityContainer, request: web.Request) -> web.Response:
    (user_handle,) = await _fields(request, "user_handle")
    return json_response({"identity": await c.internal.find_by_webauthn_user_handle(user_handle)})


async def _second_factor_attempt(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    (outcome,) = _fields_of(body, "outcome")
    await c.internal.second_factor_attempt(request.match_info["id"], _checked(outcome), _client_ip(body))
    return json_response({})


async def _code_attempt(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    address, outcome = _fields_of(body, "address", "outcome")
    identity_id = body["identity_id"] if isinstance(body.get("identity_id"), str) else None
    await c.internal.code_attempt(address, _checked(outcome), _client_ip(body), identity_id)
    return json_response({})


def _checked(outcome: str) -> str:
    if outcome not in ("check", "failed", "succeeded"):
        raise MalformedBody("outcome must be check, failed or succeeded")
    return outcome


def _client_ip(body: dict[str, Any]) -> str | None:
    return body["client_ip"] if isinstance(body.get("client_ip"), str) else None


async def _swap_credential(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), dict) for k in ("expected", "config")):
        raise MalformedBody("the body needs expected and config objects")
    swapped = await c.internal.swap_credential(
        request.match_info["id"], request.match_info["type"], body["expected"], body["config"]
    )
    return json_response({"swapped": swapped})


async def _remove_credential(c: IdentityContainer, request: web.Request) -> web.Response:
    identifier = request.query.get("identifier")
    metadata = _metadata_of(await read_json(request)) if request.body_exists else None
    return json_response(
        await c.internal.remove_credential(request.match_info["id"], request.match_info["type"], identifier, metadata)
    )


async def _mark_verified(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    via, value = _fields_of(body, "via", "value")
    identity_id = body.get("identity_id")
    if identity_id is not None and not isinstance(identity_id, str):
        raise MalformedBody("identity_id must be a string")
    return json_response({"identity": await c.internal.mark_address_verified(via, value, identity_id)})


async def _update_traits(c: IdentityContainer, request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("traits"), dict):
        raise MalformedBody("the body needs a traits object")
    return json_response(await c.internal.update_traits(request.match_info["id"], body["traits"], _metadata_of(body)))


def _metadata_of(body: Any) -> MetadataChanges | None:
    """A write's optional `metadata`: what a settings web hook answered, saved with the write."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not set(metadata) <= set(METADATA):
        raise MalformedBody(f"metadata must be an object of {' and '.join(METADATA)}")
    return metadata


async def _find_by_address(c: IdentityContainer, request: web.Request) -> web.Response:
    kind, via, value = await _fields(request, "kind", "via", "value")
    return json_response({"identity": await c.internal.find_by_address(kind, via, value)})


ROUTES: list[Route[IdentityContainer]] = [
    Route("internal", "GET", f"{BASE}/identities/{{id}}", _get_identity),
    Route("internal", "POST", f"{BASE}/identities", _create_identity),
    Route("internal", "POST", f"{BASE}/identities/validate", _validate_identity),
    Route("internal", "POST", f"{BASE}/password/verify", _verify_password),
    Route("internal", "GET", f"{BASE}/identities/{{id}}/credentials/{{type}}", _get_credential),
    Route("internal", "PUT", f"{BASE}/identities/{{id}}/credentials/{{type}}", _update_credential),
    Route("internal", "POST", f"{BASE}/credentials/find", _find_by_credential),
    Route("internal", "POST", f"{BASE}/credentials/webauthn/find", _find_by_webauthn_user_handle),
    Route("internal", "POST", f"{BASE}/identities/{{id}}/credentials/{{type}}/swap", _swap_credential),
    Route("internal", "POST", f"{BASE}/identities/{{id}}/second-factor-attempts", _second_factor_attempt),
    Route("internal", "POST", f"{BASE}/code-attempts", _code_attempt),
    Route("internal", "DELETE", f"{BASE}/identities/{{id}}/credentials/{{type}}", _remove_credential),
    Route("internal", "POST", f"{BASE}/addresses/verified", _mark_verified),
    Route("internal", "PUT", f"{BASE}/identities/{{id}}/traits", _update_traits),
    Route("internal", "POST", f"{BASE}/addresses/find", _find_by_address),
]
