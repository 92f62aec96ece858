"""The Protocol of each service's internal API. Answers are Kratos-shaped JSON (dicts), the same
whether the call crossed HTTP or stayed in the process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

# `find_by_credential_identifier`'s type for "a credential of any type" (the code method's
# missing-credential fallback, as Kratos's FindIdentityByCredentialIdentifier).
ANY_CREDENTIAL = ""


class ServiceClient(Protocol):
    async def info(self) -> dict[str, Any]:
        """The service's name and version: the cheapest call that proves the service answers."""
        ...


class IdentityClient(ServiceClient, Protocol):
    async def get_identity(self, identity_id: str) -> dict[str, Any] | None:
        """The identity in the admin view (no secrets), or None."""
        ...

    async def create_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        """Creates from a `createIdentityBody`; raises the typed error Kratos would answer."""
        ...

    async def validate_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        """What `create_identity` would make of the body (credentials `code` with its config), stored
        nowhere; raises the same typed errors for invalid traits."""
        ...

    async def verify_password(
        self, identifier: str, password: str, client_ip: str | None = None
    ) -> dict[str, Any] | None:
        """The identity whose password credential has this identifier and password, or None. Costs the
        same time either way; an imported hash is re-hashed with the configured hasher on success.
        Throttled per (identifier, `client_ip`) and per identifier: TooManyRequests while refused.
        A password awaiting the migration hook is checked by it: BadGateway or GatewayTimeout when
        the hook could not say."""
        ...

    async def get_credential(
        self, identity_id: str, credential_type: str, seal_backup_codes: bool = False
    ) -> dict[str, Any] | None:
        """One credential with its secret config (TOTP seed, WebAuthn keys): for the service that checks
        it. `seal_backup_codes`: the caller checks backup codes under the KDF, so a set of them still
        kept as plain keyed hashes is sealed under it first (shared.backup_codes)."""
        ...

    async def update_credential(
        self,
        identity_id: str,
        credential_type: str,
        config: dict[str, Any],
        identifiers: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Sets one credential's config (clear-text `password` is hashed here); returns the identity.
        `identifiers` are for the types whose identifiers the traits or the config do not give (a
        passkey's user handle); the others derive theirs and refuse given ones. `metadata` is a
        settings web hook's answer (`metadata_public`, `metadata_admin`, each replaced where given),
        written with the change or not at all, as on every write that takes it."""
        ...

    async def find_by_credential_identifier(self, credential_type: str, identifier: str) -> dict[str, Any] | None:
        """The identity owning a credential of this type (any type with `ANY_CREDENTIAL`) with this
        identifier, exactly as stored (an OIDC `provider:subject`, a WebAuthn user handle, a code
        address), or None. No throttle and no dummy work: a method that checks a secret after
        finding its owner pays for its own enumeration defences."""
        ...

    async def find_by_webauthn_user_handle(self, user_handle: str) -> dict[str, Any] | None:
        """The identity whose `webauthn` credential's config has this user handle (base64url of the
        bytes an authenticator returns; Kratos's `FindIdentityByWebauthnUserHandle`), or None. Its
        security keys are not passkeys: the caller chooses which of them may sign in."""
        ...

    async def second_factor_attempt(self, identity_id: str, outcome: str, client_ip: str | None = None) -> None:
        """Counts a second-factor check from `client_ip` toward the per-identifier throttle of the
        identity's identifiers, as a password check: "check" raises TooManyRequests while they are
        blocked or locked out; "failed" / "succeeded" record it."""
        ...

    async def code_attempt(
        self, address: str, outcome: str, client_ip: str | None = None, identity_id: str | None = None
    ) -> None:
        """Counts a guess at a one-time code sent to `address` (recovery, verification, sign-in) from
        `client_ip`, the same whether or not the address has an account: "check" raises
        TooManyRequests while the address's code guesses are blocked or locked out (with
        `identity_id`, a sign-in code's account or stand-in: the account's, whichever identifier
        `address` is); "succeeded"
        (with the identity the code proved) clears them, and ends a password lockout of the address
        and of the identity's identifiers."""
        ...

    async def swap_credential(
        self, identity_id: str, credential_type: str, expected: dict[str, Any], config: dict[str, Any]
    ) -> bool:
        """Compare-and-set: sets one credential's config only if it still is `expected` (as read with
        `get_credential`). Of concurrent swaps from the same reading exactly one returns True."""
        ...

    async def remove_credential(
        self,
        identity_id: str,
        credential_type: str,
        identifier: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Removes one credential (a second factor the user turns off), or with `identifier`
        (`provider:subject`) one provider of a social sign-in credential; returns the identity.
        Refused (BadRequest) when it would leave the identity without a first factor."""
        ...

    async def mark_address_verified(
        self, via: str, value: str, identity_id: str | None = None
    ) -> dict[str, Any] | None:
        """Marks a verifiable address verified; returns its identity, or None if no identity has it.
        With `identity_id`, only if that identity holds it (checked in the write's own transaction):
        a flow proves an address for one account, never for whichever holds it by then."""
        ...

    async def update_traits(
        self, identity_id: str, traits: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A profile change: the identity with new traits (addresses re-derived), or a typed error."""
        ...

    async def find_by_address(self, kind: str, via: str, value: str) -> dict[str, Any] | None:
        """The identity owning a verifiable (`kind="verification"`) or recovery (`"recovery"`) address."""
        ...


class SessionClient(ServiceClient, Protocol):
    async def issue_session(
        self,
        identity_id: str,
        methods: list[dict[str, Any]],
        device: dict[str, Any],
        identity: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new session: `{"session": <session JSON>, "session_token": "ory_st_…"}`. A caller that has
        just read the identity passes it along, which spares the session service reading it again."""
        ...

    async def session_by_token(self, token: str) -> dict[str, Any] | None:
        """The valid session (with its identity) a token belongs to, or None."""
        ...

    async def add_authentication_method(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        """Records a completed method (a second factor, a refresh) on a session; returns the session JSON."""
        ...

    async def reauthenticate(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        """As `add_authentication_method`, and the session gets a new token, the old one ending:
        `{"session": <session JSON>, "session_token": "ory_st_…"}` (`session_token` None from a
        session service of before rotation, a rolling upgrade, which kept the token)."""
        ...

    async def revoke_session(self, token: str) -> bool | None:
        """Logout: revokes the session of a token. True when that ended it; False for a session that
        had already ended (revoked or expired); None for a token of no session."""
        ...

    async def revoke_identity_sessions(self, identity_id: str, except_session_id: str | None = None) -> int:
        """Revokes every session of an identity (but one, if named); returns how many were active."""
        ...

    async def identity_changed(self, identity_id: str, deleted: bool = False) -> None:
        """Says that an identity's change is committed: its cached sessions are dropped, so the next
        whoami shows the change, and a deleted identity's sessions end."""
        ...


class SelfserviceClient(ServiceClient, Protocol): ...


class CourierClient(ServiceClient, Protocol): ...
