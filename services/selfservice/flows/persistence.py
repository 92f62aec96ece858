"""Flows and self-service errors in SQL: a flow is stored whole, as JSON, with the columns cleanup needs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Update, bindparam, delete, insert, select, update

from services.selfservice.flows.errors import FlowCompleted
from services.selfservice.flows.flow import Flow, now
from services.selfservice.tables import SelfserviceTables
from shared import json_codec
from shared.storage.connection import Connection
from shared.storage.prebuilt import bound, insert_of
from shared.storage.uow import UnitOfWorkFactory

# The statements of every submission are built once (shared/storage/prebuilt.py).
_STORED = ("body", "expires_at", "updated_at")


class FlowRepository:
    def __init__(self, tables: SelfserviceTables) -> None:
        self.t = tables
        flows = tables.flows
        self._insert = insert_of(flows, "flow", ("id", "kind", "created_at", *_STORED))
        self._update = (
            update(flows)
            .where(flows.c.id == bindparam("flow_id"))
            .values({column: bindparam(f"flow_{column}") for column in _STORED})
        )
        # The same, only over the body a copy was loaded from (`Flow.stored`).
        self._update_over = self._update.where(flows.c.body == bindparam("flow_was"))
        self._get = select(flows.c.body).where(
            flows.c.id == bindparam("flow_id"), flows.c.kind == bindparam("flow_kind")
        )
        # Locks the row until the transaction ends on PostgreSQL; SQLite's transactions hold its one
        # writer's lock from their first statement.
        self._hold = select(flows.c.body).where(flows.c.id == bindparam("flow_id")).with_for_update()

    async def insert(self, conn: Connection, flow: Flow) -> None:
        await conn.execute(*self.insertion(flow))

    def insertion(self, flow: Flow) -> tuple[Insert, dict[str, Any]]:
        """The statement that stores a new flow and its values (for a unit of work to send at its commit)."""
        values = _stored(flow)
        flow.stored = values["body"]
        return self._insert, bound("flow", {"id": flow.id, "kind": flow.kind, "created_at": flow.created_at, **values})

    async def save(self, conn: Connection, flow: Flow, *, unchanged_to_its_user: bool = False) -> None:
        await conn.execute(*self.update(flow, unchanged_to_its_user=unchanged_to_its_user))

    async def hold_open(self, conn: Connection, flow_id: str) -> None:
        """FlowCompleted if the stored flow is completed; else no other transaction changes it until
        this one ends. A code is sent only for a flow still waiting for one: a resend sent with the
        code loads the flow before the code completes it, and saving its copy after would put the
        completed flow back to `sent_email`, with a new code that could complete it again."""
        row = (await conn.execute(self._hold, {"flow_id": flow_id})).first()
        if row is not None and json_codec.loads(row.body).get("state") == "passed_challenge":
            raise FlowCompleted()

    def update_over_loaded(self, flow: Flow) -> tuple[Update, dict[str, Any]]:
        """As `update`, but a no-op when the stored flow is no longer the one this copy was loaded
        from (or last wrote): submissions sent at once all load the flow before any saves it, and the
        answer to one that was refused must not put back what another changed meanwhile (a WebAuthn
        challenge it spent, the flow it completed)."""
        was = flow.stored
        statement, values = self.update(flow)
        if was is None:
            return statement, values
        return self._update_over, {**values, "flow_was": was}

    def update(self, flow: Flow, *, unchanged_to_its_user: bool = False) -> tuple[Update, dict[str, Any]]:
        """The statement that stores a flow's new state and its values (for a unit of work to send
        with its event). `unchanged_to_its_user`: only server-side state changed, and `updated_at`
        stays, so that it says nothing the flow's body does not."""
        if not unchanged_to_its_user:
            flow.updated_at = now()
        values = _stored(flow)
        flow.stored = values["body"]
        return self._update, bound("flow", {"id": flow.id, **values})

    async def get(self, conn: Connection, flow_id: str, kind: str) -> Flow | None:
        row = (await conn.execute(self._get, {"flow_id": flow_id, "flow_kind": kind})).first()
        if row is None:
            return None
        flow = Flow.from_record(json_codec.loads(row.body))
        flow.stored = row.body
        return flow

    async def take_internal(self, conn: Connection, flow_id: str, key: str, value: object) -> str | None:
        """Removes `key` from the stored flow's server-side state if it still holds `value`; the body
        stored then if this call removed it, else None. A compare-and-set on the row (its `updated_at` and its body): of
        submissions that loaded the flow before any of them saved it, exactly one takes the value (a
        WebAuthn challenge is answered once, whatever the flow's later saves). The body too, because
        a save that leaves `updated_at` as it was (`unchanged_to_its_user`) would otherwise let a
        second taker, waiting on the row's lock, match again once the first has committed."""
        flows = self.t.flows
        row = (await conn.execute(select(flows.c.body, flows.c.updated_at).where(flows.c.id == flow_id))).first()
        if row is None:
            return None
        record = json_codec.loads(row.body)
        internal = record.get("internal")
        if not isinstance(internal, dict) or internal.get(key) != value:
            return None
        del internal[key]
        moment = now()
        record["updated_at"] = moment.isoformat()
        body = json_codec.dumps(record)
        taken = await conn.execute(
            update(flows)
            .where(flows.c.id == flow_id, flows.c.updated_at == row.updated_at, flows.c.body == row.body)
            .values(body=body, updated_at=moment)
        )
        return body if taken.rowcount == 1 else None

    async def add_error(self, conn: Connection, error: dict[str, Any], csrf_token: str = "") -> str:
        error_id = str(uuid.uuid4())
        at = now()
        await conn.execute(
            insert(self.t.errors).values(
                id=error_id, error=json.dumps(error), csrf_token=csrf_token, created_at=at, updated_at=at
            )
        )
        return error_id

    async def get_error(self, conn: Connection, error_id: str) -> dict[str, Any] | None:
        row = (await conn.execute(select(self.t.errors).where(self.t.errors.c.id == error_id))).first()
        if row is None:
            return None
        return {
            "id": row.id,
            "error": json.loads(row.error),
            "created_at": _ts(row.created_at),
            "updated_at": _ts(row.updated_at),
        }

    async def delete_expired_flows(self, conn: Connection, before: datetime, batch: int) -> int:
        """Deletes up to `batch` flows whose lifetime ended before `before`."""
        flows = self.t.flows
        ids = [r.id for r in await conn.execute(select(flows.c.id).where(flows.c.expires_at < before).limit(batch))]
        if ids:
            await conn.execute(delete(flows).where(flows.c.id.in_(ids)))
        return len(ids)

    async def delete_errors_created_before(self, conn: Connection, before: datetime, batch: int) -> int:
        errors = self.t.errors
        old = [r.id for r in await conn.execute(select(errors.c.id).where(errors.c.created_at < before).limit(batch))]
        if old:
            await conn.execute(delete(errors).where(errors.c.id.in_(old)))
        return len(old)


async def spend(uow: UnitOfWorkFactory, flows: FlowRepository, flow: Flow, key: str, value: object) -> bool:
    """Takes `key` out of the stored flow's server-side state if it still holds `value`, the value
    this copy loaded: True for the one call that took it. Copies of one request sent at once all
    load the flow before any saves it, so a one-time secret kept in the flow (a WebAuthn challenge,
    an OIDC state, a session token exchange code) is spent where the flow is stored (`take_internal`),
    not by saving a copy without it."""
    async with uow() as work:
        taken = await flows.take_internal(work.connection, flow.id, key, value)
        await work.commit()
    if taken is None:
        return False
    flow.internal.pop(key, None)
    flow.stored = taken  # this copy's later saves over what it loaded are over what it stored
    return True


def _stored(flow: Flow) -> dict[str, Any]:
    return {"body": json_codec.dumps(flow.to_record()), "expires_at": flow.expires_at, "updated_at": flow.updated_at}


def _ts(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")
