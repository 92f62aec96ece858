"""One-time codes (6 digits, typed by the user) and link tokens (in a URL) for verification and
recovery. Only an HMAC of each is stored, keyed with the server's secret, so a database dump does
not reveal them and 6-digit codes cannot be brute-forced offline. A code is single-use, expires,
and allows MAX_ATTEMPTS wrong tries per flow before every code of that flow stops working."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

MAX_ATTEMPTS = 5
CODE, LINK = "code", "link"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Redeemed:
    flow_id: str
    method: str
    address: str
    via: str
    identity_id: str | None


class OneTimeCodes:
    def __init__(self, table: Table, pepper: str) -> None:
        self._t = table
        self._pepper = pepper.encode()

    def _digest(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    async def issue(
        self,
        conn: AsyncConnection,
        *,
        flow_id: str,
        kind: str,
        method: str,
        address: str,
        via: str,
        identity_id: str | None,
        lifespan: timedelta,
    ) -> str:
        """A new secret for the flow; earlier unused ones of the same flow stop working (a resend).
        The flow's wrong tries carry over: asking for a new code does not buy more guesses."""
        c = self._t.c
        tried = (await conn.execute(select(func.max(c.attempts)).where(c.flow_id == flow_id, c.kind == kind))).scalar()
        await conn.execute(
            update(self._t).where(c.flow_id == flow_id, c.kind == kind, c.used_at.is_(None)).values(used_at=now())
        )
        secret = f"{secrets.randbelow(10**6):06d}" if method == CODE else secrets.token_urlsafe(32)
        await conn.execute(
            insert(self._t).values(
                id=str(uuid.uuid4()),
                flow_id=flow_id,
                kind=kind,
                method=method,
                secret_hash=self._digest(secret),
                address=address,
                via=via,
                identity_id=identity_id,
                attempts=tried or 0,
                expires_at=now() + lifespan,
                created_at=now(),
            )
        )
        return secret

    async def redeem(
        self, conn: AsyncConnection, *, flow_id: str, kind: str, method: str, secret: str
    ) -> Redeemed | None:
        """The code's record if it is right, unused, unexpired and the flow has tries left; else None.

        Every try is counted before it is compared, by an UPDATE that locks the flow's codes until the
        caller commits: concurrent tries queue, so no more than MAX_ATTEMPTS are ever compared, and a
        code is consumed by a conditional UPDATE, so two requests can never both redeem it."""
        c = self._t.c
        usable = (c.flow_id == flow_id, c.kind == kind, c.method == method, c.used_at.is_(None), c.expires_at > now())
        await conn.execute(update(self._t).where(c.flow_id == flow_id, c.kind == kind).values(attempts=c.attempts + 1))
        rows = (await conn.execute(select(self._t).where(*usable))).all()
        if not rows or max(r.attempts for r in rows) > MAX_ATTEMPTS:
            return None
        digest = self._digest(secret.strip())
        match = next((r for r in rows if hmac.compare_digest(r.secret_hash, digest)), None)
        if match is None:
            return None
        consumed = await conn.execute(
            update(self._t).where(c.id == match.id, c.used_at.is_(None)).values(used_at=now())
        )
        if consumed.rowcount != 1:
            return None
        return Redeemed(match.flow_id, match.method, match.address, match.via, match.identity_id)


def courier_message(template_type: str, recipient: str, channel: str, **template_data: Any) -> dict[str, Any]:
    """The `courier.message.requested` command's data (see services/courier/commands.py)."""
    return {"template_type": template_type, "recipient": recipient, "channel": channel, "template_data": template_data}
