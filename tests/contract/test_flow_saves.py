"""What a refused submission's answer may store, on both engines (services/selfservice/flows/
persistence.py): submissions sent at once all load the flow before any of them saves it. The one
that spends the flow's WebAuthn challenge, or completes the flow, wins; the answer to another that
was refused (throttled, invalid) is saved only over the flow as it loaded it, so it cannot put a
spent challenge back for a third copy of the same request to spend again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import MetaData

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.tables import selfservice_tables
from shared.bus.outbox import Outbox
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from warden.services import by_name

CHALLENGE = "webauthn_challenge"


@pytest.fixture
async def database(any_dsn: str) -> AsyncIterator[Database]:
    db = Database.from_dsn(any_dsn)
    await migrations.upgrade(db, by_name("selfservice").migrations)
    yield db
    await db.dispose()


@pytest.fixture
def flows() -> FlowRepository:
    return FlowRepository(selfservice_tables(MetaData()))


async def _stored(database: Database, flows: FlowRepository, flow_id: str) -> Flow:
    async with database.read() as conn:
        found = await flows.get(conn, flow_id, "login")
    assert found is not None
    return found


async def test_a_refused_answer_does_not_put_back_a_challenge_another_copy_spent(
    database: Database, flows: FlowRepository
) -> None:
    work = UnitOfWorkFactory(database, Outbox(outbox_table(MetaData(), "selfservice")), "selfservice")
    flow = Flow.new("login", "api", "http://127.0.0.1/self-service/login/api", "http://127.0.0.1", timedelta(hours=1))
    flow.internal[CHALLENGE] = "the-challenge"
    async with work() as uow:
        uow.write(*flows.insertion(flow))
        await uow.commit()
    throttled = await _stored(database, flows, flow.id)  # loaded before the challenge was spent

    async with work() as uow:  # the first answer spends the challenge
        assert await flows.take_internal(uow.connection, flow.id, CHALLENGE, "the-challenge")
        await uow.commit()
    throttled.ui.messages.clear()  # a refused submission's answer, saved from the copy it loaded
    async with work() as uow:
        uow.write(*flows.update_over_loaded(throttled))
        await uow.commit()

    assert CHALLENGE not in (await _stored(database, flows, flow.id)).internal
    async with work() as uow:  # a third copy of the request finds nothing left to spend
        assert await flows.take_internal(uow.connection, flow.id, CHALLENGE, "the-challenge") is None
        await uow.commit()


async def test_a_copy_saves_its_answer_over_what_it_loaded_or_last_wrote(
    database: Database, flows: FlowRepository
) -> None:
    work = UnitOfWorkFactory(database, Outbox(outbox_table(MetaData(), "selfservice")), "selfservice")
    flow = Flow.new("login", "api", "http://127.0.0.1/self-service/login/api", "http://127.0.0.1", timedelta(hours=1))
    async with work() as uow:
        uow.write(*flows.insertion(flow))
        await uow.commit()
    copy = await _stored(database, flows, flow.id)
    for state in ("sent_email", "choose_method"):  # each save stands for what the next is over
        copy.state = state
        async with work() as uow:
            uow.write(*flows.update_over_loaded(copy))
            await uow.commit()
        assert (await _stored(database, flows, flow.id)).state == state
