"""The session service's use cases. `whoami` is the hot path: a cache hit costs one GET and no
database query or identity call (with `session.inactivity_timeout`, a write now and then: the use
it records); everything else reads and writes through a unit of work and drops the cache entries
it makes stale in the same request."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.session.cache import CachedSession, SessionCache
from services.session.config import SessionConfig
from services.session.domain import AuthenticationMethod, Device, Session, now
from services.session.errors import Aal2Required, NoActiveSession, SessionNotFound
from services.session.persistence import SessionRepository
from services.session.tokens import new_token, token_hash
from services.session.views import public_identity, session_view
from shared.aal import AAL2
from shared.bus import events
from shared.clients.ports import IdentityClient
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory
from shared.tracing.attributes import event


class SessionManager:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        repository: SessionRepository,
        cache: SessionCache,
        identities: IdentityClient,
        config: SessionConfig,
    ) -> None:
        self._uow = uow
        self._repo = repository
        self._cache = cache
        self._identities = identities
        self.config = config

    async def issue(
        self, identity_id: str, methods: Sequence[AuthenticationMethod], device: Device
    ) -> tuple[Session, str]:
        token = new_token()
        session = Session(
            identity_id=identity_id,
            token_hash=token_hash(token),
            expires_at=now() + self.config.lifespan,
            authentication_methods=tuple(methods),
            devices=(device,),
        )
        async with self._uow() as uow:
            for statement, params in self._repo.inserts(session):
                uow.write(statement, params)
            uow.emit(
                events.SESSION_ISSUED,
                events.SessionIssued(
                    session_id=session.id, identity_id=identity_id, aal=session.aal, methods=[m.method for m in methods]
                ),
            )
            await uow.commit()
        event("SessionIssued", {"identity.id": identity_id, "SessionID": session.id})
        return session, token

    async def whoami(self, token: str, required_aal: str | None = None) -> CachedSession:
        """The ready-to-send answer for a session token, or NoActiveSession / Aal2Required. With an
        inactivity timeout, a cached answer that looks unused for that long is checked against the
        database (another process may have recorded a use), and a use is recorded now and then."""
        digest = token_hash(token)
        lookup = await self._cache.get(digest)
        entry = lookup.entry
        changed = entry is None or not entry.fresh() or self._looks_idle(entry.active_at)
        if entry is None or changed:
            entry = await self._load(digest)
        if self._use_due(entry.active_at):
            entry = replace(entry, active_at=(await self._record_use(digest)).timestamp())
            changed = True
        if changed:
            await self._cache.put(digest, entry, lookup)
        self._require_aal(entry, required_aal or self.config.required_aal)
        return entry

    async def _load(self, digest: str) -> CachedSession:
        async with self._uow.read() as conn:
            found = await self._repo.get_by_token_hash(conn, digest)
        session = await self._valid(found)
        identity = await self._identities.get_identity(session.identity_id)
        if identity is None or identity.get("state") != "active":
            raise NoActiveSession()
        body = json.dumps(session_view(session, public_identity(identity)), separators=(",", ":")).encode()
        return CachedSession(
            session.aal,
            self.config.assurance.available_aal(identity),
            session.expires_at.timestamp(),
            session.identity_id,
            body,
            session.last_active.timestamp() if self.config.inactivity_timeout is not None else None,
        )

    async def _valid(self, session: Session | None) -> Session:
        """The session, if it can be used: NoActiveSession for none, a revoked or expired one, and an
        idle one, which is revoked then (its revocation is an event like any other)."""
        if session is None or not session.is_valid():
            raise NoActiveSession()
        if session.idle(self.config.inactivity_timeout):
            await self.revoke([session])
            raise NoActiveSession()
        return session

    def _looks_idle(self, active_at: float | None) -> bool:
        timeout = self.config.inactivity_timeout
        return timeout is not None and (active_at is None or time.time() - active_at >= timeout.total_seconds())

    def _use_due(self, active_at: float | None) -> bool:
        every = self.config.use_recorded_every
        return every is not None and (active_at is None or time.time() - active_at >= every.total_seconds())

    async def _record_use(self, digest: str) -> datetime:
        at = now()
        async with self._uow() as uow:
            await self._repo.record_use(uow.connection, digest, at)
            await uow.commit()
        return at

    def as_seen(self, session: Session) -> Session:
        """For its view: an idle session, not yet revoked (no one has presented it since), shows as
        inactive. Only for the view: revoking it must still find it active."""
        if session.active and session.idle(self.config.inactivity_timeout):
            return replace(session, active=False)
        return session

    def _require_aal(self, entry: CachedSession, required: str) -> None:
        self._meets(entry.aal, entry.available_aal, required)

    def require_whoami_aal(self, session: Session, identity: dict[str, Any]) -> None:
        """whoami's rule (`session.whoami.required_aal`) for the caller's own session APIs too: under
        `highest_available`, a password-only session of an account with a second factor neither
        lists its owner's sessions nor ends them (checklist OTP-9; Kratos checks nothing there)."""
        self._meets(session.aal, self.config.assurance.available_aal(identity), self.config.required_aal)

    def _meets(self, aal: str, available_aal: str, required: str) -> None:
        if required == "highest_available" and available_aal == AAL2 and aal != AAL2:
            raise Aal2Required(self.aal2_login_url())

    def aal2_login_url(self) -> str:
        return f"{self.config.public_base_url.rstrip('/')}/self-service/login/browser?aal=aal2"

    async def authenticate(self, token: str) -> Session:
        """The valid session a token belongs to (for the caller's own session APIs, and self-service);
        a use of it, where an inactivity timeout is kept."""
        session = await self._valid(await self.find_by_token(token))
        if self._use_due(session.active_at.timestamp() if session.active_at else None):
            session = replace(session, active_at=await self._record_use(token_hash(token)))
        return session

    async def find_by_token(self, token: str) -> Session | None:
        """The session of a token, valid or not; None for a token of no session."""
        async with self._uow.read() as conn:
            return await self._repo.get_by_token_hash(conn, token_hash(token))

    async def get(self, session_id: str) -> Session:
        async with self._uow.read() as conn:
            session = await self._repo.get(conn, session_id)
        if session is None:
            raise SessionNotFound()
        return session

    async def page(self, **query: Any) -> list[Session]:
        if self.config.inactivity_timeout is not None:
            query["used_since"] = now() - self.config.inactivity_timeout
        async with self._uow() as uow:
            return [self.as_seen(s) for s in await self._repo.page(uow.connection, **query)]

    async def revoke(self, sessions: Sequence[Session]) -> int:
        """Ends the sessions still active: each one's event once, however many requests revoke it
        at the same moment (an idle session presented by a burst of gateway checks)."""
        candidates = {s.id: s for s in sessions if s.active}
        async with self._uow() as uow:
            ended = await self._repo.deactivate(uow.connection, list(candidates))
            active = [candidates[i] for i in ended]
            self._emit_revoked(uow, active)
            await uow.commit()
        await self._cache.drop(s.token_hash for s in active)
        return len(active)

    async def revoke_others(self, current: Session) -> int:
        return await self.revoke_identity(current.identity_id, except_id=current.id)

    async def revoke_identity(self, identity_id: str, except_id: str | None = None) -> int:
        async with self._uow() as uow:
            sessions = await self._repo.active_of_identity(uow.connection, identity_id, except_id=except_id)
        return await self.revoke(sessions)

    async def delete_identity_sessions(self, identity_id: str) -> int:
        """Deletes an identity's sessions (Kratos's admin DELETE: "irrecoverably and permanently"),
        the active ones revoked first so that their revocation is an event like any other, once.
        Returns how many were deleted."""
        async with self._uow() as uow:
            active = {s.id: s for s in await self._repo.active_of_identity(uow.connection, identity_id)}
            ended = await self._repo.deactivate(uow.connection, list(active))
            self._emit_revoked(uow, [active[i] for i in ended])
            digests = await self._repo.delete_of_identity(uow.connection, identity_id)
            await uow.commit()
        await self._cache.drop(digests)
        return len(digests)

    async def extend(self, session_id: str) -> None:
        """Kratos's ExtendSession: a whole lifespan from now, unless the session ends later than
        `session.earliest_possible_extend` from now (too early: left as it is, no write).
        SessionNotFound for no session of that id. Unlike Kratos, a revoked session is left as it is
        too (Kratos moves its expiry; it stays inactive either way). The cache entry is dropped after
        the commit, so that a whoami that read the old row cannot write it back (cache.py)."""
        at = now()
        limit = self.config.earliest_possible_extend
        async with self._uow() as uow:
            digest = await self._repo.extend(
                uow.connection, session_id, at + self.config.lifespan, at + limit if limit is not None else None
            )
            if digest is None and not await self._repo.exists(uow.connection, session_id):
                raise SessionNotFound()
            await uow.commit()
        if digest is not None:
            await self._cache.drop([digest])

    async def add_method(self, session_id: str, method: AuthenticationMethod) -> Session:
        """Records a completed authentication (a second factor, a refresh) on an existing session."""
        updated, _ = await self.reauthenticate(session_id, method, rotate=False)
        return updated

    async def reauthenticate(
        self, session_id: str, method: AuthenticationMethod, *, rotate: bool = True
    ) -> tuple[Session, str | None]:
        """As `add_method`, and with `rotate` the session gets a new token, the old one ending with
        this write (ASVS 7.2.4, checklist SE-2): a copy of the token taken before (a stolen cookie)
        does not share the privilege or the level the owner's sign-in just gave the session."""
        session = await self.get(session_id)
        if not session.is_valid() or session.idle(self.config.inactivity_timeout):
            raise NoActiveSession()
        updated = session.with_method(method, self.config.lifespan)
        token = new_token() if rotate else None
        if token is not None:
            updated = replace(updated, token_hash=token_hash(token))
        if not await self._save(updated):
            raise NoActiveSession()  # revoked while the method was being checked
        if token is not None:
            await self._cache.drop([session.token_hash])  # the old token's answer
        return updated, token

    async def identity_changed(self, identity_id: str, deleted: bool) -> None:
        """The identity service's call right after it commits a change (its event follows, and does
        the same again): the change shows in the next whoami, not when the event arrives."""
        async with self._uow() as uow:
            stale = await self.forget_identity(uow, identity_id, deleted=deleted)
            await self.drop_cached(stale)  # before the commit, as the event's consumer does
            await uow.commit()

    async def forget_identity(self, uow: UnitOfWork, identity_id: str, deleted: bool) -> list[str]:
        """On identity events: a deleted identity loses its sessions; any change makes its cached
        sessions stale. Returns the token hashes whose cached answers are stale (the caller may drop
        them before its commit: a whoami refilling meanwhile reads the identity, already changed,
        from the identity service, and a deleted one's sessions answer nothing)."""
        if deleted:
            return await self._repo.delete_of_identity(uow.connection, identity_id)
        return [s.token_hash for s in await self._repo.active_of_identity(uow.connection, identity_id)]

    async def cache_keys_of(self, uow: UnitOfWork, session_id: str) -> list[str]:
        """The cache key of a session (none once it is deleted)."""
        found = await self._repo.get(uow.connection, session_id)
        return [found.token_hash] if found else []

    async def drop_cached(self, digests: Sequence[str]) -> None:
        await self._cache.drop(digests)

    async def identity_of(self, session: Session) -> dict[str, Any] | None:
        return await self._identities.get_identity(session.identity_id)

    async def identity_of_id(self, identity_id: str) -> dict[str, Any] | None:
        return await self._identities.get_identity(identity_id)

    async def _save(self, session: Session) -> bool:
        """Stores a change to a session still active; False (and nothing written) if it is not."""
        async with self._uow() as uow:
            saved = await self._repo.save(uow.connection, session)
            await uow.commit()
        await self._cache.drop([session.token_hash])
        return saved

    @staticmethod
    def _emit_revoked(uow: UnitOfWork, sessions: Sequence[Session]) -> None:
        for session in sessions:
            uow.emit(
                events.SESSION_REVOKED, events.SessionRevoked(session_id=session.id, identity_id=session.identity_id)
            )
