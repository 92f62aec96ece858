"""The identity service's events, as a subscriber on the bus sees them: each change through the
admin API (Kratos's SDK) raises its event, in order, once; a refused change raises none. On the
in-process bus with SQLite and PostgreSQL, and on RabbitMQ with PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

from shared.adapters.rabbitmq.bus import RabbitMqBus
from shared.bus.envelope import Envelope
from shared.bus.ports import Subscription
from tests.conftest import eventually, unique
from tests.factories import ThreadedWarden, running_warden, settings_for

# `*` is one word: `identity.credentials.changed` needs a pattern of its own.
ROUTING_KEYS = ("identity.*", "identity.credentials.*")


class Received:
    """What a subscription of the test's own was handed, in order of arrival."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def subscription(self) -> Subscription:
        return Subscription(unique("identity_events"), ROUTING_KEYS, self.handle)

    def wait_for(self, warden: ThreadedWarden, count: int) -> list[Envelope]:
        warden.run(eventually(lambda: len(self.envelopes) >= count))
        return list(self.envelopes)


@pytest.fixture
def warden(tmp_path: Path, any_dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, any_dsn)) as running:
        yield running


@pytest.fixture
def received(warden: ThreadedWarden) -> Received:
    made = Received()
    warden.run(warden.process.bus.subscribe(made.subscription()))
    return made


@pytest.fixture
def api(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client:
        yield IdentityApi(client)


def _update(api: IdentityApi, identity_id: str, email: str, state: str = "active", **body: Any):  # type: ignore[no-untyped-def]
    return api.update_identity(
        identity_id, kratos.UpdateIdentityBody(schema_id="default", state=state, traits={"email": email}, **body)
    )


def _password(password: str) -> kratos.IdentityWithCredentials:
    return kratos.IdentityWithCredentials(
        password=kratos.IdentityWithCredentialsPassword(
            config=kratos.IdentityWithCredentialsPasswordConfig(password=password)
        )
    )


def _summary(envelope: Envelope) -> tuple[str, Any]:
    """The event's type and what it says beyond the identity's id."""
    data = {k: v for k, v in envelope.data.items() if k != "identity_id"}
    return envelope.type, data


def test_each_change_raises_its_event_in_order(warden: ThreadedWarden, received: Received, api: IdentityApi) -> None:
    created = api.create_identity(kratos.CreateIdentityBody(schema_id="default", traits={"email": "ada@example.com"}))
    _update(api, created.id, "ada@new.example")
    _update(api, created.id, "ada@new.example", credentials=_password("a long enough password"))
    _update(api, created.id, "ada@new.example", state="inactive")
    api.delete_identity(created.id)

    events = received.wait_for(warden, 7)
    assert [_summary(e) for e in events] == [
        ("identity.created", {"schema_id": "default", "state": "active", "registration_flow_id": None}),
        # The email is also the identifier of the `code` credential and of the `password` one (held
        # before any password is set, as in Kratos), so those change with it.
        (
            "identity.updated",
            {"changed": ["traits", "verifiable_addresses", "recovery_addresses", "credentials"], "state": "active"},
        ),
        ("identity.credentials.changed", {"types": ["code", "password"]}),
        ("identity.updated", {"changed": ["credentials"], "state": "active"}),
        ("identity.credentials.changed", {"types": ["code", "password"]}),
        ("identity.updated", {"changed": ["state"], "state": "inactive"}),
        ("identity.deleted", {}),
    ]
    assert {e.data["identity_id"] for e in events} == {created.id}
    assert {e.source for e in events} == {"identity"}
    assert len({e.id for e in events}) == len(events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)


def _status(call: Any) -> int:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status


def test_a_refused_or_empty_change_raises_nothing(warden: ThreadedWarden, received: Received, api: IdentityApi) -> None:
    created = api.create_identity(kratos.CreateIdentityBody(schema_id="default", traits={"email": "mo@example.com"}))
    assert _status(lambda: _update(api, created.id, "not-an-email")) == 400
    assert (
        _status(
            lambda: api.patch_identity(
                created.id, json_patch=[kratos.JsonPatch(op="replace", path="/traits/email", value="broken")]
            )
        )
        == 400
    )
    assert (
        _status(
            lambda: _update(
                api,
                created.id,
                "mo@example.com",
                credentials=kratos.IdentityWithCredentials(
                    password=kratos.IdentityWithCredentialsPassword(
                        config=kratos.IdentityWithCredentialsPasswordConfig(hashed_password="$unknown$hash")
                    )
                ),
            )
        )
        == 400
    )
    assert _status(lambda: api.delete_identity("9f4b4a62-35f5-4d0f-9a5a-2b0d1f0b8e11")) == 404
    _update(api, created.id, "mo@example.com")  # the same as stored: nothing changed, nothing to tell
    # The marker: the next event must be this one's, so nothing was raised in between.
    api.patch_identity(created.id, json_patch=[kratos.JsonPatch(op="add", path="/metadata_admin", value={"tier": 2})])

    events = received.wait_for(warden, 2)
    assert [_summary(e) for e in events] == [
        ("identity.created", {"schema_id": "default", "state": "active", "registration_flow_id": None}),
        ("identity.updated", {"changed": ["metadata_admin"], "state": "active"}),
    ]


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_events_reach_a_rabbitmq_consumer(tmp_path: Path, pg_dsn: str, amqp_vhost: str) -> None:
    settings = settings_for(tmp_path, pg_dsn, extra={"bus": {"url": amqp_vhost}, "cache": {"url": "memory"}})
    with running_warden(settings) as warden:
        assert isinstance(warden.process.bus, RabbitMqBus)
        # Another process's consumer: a bus of its own, bound to the same exchange in that vhost.
        consumer = RabbitMqBus(amqp_vhost, settings.bus.exchange)
        received = Received()
        warden.run(consumer.connect())
        try:
            warden.run(consumer.subscribe(received.subscription()))
            with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client:
                api = IdentityApi(client)
                created = api.create_identity(
                    kratos.CreateIdentityBody(schema_id="default", traits={"email": "rmq@example.com"})
                )
                api.delete_identity(created.id)
            events = received.wait_for(warden, 2)
        finally:
            warden.run(consumer.close())
    assert sorted(_summary(e) for e in events) == [
        ("identity.created", {"schema_id": "default", "state": "active", "registration_flow_id": None}),
        ("identity.deleted", {}),
    ]
    assert {e.data["identity_id"] for e in events} == {created.id}
    assert {e.source for e in events} == {"identity"} and len({e.id for e in events}) == 2
