"""Findings of the security and resilience review (issue 20, part B) that show at the HTTP edge,
on SQLite and PostgreSQL: one test per finding, named after it. Raw JSON bodies, because Kratos's
SDK would refuse to send what an attacker sends."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3

from services.selfservice.flows.verification.proof import AWAITING_MESSAGE
from services.selfservice.flows.verification.verifier import prepared_flow_id
from shared.bus.envelope import Envelope
from shared.bus.ports import Subscription
from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import CONFIGURED_BASE, PASSWORD, UI, create_identity, database, selfservice_settings

LONE_SURROGATE = b'"\\ud800"'  # JSON's escape for half a UTF-16 pair: decodes to a str UTF-8 cannot encode


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("review")
    with database(request.param, directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as running:
        yield running


def post_raw(url: str, body: bytes) -> tuple[int, Any]:
    response = urllib3.request(
        "POST", url, body=body, headers={"Content-Type": "application/json", "Accept": "application/json"}
    )
    return response.status, json.loads(response.data)


def api_flow(warden: ThreadedWarden, kind: str) -> str:
    response = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api")
    assert response.status == 200, response.data
    return f"{warden.public_url}/self-service/{kind}?flow={json.loads(response.data)['id']}"


def test_finding_10_lone_surrogate_in_an_identifier_or_trait_is_a_400(warden: ThreadedWarden) -> None:
    email = f"{unique('surrogate')}@example.com".encode()
    password = json.dumps(PASSWORD).encode()
    create_identity(warden.admin_url, email.decode())
    cases = [
        (
            api_flow(warden, "login"),
            b'{"method": "password", "identifier": "a' + LONE_SURROGATE[1:] + b', "password": ' + password + b"}",
        ),
        (
            api_flow(warden, "registration"),
            b'{"method": "password", "traits": {"email": ' + LONE_SURROGATE + b'}, "password": ' + password + b"}",
        ),
        (
            f"{warden.admin_url}/admin/identities",
            b'{"schema_id": "default", "traits": {"email": "x' + LONE_SURROGATE[1:] + b"}}",
        ),
        (
            f"{warden.admin_url}/admin/identities",
            b'{"schema_id": "default", "traits": {"email": "' + email + b'", "name": ' + LONE_SURROGATE + b"}}",
        ),
    ]
    for url, body in cases:
        status, answer = post_raw(url, body)
        assert status == 400, (url, answer)
        assert answer["error"]["code"] == 400 and "surrogate" in answer["error"]["reason"], answer


def test_finding_12_a_password_that_is_not_a_string_is_a_400(warden: ThreadedWarden) -> None:
    email = f"{unique('array')}@example.com"
    create_identity(warden.admin_url, email)
    for kind, body in (
        ("registration", {"method": "password", "traits": {"email": f"new-{email}"}, "password": [PASSWORD]}),
        ("login", {"method": "password", "identifier": email, "password": [PASSWORD]}),
        ("login", {"method": "password", "identifier": [email], "password": PASSWORD}),
        ("registration", {"method": "password", "traits": {"email": f"n-{email}"}, "password": {"a": PASSWORD}}),
    ):
        status, answer = post_raw(api_flow(warden, kind), json.dumps(body).encode())
        assert status == 400 and answer["error"]["code"] == 400, (kind, answer)
        assert "must be a string" in answer["error"]["reason"], answer
    # The same password as a string still signs in.
    status, answer = post_raw(
        api_flow(warden, "login"),
        json.dumps({"method": "password", "identifier": email, "password": PASSWORD}).encode(),
    )
    assert status == 200, answer


def _api_login(warden: ThreadedWarden, email: str, password: str = PASSWORD) -> tuple[int, Any]:
    body = {"method": "password", "identifier": email, "password": password}
    return post_raw(api_flow(warden, "login"), json.dumps(body).encode())


def test_finding_3_settings_requires_the_highest_available_aal(warden: ThreadedWarden) -> None:
    """Review finding 3: an identity with a second factor, signed in with its password only, changed
    its password. Kratos's default `required_aal: highest_available` answers 403 session_aal2_required."""
    email = f"{unique('mfa')}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    status, login = _api_login(warden, email)
    assert status == 200 and login["session"]["authenticator_assurance_level"] == "aal1"
    token = {"X-Session-Token": login["session_token"], "Accept": "application/json"}
    # Without a second factor, the aal1 session is the highest available: settings open.
    opened = urllib3.request("GET", f"{warden.public_url}/self-service/settings/api", headers=token)
    assert opened.status == 200, opened.data
    flow = json.loads(opened.data)
    # The identity gains a second factor (TOTP, through the admin API).
    identity = json.loads(urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").data)
    totp = {
        "totp": {
            "config": {"totp_url": "otpauth://totp/Warden:x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Warden"}
        }
    }
    updated = urllib3.request(
        "PUT",
        f"{warden.admin_url}/admin/identities/{identity_id}",
        json={"schema_id": "default", "traits": identity["traits"], "state": "active", "credentials": totp},
    )
    assert updated.status == 200, updated.data
    assert "totp" in json.loads(updated.data)["credentials"]
    # The aal2 login returns where Kratos's DoesSessionSatisfy says: nowhere for a native app's new
    # flow, to the settings UI for a fetch, to the request itself for a submission.
    aal2_login = f"{CONFIGURED_BASE}/self-service/login/browser?aal=aal2"
    submit = f"{CONFIGURED_BASE}/self-service/settings?flow={flow['id']}"
    back = urlencode({"return_to": f"{UI}/app/after"})  # a browser flow's own return_to brings it back
    for method, path, body, return_to in (
        ("GET", "/self-service/settings/api", None, None),
        ("GET", "/self-service/settings/browser", None, None),
        (
            "GET",
            f"/self-service/settings/browser?{back}",
            None,
            f"{CONFIGURED_BASE}/self-service/settings/browser?{back}",
        ),
        (
            "GET",
            f"/self-service/settings/flows?id={flow['id']}",
            None,
            f"{CONFIGURED_BASE}/ui/settings?flow={flow['id']}",
        ),
        (
            "POST",
            f"/self-service/settings?flow={flow['id']}",
            {"method": "password", "password": "Another-9-x"},
            submit,
        ),
    ):
        refused = urllib3.request(method, f"{warden.public_url}{path}", headers=token, json=body)
        assert refused.status == 403, (path, refused.data)
        answer = json.loads(refused.data)
        assert answer["error"]["id"] == "session_aal2_required", answer
        expected = f"{aal2_login}&{urlencode({'return_to': return_to})}" if return_to else aal2_login
        assert answer["redirect_browser_to"] == expected, path
    # The password did not change: the old one still signs in.
    assert _api_login(warden, email)[0] == 200


def test_finding_11_look_alike_identifiers_are_one_account(warden: ThreadedWarden) -> None:
    """NFC/NFD, fullwidth, zero-width and case variants of one identifier registered separate accounts."""
    import unicodedata

    local = unique("josé").replace("_", "-")
    email = f"{local}@example.com"
    create_identity(warden.admin_url, email)
    variants = [
        unicodedata.normalize("NFD", email),
        email.upper(),
        "".join(chr(ord(c) + 0xFEE0) if c.isalnum() and c.isascii() else c for c in local) + "@example.com",
        email[:3] + "\u200b" + email[3:],  # a zero-width space
        email[:2] + "\u00ad" + email[2:],  # a soft hyphen
    ]
    for variant in variants:
        body = {"method": "password", "traits": {"email": variant}, "password": PASSWORD}
        status, answer = post_raw(api_flow(warden, "registration"), json.dumps(body).encode())
        assert status == 400, (variant, answer)
        messages = answer["ui"].get("messages", []) + [m for n in answer["ui"]["nodes"] for m in n["messages"]]
        assert [m["id"] for m in messages] == [4000007], (variant, messages)  # the identifier exists
        assert _api_login(warden, variant)[0] == 200, variant  # and each spelling signs in to the one account


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mail_warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ThreadedWarden, str]]:
    directory = tmp_path_factory.mktemp("mail")
    flows = {"verification": {"enabled": True}, "recovery": {"enabled": True, "notify_unknown_recipients": True}}
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, flows=flows, methods={"code": {"enabled": True}})) as w,
    ):
        yield w, dsn


class Published:
    """The events and commands the process put on its (in-process) bus, as a consumer receives them:
    an outbox keeps nothing once it is relayed, so what a change raised is watched on its way out."""

    def __init__(self, warden: ThreadedWarden, dsn: str) -> None:
        self._dsn = dsn
        self._received: list[Envelope] = []

        async def keep(envelope: Envelope) -> None:
            self._received.append(envelope)

        keys = ("identity.created", "courier.message.requested")
        warden.run(warden.process.bus.subscribe(Subscription(unique("review_findings"), keys, keep, transient=True)))

    def of(self, event_type: str) -> list[dict[str, Any]]:
        """Once every outbox has been relayed and the last of it has come: each event with its id."""
        self._settle()
        return [{"id": e.id, **e.data} for e in self._received if e.type == event_type]

    def mails_to(self, address: str) -> int:
        """`courier.message.requested` commands for `address`: what will be mailed."""
        return sum(1 for command in self.of("courier.message.requested") if command.get("recipient") == address)

    def _settle(self) -> None:
        deadline = time.monotonic() + 15
        while _outbox_rows(self._dsn) and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = -1
        while seen != len(self._received):  # a relayed event reaches this queue an instant later
            seen = len(self._received)
            time.sleep(0.05)


def _outbox_rows(dsn: str) -> int:
    """Events written and not yet relayed, in every service's outbox."""
    from sqlalchemy import MetaData, func, select

    from shared.storage.database import Database
    from shared.storage.tables import outbox_table

    async def count() -> int:
        db = Database.from_dsn(dsn)
        try:
            async with db.connect() as conn:
                total = 0
                for service in ("identity", "selfservice", "session", "courier"):
                    table = outbox_table(MetaData(), service)
                    total += (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                return int(total)
        finally:
            await db.dispose()

    import asyncio

    return asyncio.run(count())


@pytest.fixture(scope="module")
def published(mail_warden: tuple[ThreadedWarden, str]) -> Published:
    return Published(*mail_warden)


def test_finding_7_mail_bombing_one_address_gets_a_bounded_number_of_messages(
    mail_warden: tuple[ThreadedWarden, str], published: Published
) -> None:
    """Twenty recovery requests for one address queued twenty mails. Known and unknown addresses alike
    get at most five per window, and every request still gets the same answer."""
    warden, _ = mail_warden
    known = f"{unique('bombed')}@example.com"
    create_identity(warden.admin_url, known)
    unknown = f"{unique('nobody')}@example.com"
    for address in (known, unknown):
        for _ in range(20):
            status, answer = post_raw(
                api_flow(warden, "recovery"), json.dumps({"method": "code", "email": address}).encode()
            )
            assert status == 200 and answer["state"] == "sent_email", answer
        assert published.mails_to(address) == 5, address
    other = f"{unique('other')}@example.com"  # another address is not affected
    post_raw(api_flow(warden, "recovery"), json.dumps({"method": "code", "email": other}).encode())
    assert published.mails_to(other) == 1


def test_finding_9_the_verification_mail_follows_from_the_committed_identity_created_event(
    mail_warden: tuple[ThreadedWarden, str], published: Published
) -> None:
    """The identity service's committed identity.created names the registration that asked for it, and
    the registration's verification code is sent from that event (the request no longer sends it, so
    whatever becomes of the request, the mail follows the identity): once, even if the event is
    delivered again; an operator's identity gets none, as in Kratos."""
    warden, _ = mail_warden

    def register(email: str) -> str:
        registration = api_flow(warden, "registration")
        body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
        status, answer = post_raw(registration, json.dumps(body).encode())
        assert status == 200, answer
        events = published.of("identity.created")
        [created] = [e for e in events if e["identity_id"] == answer["identity"]["id"]]
        assert created["registration_flow_id"] == registration.rsplit("=", 1)[1]
        return str(created["id"])

    def mailed(email: str) -> int:  # the consumer works the queue in order: wait for this one's turn
        deadline = time.monotonic() + 15
        while published.mails_to(email) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        return published.mails_to(email)

    email = f"{unique('atomic')}@example.com"
    event_id = register(email)
    assert mailed(email) == 1
    [created] = [e for e in published.of("identity.created") if e["id"] == event_id]
    replay = Envelope("identity.created", "identity", {k: v for k, v in created.items() if k != "id"}, id=event_id)
    warden.run(warden.process.bus.publish(replay))  # a redelivery of the same event
    operator = f"{unique('operator')}@example.com"
    create_identity(warden.admin_url, operator)
    marker = f"{unique('marker')}@example.com"
    register(marker)
    assert mailed(marker) == 1  # everything before it in the queue has been handled
    assert published.mails_to(email) == 1
    assert published.mails_to(operator) == 0


def test_finding_9_two_deliveries_of_one_identity_created_at_once_send_one_mail(
    mail_warden: tuple[ThreadedWarden, str], published: Published
) -> None:
    """A redelivery can overlap the first delivery (the outbox relay publishing an event again after a
    failed commit, a consumer's channel lost mid-way, another replica): both read the prepared flow
    as still awaiting its message, and each sent a mail with a code of its own (the first one dead).
    Of deliveries handled at the same moment, one sends."""
    warden, _ = mail_warden
    email = f"{unique('twice')}@example.com"
    registration = api_flow(warden, "registration")
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
    status, answer = post_raw(registration, json.dumps(body).encode())
    assert status == 200, answer
    [created] = [e for e in published.of("identity.created") if e["identity_id"] == answer["identity"]["id"]]
    assert published.mails_to(email) == 1
    runtime = next(r for r in warden.process._runtimes if r.name == "selfservice")
    container = runtime.container
    flow_id = prepared_flow_id(created["registration_flow_id"], email)

    async def awaiting_again() -> None:  # the flow as it was before the first delivery was handled
        async with container.engine.uow() as uow:
            flow = await container.engine.flows.get(uow.connection, flow_id, "verification")
            flow.internal[AWAITING_MESSAGE] = True
            await container.engine.flows.save(uow.connection, flow, unchanged_to_its_user=True)
            await uow.commit()

    warden.run(awaiting_again())
    [mails] = runtime.subscriptions
    envelope = Envelope(
        "identity.created", "identity", {k: v for k, v in created.items() if k != "id"}, id=created["id"]
    )

    async def twice() -> None:
        await asyncio.gather(mails.handler(envelope), mails.handler(envelope))

    warden.run(twice())
    assert published.mails_to(email) == 2, "the two deliveries sent one mail between them"


def test_finding_17_a_relative_return_to_is_accepted_as_kratos_does(warden: ThreadedWarden) -> None:
    response = urllib3.request("GET", f"{warden.public_url}/self-service/login/api?return_to=/app/dashboard")
    assert response.status == 200, response.data
    assert json.loads(response.data)["return_to"] == "http://127.0.0.1:4455/app/dashboard"
    refused = urllib3.request("GET", f"{warden.public_url}/self-service/login/api?return_to=//evil.example/app/")
    assert refused.status == 400
    assert json.loads(refused.data)["error"]["id"] == "self_service_flow_return_to_forbidden"


CORS = {
    "enabled": True,
    "allowed_origins": ["https://app.example.com", "https://*.tenant.example.com"],
    "max_age": 600,
}


@pytest.fixture(scope="module")
def cors_warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("cors")
    settings = selfservice_settings(directory, "memory", serve={"public": {"cors": CORS}})
    with running_warden(settings) as running:
        yield running


def test_finding_17_serve_public_cors_answers_preflights_and_marks_allowed_origins(
    cors_warden: ThreadedWarden,
) -> None:
    url = f"{cors_warden.public_url}/sessions/whoami"
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-Session-Token"}
    for origin in ("https://app.example.com", "https://eu.tenant.example.com"):
        answer = urllib3.request("OPTIONS", url, headers={"Origin": origin, **preflight})
        assert answer.status == 204, answer.data
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        assert answer.headers["Access-Control-Allow-Methods"] == "GET"
        assert answer.headers["Access-Control-Allow-Headers"] == "X-Session-Token"
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        assert answer.headers["Access-Control-Max-Age"] == "600"
        # The real request (a 401 without a session) carries the headers too, so the SPA can read it.
        real = urllib3.request("GET", url, headers={"Origin": origin})
        assert real.status == 401 and real.headers["Access-Control-Allow-Origin"] == origin
    for origin, headers in (
        ("https://evil.example", preflight),
        ("https://app.example.com", {"Access-Control-Request-Method": "TRACE"}),
        (
            "https://app.example.com",
            {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-Evil"},
        ),
    ):
        refused = urllib3.request("OPTIONS", url, headers={"Origin": origin, **headers})
        assert refused.status == 204 and "Access-Control-Allow-Origin" not in refused.headers, origin
    real = urllib3.request("GET", url, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in real.headers
    # The admin port has no CORS: a preflight there is refused as before.
    admin = urllib3.request(
        "OPTIONS",
        f"{cors_warden.admin_url}/admin/identities",
        headers={"Origin": "https://app.example.com", **preflight},
    )
    assert admin.status == 405 and "Access-Control-Allow-Origin" not in admin.headers


def test_finding_17_start_up_warns_about_published_secrets_and_a_lone_service_without_internal_token(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from warden.services import by_name

    directory = tmp_path_factory.mktemp("weak")
    quickstart = {"cookie": ["PLEASE-CHANGE-ME-I-AM-VERY-INSECURE"], "cipher": ["32-LONG-SECRET-NOT-SECURE-AT-ALL"]}
    elsewhere = {"internal_url": "http://127.0.0.1:9"}  # never called: the test only starts the process
    settings = selfservice_settings(
        directory, "memory", secrets=quickstart, services={"internal_token": "", "identity": elsewhere}
    )
    with caplog.at_level(logging.WARNING, logger="warden.process"), running_warden(settings, [by_name("session")]):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("secrets.cookie[0] is a published example value" in w for w in warnings), warnings
    assert any("secrets.cipher[0] is a published example value" in w for w in warnings), warnings
    assert any("services.internal_token is not set" in w for w in warnings), warnings
    assert not any("PLEASE-CHANGE-ME" in w or "NOT-SECURE" in w for w in warnings)  # the key, never the value

    caplog.clear()
    strong = selfservice_settings(tmp_path_factory.mktemp("strong"), "memory")
    with caplog.at_level(logging.WARNING, logger="warden.process"), running_warden(strong):
        pass
    assert not [r for r in caplog.records if "config:" in r.getMessage()]
