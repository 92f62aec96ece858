"""One-time codes (6 digits, typed by the user) and link tokens (in a URL): the one place every flow
gets them from (verification, recovery, login and registration by code, code as a second factor).
Only an HMAC of each is stored, keyed with the server's secret, so a database dump does not reveal
them and 6-digit codes cannot be brute-forced offline. A code is single-use, expires, and allows
`max_attempts` tries per flow before every code of that flow stops working; a flow may be held to
one new code per `resend_after` (ResendTooSoon says how long to wait)."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, exists, func, insert, select, update

from shared.bus.events import MessageRequested
from shared.storage.connection import Connection

MAX_ATTEMPTS = 5
CODE, LINK = "code", "link"


class Anyone:
    """`redeem(owner=ANYONE)`: the code may have been sent for any identity (or none)."""


ANYONE = Anyone()


def now() -> datetime:
    return datetime.now(UTC)


class TriesUsedUp(Exception):
    """The flow's tries are used up: no code of it is compared any more, the right one included
    (Kratos's `ErrCodeSubmittedTooOften`). Its answer tells no more than the client knows already:
    how often it tried."""


class ResendTooSoon(Exception):
    """A new code was asked for before the flow's last one is `resend_after` old."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"a new code can be sent in {retry_after_seconds} seconds")
        self.retry_after = retry_after_seconds


@dataclass(frozen=True)
class Recipient:
    address: str
    via: str  # "email" | "sms" ("none": the stand-in of an identifier that is no address)


@dataclass(frozen=True)
class Redeemed:
    flow_id: str
    method: str
    address: str
    via: str
    identity_id: str | None


class OneTimeCodes:
    def __init__(self, table: Table, pepper: str, max_attempts: int = MAX_ATTEMPTS) -> None:
        self._t = table
        self._pepper = pepper.encode()
        self.max_attempts = max_attempts

    def _digest(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    async def issue(
        self,
        conn: Connection,
        *,
        flow_id: str,
        kind: str,
        method: str,
        address: str,
        via: str,
        identity_id: str | None,
        lifespan: timedelta,
        resend_after: timedelta | None = None,
    ) -> str:
        """A new secret for one address (see `issue_each`)."""
        [secret] = await self.issue_each(
            conn,
            flow_id=flow_id,
            kind=kind,
            method=method,
            recipients=[Recipient(address, via)],
            identity_id=identity_id,
            lifespan=lifespan,
            resend_after=resend_after,
        )
        return secret

    async def issue_each(
        self,
        conn: Connection,
        *,
        flow_id: str,
        kind: str,
        method: str,
        recipients: Sequence[Recipient],
        identity_id: str | None,
        lifespan: timedelta,
        resend_after: timedelta | None = None,
    ) -> list[str]:
        """A new secret per recipient (each address gets its own, so a redeemed code says which
        address it proved); earlier unused ones of the same flow stop working (a resend). The flow's
        tries carry over: asking for a new code does not buy more guesses.

        The first statements lock the flow's codes until the caller commits, so concurrent resends
        queue and the `resend_after` check sees the code the other one wrote."""
        c = self._t.c
        of_flow = (c.flow_id == flow_id, c.kind == kind)
        if conn.dialect.name == "postgresql":
            # A flow's first codes have no rows to lock: without this, a resend pressed while the
            # first code is sent leaves two that work. (SQLite runs one transaction at a time.)
            await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{flow_id}/{kind}", 0))))
        await conn.execute(update(self._t).where(*of_flow).values(attempts=c.attempts))
        tried, latest = (await conn.execute(select(func.max(c.attempts), func.max(c.created_at)).where(*of_flow))).one()
        if resend_after is not None and latest is not None:
            wait = (_aware(latest) + resend_after - now()).total_seconds()
            if wait > 0:
                raise ResendTooSoon(math.ceil(wait))
        await conn.execute(update(self._t).where(*of_flow, c.used_at.is_(None)).values(used_at=now()))
        secrets_out = []
        for recipient in recipients:
            secret = f"{secrets.randbelow(10**6):06d}" if method == CODE else secrets.token_urlsafe(32)
            await conn.execute(
                insert(self._t).values(
                    id=str(uuid.uuid4()),
                    flow_id=flow_id,
                    kind=kind,
                    method=method,
                    secret_hash=self._digest(secret),
                    address=recipient.address,
                    via=recipient.via,
                    identity_id=identity_id,
                    attempts=tried or 0,
                    expires_at=now() + lifespan,
                    created_at=now(),
                )
            )
            secrets_out.append(secret)
        return secrets_out

    async def redeem(
        self,
        conn: Connection,
        *,
        flow_id: str,
        kind: str,
        method: str,
        secret: str,
        owner: str | None | Anyone = ANYONE,
    ) -> Redeemed | None:
        """The code's record if it is right, unused, unexpired and the flow has tries left; else None.
        With `owner`, only a code sent for that identity counts (None: a stand-in's, which no
        account owns): another's is left unused, as Kratos's `UseLoginCode(flow, identity, code)`
        leaves it, though the try still counts. Past the flow's `max_attempts` tries, TriesUsedUp
        (the caller commits all the same: the try counts), whether or not any code is still usable.

        Every try is counted before it is compared, by an UPDATE that locks the flow's codes until the
        caller commits: concurrent tries queue, so no more than MAX_ATTEMPTS are ever compared, and a
        code is consumed by a conditional UPDATE, so two requests can never both redeem it."""
        c = self._t.c
        of_flow = (c.flow_id == flow_id, c.kind == kind)
        await conn.execute(update(self._t).where(*of_flow).values(attempts=c.attempts + 1))
        # The flow's count, as Kratos keeps it on the flow: a resend carries it over (issue_each), and
        # used or expired codes keep theirs, so the answer does not depend on which codes are left.
        tried = (await conn.execute(select(func.max(c.attempts)).where(*of_flow))).scalar_one()
        if tried is not None and tried > self.max_attempts:
            raise TriesUsedUp()
        usable = (*of_flow, c.method == method, c.used_at.is_(None), c.expires_at > now())
        rows = (await conn.execute(select(self._t).where(*usable))).all()
        if not rows:
            return None
        digest = self._digest(secret.strip())
        match = next((r for r in rows if hmac.compare_digest(r.secret_hash, digest)), None)
        if match is None or (not isinstance(owner, Anyone) and match.identity_id != owner):
            return None
        consumed = await conn.execute(
            update(self._t).where(c.id == match.id, c.used_at.is_(None)).values(used_at=now())
        )
        if consumed.rowcount != 1:
            return None
        # The flow's other codes (sent to its other addresses) go with it: one code, one success.
        await conn.execute(
            update(self._t).where(c.flow_id == flow_id, c.kind == kind, c.used_at.is_(None)).values(used_at=now())
        )
        return Redeemed(match.flow_id, match.method, match.address, match.via, match.identity_id)


async def delete_expired(conn: Connection, codes: Table, flows: Table, before: datetime, batch: int) -> int:
    """Deletes up to `batch` codes that expired before `before` and whose flow is gone or expired
    before it too (`warden cleanup`). A code's row outlives the code while its flow can still be
    submitted: it holds the flow's tries (`redeem` counts the highest of the flow's codes, used and
    expired ones included, and a resend carries it over) and the time of its last code
    (`resend_after`), so deleting it from a live flow would give that flow its tries back. Once the
    flow has expired, a submission gets a new flow (with codes of its own), and nothing reads the
    old one's codes again. The conditions are checked again as each row is deleted."""
    c = codes.c
    live_flow = exists().where(flows.c.id == c.flow_id, flows.c.expires_at >= before)
    spent = (c.expires_at < before, ~live_flow)
    picked = select(c.id).where(*spent).limit(batch).scalar_subquery()
    return (await conn.execute(delete(codes).where(c.id.in_(picked), *spent))).rowcount


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def flow_template_data(flow: Any) -> dict[str, Any]:
    """The fields every Kratos template model takes from the flow: `RequestURL`, and the
    `TransientPayload` the client submitted with it (for the operator's own templates)."""
    data: dict[str, Any] = {"RequestURL": flow.request_url}
    if flow.transient_payload is not None:
        data["TransientPayload"] = flow.transient_payload
    return data


def courier_message(template_type: str, recipient: str, channel: str, **template_data: Any) -> MessageRequested:
    """The `courier.message.requested` command (see services/courier/commands.py)."""
    return MessageRequested(
        template_type=template_type, recipient=recipient, channel=channel, template_data=template_data
    )
