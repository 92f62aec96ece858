"""Tells the session service that an identity's change is committed, right after the commit, so
that the next whoami shows it: a disabled or deleted account is refused at once (checklist SE-5),
a new name shows at once. Kratos's whoami reads the identity each time; Warden's answers from the
session cache, which the identity's event also clears, but only when the event arrives (a few
milliseconds later, or as long as the broker is down).

The event stays the guarantee. When the session service cannot be reached, or does not answer
within NOTICE_SECONDS, the change costs a warning line, and the event does the rest."""

from __future__ import annotations

import asyncio
import logging

from shared.clients import Clients

log = logging.getLogger(__name__)
NOTICE_SECONDS = 2.0


class SessionNotice:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    async def identity_changed(self, identity_id: str, deleted: bool = False) -> None:
        # Looked up at each call: in one process, the session service is built after this one.
        sessions = self._clients.session
        if sessions is None:
            return  # no session service this process can reach (`services.session.internal_url`)
        try:
            await asyncio.wait_for(sessions.identity_changed(identity_id, deleted), NOTICE_SECONDS)
        except Exception as exc:  # the change is committed: its event follows
            log.warning(
                "the session service was not told of identity %s's change; its event will tell it: %s: %s",
                identity_id,
                type(exc).__name__,
                exc,
            )
