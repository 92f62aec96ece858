"""The internal-HTTP adapter of `IdentityClient`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from shared.clients.http import HttpServiceClient, InternalHttp
from shared.errors import NotFound

BASE = "/internal/identity"


class HttpIdentityClient(HttpServiceClient):
    def __init__(self, http: InternalHttp, password_check_seconds: float | None = None) -> None:
        """`password_check_seconds`: how long `verify_password` may take, when it may wait on the
        password migration hook (`warden.adapters.password_check_seconds`); None: the usual timeout."""
        super().__init__("identity", http)
        self._password_check_seconds = password_check_seconds

    async def get_identity(self, identity_id: str) -> dict[str, Any] | None:
        try:
            return await self._http.call("GET", f"{BASE}/identities/{quote(identity_id)}")
        except NotFound:
            return None

    async def create_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._http.call("POST", f"{BASE}/identities", body)

    async def validate_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._http.call("POST", f"{BASE}/identities/validate", body)

    async def verify_password(
        self, identifier: str, password: str, client_ip: str | None = None
    ) -> dict[str, Any] | None:
        body = {"identifier": identifier, "password": password, "client_ip": client_ip}
        found = await self._http.call(
            "POST", f"{BASE}/password/verify", body, timeout_seconds=self._password_check_seconds
        )
        return found.get("identity")

    async def get_credential(
        self, identity_id: str, credential_type: str, seal_backup_codes: bool = False
    ) -> dict[str, Any] | None:
        path = f"{BASE}/identities/{quote(identity_id)}/credentials/{quote(credential_type)}"
        try:
            return await self._http.call("GET", path + ("?seal_backup_codes=true" if seal_backup_codes else ""))
        except NotFound:
            return None

    async def update_credential(
        self,
        identity_id: str,
        credential_type: str,
        config: dict[str, Any],
        identifiers: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        path = f"{BASE}/identities/{quote(identity_id)}/credentials/{quote(credential_type)}"
        body: dict[str, Any] = {"config": config, **_with(metadata)}
        if identifiers is not None:
            body["identifiers"] = list(identifiers)
        return await self._http.call("PUT", path, body)

    async def find_by_credential_identifier(self, credential_type: str, identifier: str) -> dict[str, Any] | None:
        body = {"type": credential_type, "identifier": identifier}
        found = await self._http.call("POST", f"{BASE}/credentials/find", body)
        return found.get("identity")

    async def find_by_webauthn_user_handle(self, user_handle: str) -> dict[str, Any] | None:
        found = await self._http.call("POST", f"{BASE}/credentials/webauthn/find", {"user_handle": user_handle})
        return found.get("identity")

    async def second_factor_attempt(self, identity_id: str, outcome: str, client_ip: str | None = None) -> None:
        path = f"{BASE}/identities/{quote(identity_id)}/second-factor-attempts"
        await self._http.call("POST", path, {"outcome": outcome, "client_ip": client_ip})

    async def code_attempt(
        self, address: str, outcome: str, client_ip: str | None = None, identity_id: str | None = None
    ) -> None:
        body = {"address": address, "outcome": outcome, "client_ip": client_ip, "identity_id": identity_id}
        await self._http.call("POST", f"{BASE}/code-attempts", body)

    async def swap_credential(
        self, identity_id: str, credential_type: str, expected: dict[str, Any], config: dict[str, Any]
    ) -> bool:
        path = f"{BASE}/identities/{quote(identity_id)}/credentials/{quote(credential_type)}/swap"
        return bool((await self._http.call("POST", path, {"expected": expected, "config": config}))["swapped"])

    async def remove_credential(
        self,
        identity_id: str,
        credential_type: str,
        identifier: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        path = f"{BASE}/identities/{quote(identity_id)}/credentials/{quote(credential_type)}"
        if identifier is not None:
            path += f"?identifier={quote(identifier, safe='')}"
        return await self._http.call("DELETE", path, _with(metadata) or None)

    async def update_traits(
        self, identity_id: str, traits: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {"traits": traits, **_with(metadata)}
        return await self._http.call("PUT", f"{BASE}/identities/{quote(identity_id)}/traits", body)

    async def find_by_address(self, kind: str, via: str, value: str) -> dict[str, Any] | None:
        found = await self._http.call("POST", f"{BASE}/addresses/find", {"kind": kind, "via": via, "value": value})
        return found.get("identity")

    async def mark_address_verified(
        self, via: str, value: str, identity_id: str | None = None
    ) -> dict[str, Any] | None:
        body = {"via": via, "value": value, **({"identity_id": identity_id} if identity_id is not None else {})}
        found = await self._http.call("POST", f"{BASE}/addresses/verified", body)
        return found.get("identity")


def _with(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A write's body part for a settings web hook's metadata: sent only when there is some."""
    return {"metadata": metadata} if metadata else {}
