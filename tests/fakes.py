"""In-memory fakes of the ports other services are reached through: `IdentityClient` and
`SessionClient` (shared/clients/ports.py). They keep state in dicts, answer the same JSON shapes as
the real adapters and raise the same typed errors; tests/contract/test_identity_client.py and
test_session_client.py hold them to the same contract as the internal-HTTP and in-process adapters.

What they leave out on purpose: identity schemas (the identifier and the address are the `email`
trait, lowercased), password hashing cost and throttling, the session cache. Unit tests of the flow
machinery, hooks and methods use them to run without a database or a process."""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import errors, passkey_handles

# Credential types whose identifiers are derived (from the traits, or from the providers in the config).
DERIVED = {"password", "webauthn", "code", "oidc", "saml"}
FIRST_FACTORS = {"password", "oidc", "saml", "code", "passkey", "webauthn"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _digest(password: str) -> str:
    return "sha256$" + hashlib.sha256(password.encode()).hexdigest()


@dataclass
class _Stored:
    identity: dict[str, Any]  # the admin view, credentials without config
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)  # type -> {identifiers, config, version}


class FakeIdentityClient:
    def __init__(self) -> None:
        self._by_id: dict[str, _Stored] = {}

    async def info(self) -> dict[str, Any]:
        return {"service": "identity", "version": "fake"}

    # --- reading --------------------------------------------------------------------------------

    def _view(self, stored: _Stored | None) -> dict[str, Any] | None:
        if stored is None:
            return None
        view = copy.deepcopy(stored.identity)
        view["credentials"] = {
            kind: {"type": kind, "identifiers": list(c["identifiers"]), "version": c["version"]}
            for kind, c in stored.credentials.items()
        }
        for kind in ("passkey", "webauthn"):  # as the identity service: keys are listed in settings
            if kind in stored.credentials:
                view["credentials"][kind]["config"] = copy.deepcopy(stored.credentials[kind].get("config") or {})
        return view

    async def get_identity(self, identity_id: str) -> dict[str, Any] | None:
        return self._view(self._by_id.get(identity_id))

    async def get_credential(
        self, identity_id: str, credential_type: str, seal_backup_codes: bool = False
    ) -> dict[str, Any] | None:
        stored = self._by_id.get(identity_id)
        credential = stored.credentials.get(credential_type) if stored else None
        if credential is None:
            return None
        return {"type": credential_type, **copy.deepcopy(credential)}

    async def find_by_credential_identifier(self, credential_type: str, identifier: str) -> dict[str, Any] | None:
        for stored in self._by_id.values():
            types = [credential_type] if credential_type else list(stored.credentials)
            if any(identifier in stored.credentials.get(t, {}).get("identifiers", []) for t in types):
                return self._view(stored)
        return None

    async def find_by_webauthn_user_handle(self, user_handle: str) -> dict[str, Any] | None:
        wanted = passkey_handles.decode(user_handle)
        for stored in sorted(self._by_id.values(), key=lambda s: str(s.identity["id"])):
            handle = (stored.credentials.get("webauthn", {}).get("config") or {}).get("user_handle")
            if wanted and isinstance(handle, str) and passkey_handles.decode(handle) == wanted:
                return self._view(stored)
        return None

    async def find_by_address(self, kind: str, via: str, value: str) -> dict[str, Any] | None:
        key = "verifiable_addresses" if kind == "verification" else "recovery_addresses"
        wanted = value.strip().lower() if via == "email" else value.strip()
        for stored in self._by_id.values():
            if any((a["via"], a["value"]) == (via, wanted) for a in stored.identity[key]):
                return self._view(stored)
        return None

    # --- writing --------------------------------------------------------------------------------

    def _build(self, body: dict[str, Any], identity_id: str | None = None) -> _Stored:
        traits = body.get("traits")
        email = traits.get("email") if isinstance(traits, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise errors.BadRequest('#/traits/email: "email" is not valid')
        address = email.strip().lower()
        stamp = _now()
        identity = {
            "id": identity_id or str(uuid.uuid4()),
            "schema_id": body.get("schema_id") or "default",
            "schema_url": "",
            "state": body.get("state") or "active",
            "traits": traits,
            "metadata_public": body.get("metadata_public"),
            "metadata_admin": body.get("metadata_admin"),
            "verifiable_addresses": [{"value": address, "via": "email", "verified": False, "status": "pending"}],
            "recovery_addresses": [{"value": address, "via": "email"}],
            "created_at": stamp,
            "updated_at": stamp,
        }
        stored = _Stored(identity)
        for kind, credential in (body.get("credentials") or {}).items():
            self._set(stored, kind, (credential or {}).get("config") or {}, None)
        return stored

    def _set(self, stored: _Stored, kind: str, config: dict[str, Any], identifiers: Sequence[str] | None) -> None:
        if identifiers is not None and kind in DERIVED:
            raise errors.BadRequest(f"the identifiers of a {kind} credential are derived, not given")
        current = stored.credentials.get(kind, {"identifiers": [], "version": 0})
        if kind == "password":
            config = {"hashed_password": _digest(str(config["password"]))} if "password" in config else config
            found = [stored.identity["traits"]["email"].strip().lower()]
        elif kind in ("oidc", "saml"):
            found = [f"{p['provider']}:{p['subject']}" for p in config.get("providers") or []]
        else:
            found = list(dict.fromkeys(identifiers)) if identifiers is not None else current["identifiers"]
        stored.credentials[kind] = {
            "identifiers": found,
            "config": copy.deepcopy(config),
            "version": current["version"],
        }

    def _check_unique(self, stored: _Stored) -> None:
        for other in self._by_id.values():
            if other.identity["id"] == stored.identity["id"]:
                continue
            for kind, credential in stored.credentials.items():
                if set(credential["identifiers"]) & set(other.credentials.get(kind, {}).get("identifiers", [])):
                    raise errors.Conflict("an identity with the same identifier already exists")

    def _save(self, stored: _Stored) -> dict[str, Any]:
        self._check_unique(stored)
        stored.identity["updated_at"] = _now()
        self._by_id[stored.identity["id"]] = stored
        view = self._view(stored)
        assert view is not None
        return view

    def _require(self, identity_id: str) -> _Stored:
        stored = self._by_id.get(identity_id)
        if stored is None:
            raise errors.NotFound("Unable to locate the resource")
        return copy.deepcopy(stored)

    async def create_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._save(self._build(body))

    async def validate_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        stored = self._build(body)
        self._check_unique(stored)
        view = self._view(stored)
        assert view is not None
        return view

    async def verify_password(
        self, identifier: str, password: str, client_ip: str | None = None
    ) -> dict[str, Any] | None:
        found = await self.find_by_credential_identifier("password", identifier.strip().lower())
        stored = self._by_id.get(found["id"]) if found else None
        encoded = stored.credentials["password"]["config"].get("hashed_password", "") if stored else ""
        return found if hmac.compare_digest(encoded, _digest(password)) and found else None

    async def update_credential(
        self,
        identity_id: str,
        credential_type: str,
        config: dict[str, Any],
        identifiers: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        stored = self._require(identity_id)
        self._set(stored, credential_type, config, identifiers)
        return self._save(_with_metadata(stored, metadata))

    async def swap_credential(
        self, identity_id: str, credential_type: str, expected: dict[str, Any], config: dict[str, Any]
    ) -> bool:
        stored = self._by_id.get(identity_id)
        credential = stored.credentials.get(credential_type) if stored else None
        if stored is None or credential is None or credential["config"] != expected:
            return False
        credential["config"] = copy.deepcopy(config)
        return True

    async def remove_credential(
        self,
        identity_id: str,
        credential_type: str,
        identifier: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        stored = self._require(identity_id)
        credential = stored.credentials.get(credential_type)
        if credential is None or (identifier is not None and identifier not in credential["identifiers"]):
            raise errors.NotFound("Unable to locate the resource")
        if identifier is not None and credential_type in ("oidc", "saml"):
            providers = [
                p
                for p in credential["config"].get("providers") or []
                if f"{p['provider']}:{p['subject']}" != identifier
            ]
            self._set(stored, credential_type, {**credential["config"], "providers": providers}, None)
        else:
            del stored.credentials[credential_type]
        if not FIRST_FACTORS & {k for k, c in stored.credentials.items() if c["identifiers"]}:
            raise errors.BadRequest("You cannot remove the last first factor of an identity.")
        return self._save(_with_metadata(stored, metadata))

    async def second_factor_attempt(self, identity_id: str, outcome: str, client_ip: str | None = None) -> None:
        return None  # no throttle in the fake

    async def code_attempt(
        self, address: str, outcome: str, client_ip: str | None = None, identity_id: str | None = None
    ) -> None:
        return None

    async def mark_address_verified(
        self, via: str, value: str, identity_id: str | None = None
    ) -> dict[str, Any] | None:
        for stored in self._by_id.values():
            if identity_id is not None and stored.identity["id"] != identity_id:
                continue
            for address in stored.identity["verifiable_addresses"]:
                if (address["via"], address["value"]) == (via, value):
                    address.update(verified=True, status="completed", verified_at=_now())
                    return self._view(stored)
        return None

    async def update_traits(
        self, identity_id: str, traits: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        current = self._require(identity_id)
        body = {**current.identity, "traits": traits, "credentials": {}}
        stored = self._build(body, identity_id)
        stored.credentials = current.credentials
        if "password" in stored.credentials:
            stored.credentials["password"]["identifiers"] = [traits["email"].strip().lower()]
        return self._save(_with_metadata(stored, metadata))


def _with_metadata(stored: _Stored, metadata: dict[str, Any] | None) -> _Stored:
    """A settings web hook's metadata, each of the two replaced where given, as the service does."""
    for name in ("metadata_public", "metadata_admin"):
        if metadata and name in metadata:
            stored.identity[name] = copy.deepcopy(metadata[name])
    return stored


@dataclass
class _Session:
    id: str
    identity_id: str
    token: str
    methods: list[dict[str, Any]]
    device: dict[str, Any]
    issued_at: datetime
    expires_at: datetime
    active: bool = True


class FakeSessionClient:
    def __init__(self, identities: FakeIdentityClient, lifespan: timedelta = timedelta(hours=1)) -> None:
        self._identities = identities
        self._lifespan = lifespan
        self._by_token: dict[str, _Session] = {}

    async def info(self) -> dict[str, Any]:
        return {"service": "session", "version": "fake"}

    async def _view(self, session: _Session) -> dict[str, Any]:
        identity = await self._identities.get_identity(session.identity_id)
        aal = "aal2" if any(m.get("aal") == "aal2" for m in session.methods) else "aal1"
        return {
            "id": session.id,
            "active": session.active and session.expires_at > datetime.now(UTC),
            "expires_at": session.expires_at.isoformat(),
            "authenticated_at": session.issued_at.isoformat(),
            "authenticator_assurance_level": aal,
            "authentication_methods": [dict(m) for m in session.methods],
            "issued_at": session.issued_at.isoformat(),
            "identity": identity,
            "devices": [dict(session.device)],
        }

    async def issue_session(
        self,
        identity_id: str,
        methods: list[dict[str, Any]],
        device: dict[str, Any],
        identity: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = "ory_st_" + secrets.token_urlsafe(32)
        issued = datetime.now(UTC)
        stamped = [{**m, "completed_at": m.get("completed_at") or issued.isoformat()} for m in methods]
        session = _Session(str(uuid.uuid4()), identity_id, token, stamped, device, issued, issued + self._lifespan)
        self._by_token[token] = session
        return {"session": await self._view(session), "session_token": token}

    async def session_by_token(self, token: str) -> dict[str, Any] | None:
        session = self._by_token.get(token)
        if session is None or not session.active or session.expires_at <= datetime.now(UTC):
            return None
        view = await self._view(session)
        return view if (view.get("identity") or {}).get("state") == "active" else None

    async def add_authentication_method(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        session = next((s for s in self._by_token.values() if s.id == session_id and s.active), None)
        if session is None:
            raise errors.NotFound("Unable to locate the resource")
        session.methods.append({**method, "completed_at": method.get("completed_at") or _now()})
        return await self._view(session)

    async def reauthenticate(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        view = await self.add_authentication_method(session_id, method)
        [(old, session)] = [(t, s) for t, s in self._by_token.items() if s.id == session_id and s.active]
        token = "ory_st_" + secrets.token_urlsafe(32)
        session.token = token
        self._by_token[token] = self._by_token.pop(old)
        return {"session": view, "session_token": token}

    async def revoke_session(self, token: str) -> bool | None:
        session = self._by_token.get(token)
        if session is None:
            return None
        if not session.active:
            return False
        session.active = False
        return True

    async def revoke_identity_sessions(self, identity_id: str, except_session_id: str | None = None) -> int:
        count = 0
        for session in self._by_token.values():
            if session.identity_id == identity_id and session.active and session.id != except_session_id:
                session.active = False
                count += 1
        return count

    async def identity_changed(self, identity_id: str, deleted: bool = False) -> None:
        if deleted:  # nothing is cached here: every other change shows at once already
            for session in self._by_token.values():
                if session.identity_id == identity_id:
                    session.active = False
