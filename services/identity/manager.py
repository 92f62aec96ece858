"""The identity service's use cases: every change validates traits against the schema, re-derives
identifiers and addresses, writes the identity and its events in one unit of work."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import jsonpatch
from sqlalchemy.sql import CompoundSelect

from services.identity.addresses import derive, imported
from services.identity.credentials import (
    Sealing,
    awaits_migration,
    import_credentials,
    sealed_codes_in,
    with_identifiers,
)
from services.identity.domain import (
    MAX_EXTERNAL_ID_LENGTH,
    MAX_IDENTIFIER_LENGTH,
    Credential,
    CredentialType,
    Identity,
    Metadata,
    RecoveryAddress,
    State,
    VerifiableAddress,
    now,
)
from services.identity.errors import IdentityNotFound, LastFirstFactor, MalformedBody, PasswordUnchanged
from services.identity.persistence import IdentityRepository
from services.identity.views import admin_view
from shared import first_factors, passkey_handles
from shared.aal import passwordless_key
from shared.bus import events
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory
from shared.tracing.attributes import event

log = logging.getLogger(__name__)

# How long a read waits to seal a set of backup codes (12 argon2 runs at 19 MiB, some 0.2 s on two
# idle threads) before handing it over as stored: well inside the internal call's 5 s.
SEAL_ON_READ_SECONDS = 1.5

# What Kratos's admin API refuses to delete (deleteIdentityCredentials). Its passkey settings strategy
# drops the passkey credential itself when its owner removes the last key (`by_owner` below).
UNDELETABLE = {CredentialType.PASSKEY, CredentialType.CODE}


class SessionsToTell(Protocol):
    """Who is told of a committed change at once (services/identity/session_notice.py)."""

    async def identity_changed(self, identity_id: str, deleted: bool = False) -> None: ...


_TRACKED = (
    "schema_id",
    "state",
    "traits",
    "metadata_public",
    "metadata_admin",
    "external_id",
    "verifiable_addresses",
    "recovery_addresses",
    "credentials",
)
# What a self-service web hook may set besides the traits (`response.parse` in settings).
METADATA = ("metadata_public", "metadata_admin")
ADDRESS_STATUSES = ("pending", "sent", "completed")

MetadataChanges = dict[str, Any]  # some of METADATA, by name
# JSON Patch may not touch what the server owns (Kratos denies the same paths).
_PATCH_DENIED = ("/id", "/credentials", "/created_at", "/updated_at", "/state_changed_at", "/schema_url")


@dataclass(frozen=True)
class IdentityInput:
    """What a create or full update says, already parsed from JSON at the edge."""

    traits: Any
    schema_id: str | None = None
    state: State | None = None
    metadata_public: Metadata = None
    metadata_admin: Metadata = None
    external_id: str | None = None
    credentials: dict[str, Any] | None = None
    # An import's addresses, for a new identity only (see `addresses.imported`).
    verifiable_addresses: tuple[VerifiableAddress, ...] = ()
    recovery_addresses: tuple[RecoveryAddress, ...] = ()
    organization_id: str | None = None  # a create's only


class IdentityManager:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        repository: IdentityRepository,
        schemas: Any,
        sealing: Sealing,
        first_factors: frozenset[str] = frozenset({CredentialType.PASSWORD}),  # shared.first_factors.enabled
        sessions: SessionsToTell | None = None,  # services/identity/session_notice.py
        migration_hook: bool = False,  # the password migration hook is enabled (password_migration.py)
    ) -> None:
        self._sessions = sessions
        self._migration_hook = migration_hook
        self._first_factors = first_factors
        self._uow = uow
        self._sealing = sealing
        self._repo = repository
        self._schemas = schemas

    async def prepare_new(self, given: IdentityInput) -> Identity:
        """Validates and builds a new identity without storing it (batch import stores many at once)."""
        schema_id = given.schema_id or self._schemas.default_id
        credentials = await import_credentials(given.credentials, {}, self._sealing)
        identity = Identity(
            schema_id=schema_id,
            traits=given.traits,
            state=given.state or State.ACTIVE,
            metadata_public=given.metadata_public,
            metadata_admin=given.metadata_admin,
            external_id=given.external_id or None,
            credentials=credentials,
            verifiable_addresses=imported(given.verifiable_addresses),
            recovery_addresses=imported(given.recovery_addresses),
            organization_id=given.organization_id,
        )
        return await self._checked(identity)

    async def create(self, given: IdentityInput, *, registration_flow_id: str | None = None) -> Identity:
        identity = await self.prepare_new(given)
        async with self._uow() as uow:
            await self.store_new(uow, identity, registration_flow_id=registration_flow_id)
            await uow.commit()
        return identity

    async def store_new(self, uow: UnitOfWork, *identities: Identity, registration_flow_id: str | None = None) -> None:
        await self._repo.insert_many(uow.connection, identities)
        for identity in identities:
            event("IdentityCreated", {"identity.id": identity.id})
            uow.emit(
                events.IDENTITY_CREATED,
                events.IdentityCreated(
                    identity_id=identity.id,
                    schema_id=identity.schema_id,
                    state=identity.state.value,
                    registration_flow_id=registration_flow_id,
                ),
            )

    async def update(self, identity_id: str, given: IdentityInput) -> Identity:
        given = replace(given, credentials=await sealed_codes_in(given.credentials, self._sealing))
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            credentials = await import_credentials(given.credentials, current.credentials, self._sealing)
            changed = replace(
                current,
                schema_id=given.schema_id or current.schema_id,
                traits=given.traits,
                state=given.state or current.state,
                metadata_public=given.metadata_public,
                metadata_admin=given.metadata_admin,
                external_id=given.external_id or None,
                credentials=credentials,
            )
            return await self._save(uow, current, await self._checked(changed))

    async def patch(self, identity_id: str, operations: Any) -> Identity:
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise MalformedBody("the body must be a JSON Patch: an array of operations")
        for operation in operations:
            for key in ("path", "from"):
                path = operation.get(key)
                # "" is the whole document: replacing it would drop whatever the value leaves out.
                if path == "" or str(path or "").startswith(_PATCH_DENIED):
                    raise MalformedBody(f"patch path {path!r} is not allowed")
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            document = admin_view(current, lambda _id: "")
            try:
                patched = jsonpatch.JsonPatch(operations).apply(document)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
                raise MalformedBody(f"the JSON Patch could not be applied: {exc}") from exc
            return await self._save(uow, current, await self._checked(_from_document(current, patched)))

    async def delete(self, identity_id: str) -> None:
        async with self._uow() as uow:
            if not await self._repo.delete(uow.connection, identity_id):
                raise IdentityNotFound()
            uow.emit(events.IDENTITY_DELETED, events.IdentityDeleted(identity_id=identity_id))
            self._tell_sessions(uow, identity_id, deleted=True)
            await uow.commit()

    async def delete_credential(
        self,
        identity_id: str,
        kind: str,
        identifier: str | None,
        metadata: MetadataChanges | None = None,
        *,
        keep_passwordless_keys: bool = False,
        by_owner: bool = False,
    ) -> None:
        """Removes a credential, or one provider of a social one; `metadata` as in `set_credential`.
        `keep_passwordless_keys` is the admin API's rule for WebAuthn (Kratos's
        `deleteIdentityCredentials`): only the keys registered as a second factor go, and the
        credential with them only when no passwordless key is left (see `_without_mfa_keys`).
        `by_owner`: self-service removing what its owner took out (Kratos's settings strategies), who
        may drop an emptied passkey credential, which the admin API may not."""
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            if kind not in current.credentials:
                raise IdentityNotFound()
            if kind in UNDELETABLE and not (by_owner and kind == CredentialType.PASSKEY):
                raise MalformedBody(f"You cannot remove the {kind} credential with this API.")
            credentials = dict(current.credentials)
            if kind in (CredentialType.OIDC, CredentialType.SAML):
                if not identifier:  # Kratos's words: all providers at once is never what was meant
                    raise MalformedBody("You must provide an identifier to delete this credential.")
                credentials = _without_provider(credentials, kind, identifier)
            elif kind == CredentialType.WEBAUTHN and keep_passwordless_keys:
                credentials = _without_mfa_keys(credentials)
            else:
                del credentials[kind]
            if self._ways_in(current.credentials) and not self._ways_in(credentials):
                raise LastFirstFactor()
            changed = replace(current, credentials=credentials, updated_at=now())
            await self._save(uow, current, _with_metadata(changed, metadata))

    async def set_credential(
        self,
        identity_id: str,
        kind: str,
        config: dict[str, Any],
        identifiers: Sequence[str] | None = None,
        metadata: MetadataChanges | None = None,
    ) -> Identity:
        """Replaces one credential's config (a clear-text `password` is hashed first), and its
        identifiers when its type takes them as given (see `with_identifiers`). `metadata` is what a
        settings web hook answered, saved with the change, in its unit of work, as Kratos does."""
        given = await sealed_codes_in({kind: {"config": config}}, self._sealing)
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            credentials = await import_credentials(given, current.credentials, self._sealing)
            if identifiers is not None:
                credentials[kind] = with_identifiers(credentials[kind], identifiers)
            if self._ways_in(current.credentials) and not self._ways_in(credentials):
                raise LastFirstFactor()  # e.g. the last passkey taken out of its credential
            changed = replace(current, credentials=credentials)
            return await self._save(uow, current, await self._checked(_with_metadata(changed, metadata)))

    async def refuse_the_current_password(self, identity_id: str, password: str) -> None:
        """Kratos's `isNewPasswordSameAsOld`, for a password its owner changes (not for the re-hash
        of an imported one at login, which stores the same password on purpose): one check on the
        hashing threads, before any unit of work opens (a transaction is not held across a hash)."""
        current = (await self.get(identity_id)).credentials.get(CredentialType.PASSWORD)
        stored = current.config.get("hashed_password") if current else None
        if stored and await self._sealing.hasher.verify(password, str(stored)):
            raise PasswordUnchanged()

    async def finish_password_migration(self, identity_id: str, encoded: str) -> Identity | None:
        """Stores the hash of a password the migration hook vouched for, the flag dropped, if the
        identity's password still awaits it; None if it no longer does (another sign-in stored its
        hash first, or a new password was set while the hook was asked)."""
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            if not awaits_migration(current.credentials.get(CredentialType.PASSWORD)):
                return None
            given: dict[str, Any] = {CredentialType.PASSWORD: {"config": {"hashed_password": encoded}}}
            credentials = await import_credentials(given, current.credentials, self._sealing)
            return await self._save(uow, current, replace(current, credentials=credentials))

    async def swap_credential(
        self, identity_id: str, kind: str, expected: dict[str, Any], config: dict[str, Any]
    ) -> bool:
        """Sets one credential's config only if it still is `expected` (see the repository)."""
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            if not await self._repo.swap_credential_config(uow.connection, identity_id, kind, expected, config):
                return False
            event = events.IdentityUpdated(identity_id=identity_id, changed=["credentials"], state=current.state.value)
            uow.emit(events.IDENTITY_UPDATED, event)
            await uow.commit()
            return True

    async def set_traits(self, identity_id: str, traits: Any, metadata: MetadataChanges | None = None) -> Identity:
        """A self-service profile change: new traits, everything else kept; addresses re-derived.
        `metadata` as in `set_credential`."""
        async with self._uow() as uow:
            current = await self._require(uow, identity_id)
            changed = _with_metadata(replace(current, traits=traits), metadata)
            return await self._save(uow, current, await self._checked(changed))

    async def find_by_address(self, kind: str, via: str, value: str) -> Identity | None:
        """The identity with this verifiable (`kind="verification"`) or recovery address."""
        async with self._uow() as uow:
            if kind == "verification":
                return await self._repo.find_by_verifiable_address(uow.connection, via, value)
            return await self._repo.find_by_recovery_address(uow.connection, via, value)

    async def mark_address_verified(self, via: str, value: str, identity_id: str | None = None) -> Identity | None:
        async with self._uow() as uow:
            found = await self._repo.find_by_verifiable_address(uow.connection, via, value)
            if found is None or (identity_id is not None and found.id != identity_id):
                return None
            addresses = tuple(
                replace(a, verified=True, status="completed", verified_at=a.verified_at or now(), updated_at=now())
                if (a.via, a.value) == (via, value)
                else a
                for a in found.verifiable_addresses
            )
            return await self._save(uow, found, replace(found, verifiable_addresses=addresses))

    def identifier_read(self, kind: str, identifier: str) -> tuple[CompoundSelect[Any], dict[str, Any]]:
        """`find_by_identifier`'s load as a statement, for the password check to send with its count."""
        return self._repo.identifier_read(kind, identifier)

    async def find_by_identifier(self, kind: str, identifier: str) -> Identity | None:
        async with self._uow.read() as conn:
            found = await self._repo.find_by_identifier(conn, kind, identifier)
        return found[0] if found else None

    async def find_by_webauthn_user_handle(self, handle: bytes) -> Identity | None:
        """The identity whose security keys (`webauthn`) carry this user handle: a passkey sign-in
        falls back to it when no passkey has the handle (Kratos's migration path)."""
        if not handle:
            return None
        async with self._uow.read() as conn:
            owner = await self._repo.webauthn_user_handle_owner(conn, passkey_handles.config_forms(handle))
            return await self._repo.get(conn, owner) if owner is not None else None

    async def get(self, identity_id: str) -> Identity:
        async with self._uow.read() as conn:
            found = await self._repo.get(conn, identity_id)
        if found is None:
            raise IdentityNotFound()
        return found

    async def get_credential(self, identity_id: str, kind: str, seal: bool = False) -> Credential | None:
        """One credential with its secrets, for the service that checks it. With `seal` (asked by a
        self-service that checks backup codes under the KDF), a set of backup codes still kept as
        plain keyed hashes (or in clear) is sealed under the KDF first, and stored so
        (compare-and-set: a code spent meanwhile wins, and is sealed at the next read). Without it
        the set is handed over as stored: a self-service of before the KDF, during a rolling
        upgrade, can check only keyed hashes.

        Why here: a set is read so only when its owner types a code, right or wrong (or asks which
        are spent), and sealing needs no code, only the stored HMAC: one KDF run per code on the
        hashing threads, once per set. A migration would run that for every set at once (100k
        identities x 12 codes is hours of argon2 before the server starts); `warden backup-codes
        seal` does the sets no one reads (backup_code_sealing.py)."""
        credential = (await self.get(identity_id)).credentials.get(kind)
        if not seal or kind != CredentialType.LOOKUP_SECRET or credential is None:
            return credential
        try:  # best effort: the caller checks keyed hashes too, and must not wait past its deadline
            sealed = await asyncio.wait_for(self._sealed_codes(identity_id, credential), SEAL_ON_READ_SECONDS)
        except Exception as exc:  # busy hashing threads, a set that cannot be sealed: next time
            log.warning("identity %s: backup codes not sealed on read (%s)", identity_id, type(exc).__name__)
            return credential
        return sealed if sealed is not None else (await self.get(identity_id)).credentials.get(kind)

    async def seal_backup_codes(self, identity_id: str) -> Credential | None:
        """The identity's backup codes sealed and stored (as they were when there is nothing to
        seal, or no set), however long the hashing threads take; None when the set changed
        meanwhile. IdentityNotFound for an identity deleted meanwhile."""
        credential = (await self.get(identity_id)).credentials.get(CredentialType.LOOKUP_SECRET)
        return credential if credential is None else await self._sealed_codes(identity_id, credential)

    async def _sealed_codes(self, identity_id: str, credential: Credential) -> Credential | None:
        codes = self._sealing.backup_codes
        if codes is None or not codes.needs_sealing(credential.config):
            return credential
        upgraded = await codes.sealed(credential.config)
        if await self.swap_credential(identity_id, credential.type, credential.config, upgraded):
            return replace(credential, config=upgraded)
        return None

    async def get_by_external_id(self, external_id: str) -> Identity:
        async with self._uow.read() as conn:
            found = await self._repo.get_by_external_id(conn, external_id)
        if found is None:
            raise IdentityNotFound()
        return found

    async def list(
        self,
        *,
        after: str | None,
        size: int,
        ids: Sequence[str] = (),
        identifier: str | None = None,
        similar: str | None = None,
        organization_id: str | None = None,
        offset: int = 0,
    ) -> list[Identity]:
        async with self._uow() as uow:
            if ids:
                return await self._repo.get_many(uow.connection, ids)
            if identifier is not None:
                return await self._repo.find_by_identifier(uow.connection, None, identifier)
            return await self._repo.page(
                uow.connection,
                after=after,
                size=size,
                offset=offset,
                similar=similar,
                organization_id=organization_id,
            )

    async def count(self) -> int:
        """How many identities there are (the deprecated page-number list's `X-Total-Count`)."""
        async with self._uow.read() as conn:
            return await self._repo.count(conn)

    async def _checked(self, identity: Identity) -> Identity:
        """Validated against its schema and derived, in a worker thread: traits are untrusted input,
        and however quick RE2 makes each pattern, a big document walked on the event loop would
        stall every other request of the process."""
        return await asyncio.to_thread(self._validated, identity)

    def _validated(self, identity: Identity) -> Identity:
        schema = self._schemas.get(identity.schema_id)
        schema.validate_traits(identity.traits)
        return _storable(derive(identity, schema))

    async def _require(self, uow: UnitOfWork, identity_id: str) -> Identity:
        found = await self._repo.get(uow.connection, identity_id)
        if found is None:
            raise IdentityNotFound()
        return found

    def _ways_in(self, credentials: dict[str, Credential]) -> int:
        """How many ways in the credentials give under this config: `shared.first_factors.ways_in`,
        as self-service counts them from this service's view (internal.py), `usable` included."""
        shown = {
            kind: {"config": c.config, "identifiers": c.identifiers, "usable": self.usable(c)}
            for kind, c in credentials.items()
        }
        return first_factors.ways_in(shown, self._first_factors)

    def usable(self, credential: Credential) -> bool:
        """`usable` under this config: whether the migration hook is there to check a password."""
        return usable(credential, migration_hook=self._migration_hook)

    def _tell_sessions(self, uow: UnitOfWork, identity_id: str, deleted: bool = False) -> None:
        """Once committed, the change is told to the session service at once; its event follows."""
        if self._sessions is not None:
            uow.after_close(functools.partial(self._sessions.identity_changed, identity_id, deleted))

    async def _save(self, uow: UnitOfWork, before: Identity, after: Identity) -> Identity:
        if after.state != before.state:
            after = replace(after, state_changed_at=now())
        changed = [name for name in _TRACKED if getattr(before, name) != getattr(after, name)]
        if changed:
            after = replace(after, updated_at=now())
            await self._repo.replace(uow.connection, after)
            updated = events.IdentityUpdated(identity_id=after.id, changed=changed, state=after.state.value)
            uow.emit(events.IDENTITY_UPDATED, updated)
            self._tell_sessions(uow, after.id)
            if "credentials" in changed:
                types = sorted(after.credentials)
                uow.emit(
                    events.IDENTITY_CREDENTIALS_CHANGED,
                    events.IdentityCredentialsChanged(identity_id=after.id, types=types),
                )
            await uow.commit()
        return after


def _storable(identity: Identity) -> Identity:
    """The identity, unless an identifier or address (from its traits, or a social sign-in's
    provider and subject) is longer than its column: a 400 here, not the database's error."""
    values = [(f"credentials.{c.type} identifier", i) for c in identity.credentials.values() for i in c.identifiers]
    values += [("verifiable_addresses", a.value) for a in identity.verifiable_addresses]
    values += [("recovery_addresses", a.value) for a in identity.recovery_addresses]
    for where, value in values:
        if len(value) > MAX_IDENTIFIER_LENGTH:
            raise MalformedBody(f"{where}: must be at most {MAX_IDENTIFIER_LENGTH} characters, not {len(value)}")
    return identity


def _with_metadata(identity: Identity, metadata: MetadataChanges | None) -> Identity:
    """Each of `METADATA` a settings web hook gave, replaced as given (Kratos keeps metadata as is);
    what it did not give is kept."""
    given = {name: metadata[name] for name in METADATA if name in metadata} if metadata else {}
    return replace(identity, **given) if given else identity


def _from_document(current: Identity, patched: dict[str, Any]) -> Identity:
    try:
        state = State(patched.get("state", current.state))
    except ValueError as exc:
        raise MalformedBody("state must be active or inactive") from exc
    verified = {
        (a.get("via"), a.get("value")): a for a in patched.get("verifiable_addresses") or [] if isinstance(a, dict)
    }
    addresses = tuple(
        _patched_address(a, verified[(a.via, a.value)]) if (a.via, a.value) in verified else a
        for a in current.verifiable_addresses
    )
    external_id = patched.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or len(external_id) > MAX_EXTERNAL_ID_LENGTH):
        raise MalformedBody(f"external_id must be a string of at most {MAX_EXTERNAL_ID_LENGTH} characters")
    return replace(
        current,
        schema_id=patched.get("schema_id") or current.schema_id,
        traits=patched.get("traits") or {},
        state=state,
        metadata_public=patched.get("metadata_public"),
        metadata_admin=patched.get("metadata_admin"),
        external_id=external_id or None,
        verifiable_addresses=addresses,
    )


def _patched_address(address: Any, patched: dict[str, Any]) -> Any:
    """A verifiable address as a patch leaves it: `verified` a boolean and `status` one of Kratos's
    three, or the patch is refused (a string "false" must not verify an address)."""
    verified = patched.get("verified", address.verified)
    status = patched.get("status", address.status)
    if not isinstance(verified, bool):
        raise MalformedBody("verifiable_addresses: verified must be true or false")
    if status not in ADDRESS_STATUSES:
        raise MalformedBody(f"verifiable_addresses: status must be one of {', '.join(ADDRESS_STATUSES)}")
    return replace(
        address, verified=verified, status=status, verified_at=address.verified_at or (now() if verified else None)
    )


def usable(credential: Credential, *, migration_hook: bool = False) -> bool:
    """Whether a credential can sign in at all (a password with a hash, a passkey with a key, …);
    `_ways_in` and the view the other services read (internal.py) say it. A password awaiting the
    migration hook signs in while the hook is enabled, as Kratos's `CountActiveFirstFactorCredentials`
    counts it: else its account's last other way in could not go, and login hints would not name it."""
    config = credential.config or {}
    if credential.type == CredentialType.PASSWORD:
        return bool(config.get("hashed_password")) or (migration_hook and awaits_migration(credential))
    if credential.type == CredentialType.PASSKEY:
        return bool(config.get("credentials"))
    if credential.type == CredentialType.WEBAUTHN:
        return any(passwordless_key(k) for k in config.get("credentials") or [])
    return bool(credential.identifiers)  # social sign-in providers, a login code's addresses


def _without_mfa_keys(credentials: dict[str, Credential]) -> dict[str, Credential]:
    """The WebAuthn credential with its passwordless keys alone, as `usable` counts them (a way in
    that a second factor's removal must not take), or gone when it has none."""
    credential = credentials[CredentialType.WEBAUTHN]
    keys = credential.config.get("credentials")
    passwordless = [k for k in keys if passwordless_key(k)] if isinstance(keys, list) else []
    if not passwordless:
        return {k: v for k, v in credentials.items() if k != CredentialType.WEBAUTHN}
    if passwordless == keys:
        return credentials  # nothing to remove: unchanged, so not saved
    kept = replace(credential, config={**credential.config, "credentials": passwordless}, updated_at=now())
    return {**credentials, CredentialType.WEBAUTHN: kept}


def _without_provider(credentials: dict[str, Any], kind: str, identifier: str) -> dict[str, Any]:
    credential = credentials[kind]
    providers = [p for p in credential.config.get("providers", []) if f"{p['provider']}:{p['subject']}" != identifier]
    if len(providers) == len(credential.config.get("providers", [])):
        raise IdentityNotFound()
    if not providers:
        return {k: v for k, v in credentials.items() if k != kind}
    identifiers = tuple(f"{p['provider']}:{p['subject']}" for p in providers)
    return {
        **credentials,
        kind: replace(credential, identifiers=identifiers, config={**credential.config, "providers": providers}),
    }
