"""The `SessionClient` contract every adapter keeps: the internal-HTTP one, the in-process one (both
against one running Warden on SQLite) and the in-memory fake the unit tests use (tests/fakes.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.clients.http import InternalHttp
from shared.clients.identity import HttpIdentityClient
from shared.clients.session import HttpSessionClient
from tests.contract.test_identity_client import Sync
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.fakes import FakeIdentityClient, FakeSessionClient

TOKEN = "session-client-contract-token"
PASSWORD_METHOD = {"method": "password", "aal": "aal1"}
DEVICE = {"ip_address": "192.0.2.7", "user_agent": "contract-test"}


@dataclass
class Clients:
    identities: Sync
    sessions: Sync


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("session-client")
    settings = settings_for(directory, f"sqlite://{directory}/w.sqlite", {"services": {"internal_token": TOKEN}})
    with running_warden(settings) as running:
        yield running


@pytest.fixture(params=["http", "in_process", "fake"])
def clients(request: pytest.FixtureRequest, warden: ThreadedWarden) -> Iterator[Clients]:
    if request.param == "fake":
        identities = FakeIdentityClient()
        yield Clients(Sync(warden, identities), Sync(warden, FakeSessionClient(identities)))
        return
    if request.param == "in_process":
        process = warden.process
        yield Clients(Sync(warden, process.internal_api("identity")), Sync(warden, process.internal_api("session")))
        return

    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = warden.run(open_session())
    http = InternalHttp(warden.admin_url, TOKEN, session, retries=0)
    try:
        yield Clients(Sync(warden, HttpIdentityClient(http)), Sync(warden, HttpSessionClient(http)))
    finally:
        warden.run(session.close())


def _identity(clients: Clients) -> dict[str, Any]:
    email = f"s-{uuid.uuid4().hex[:10]}@example.org"
    return clients.identities.create_identity({"schema_id": "default", "traits": {"email": email}})


def test_an_issued_session_is_found_by_its_token(clients: Clients) -> None:
    identity = _identity(clients)
    issued = clients.sessions.issue_session(identity["id"], [PASSWORD_METHOD], DEVICE)
    token, session = issued["session_token"], issued["session"]
    assert token.startswith("ory_st_") and session["active"] is True
    assert session["identity"]["id"] == identity["id"]
    found = clients.sessions.session_by_token(token)
    assert found["id"] == session["id"] and found["authenticator_assurance_level"] == "aal1"
    assert [m["method"] for m in found["authentication_methods"]] == ["password"]
    assert clients.sessions.session_by_token("ory_st_" + "x" * 43) is None


def test_a_second_factor_raises_the_assurance_level(clients: Clients) -> None:
    identity = _identity(clients)
    issued = clients.sessions.issue_session(identity["id"], [PASSWORD_METHOD], DEVICE)
    upgraded = clients.sessions.add_authentication_method(issued["session"]["id"], {"method": "totp", "aal": "aal2"})
    assert upgraded["authenticator_assurance_level"] == "aal2"
    assert [m["method"] for m in upgraded["authentication_methods"]] == ["password", "totp"]


def test_reauthenticating_gives_the_session_a_new_token_and_ends_the_old_one(clients: Clients) -> None:
    identity = _identity(clients)
    issued = clients.sessions.issue_session(identity["id"], [PASSWORD_METHOD], DEVICE)
    renewed = clients.sessions.reauthenticate(issued["session"]["id"], {"method": "totp", "aal": "aal2"})
    token, session = renewed["session_token"], renewed["session"]
    assert token.startswith("ory_st_") and token != issued["session_token"]
    assert session["id"] == issued["session"]["id"] and session["authenticator_assurance_level"] == "aal2"
    assert clients.sessions.session_by_token(issued["session_token"]) is None
    assert clients.sessions.session_by_token(token)["id"] == session["id"]


def test_a_revoked_session_is_gone_and_revoking_again_says_so(clients: Clients) -> None:
    identity = _identity(clients)
    token = clients.sessions.issue_session(identity["id"], [PASSWORD_METHOD], DEVICE)["session_token"]
    assert clients.sessions.revoke_session(token) is True
    assert clients.sessions.session_by_token(token) is None
    assert clients.sessions.revoke_session(token) is False


def test_revoking_a_token_of_no_session_says_it_is_unknown(clients: Clients) -> None:
    """Native logout answers such a token 403, one of an ended session 204 (Kratos)."""
    assert clients.sessions.revoke_session("ory_st_" + "x" * 43) is None


def test_revoking_an_identity_s_sessions_can_keep_one(clients: Clients) -> None:
    identity = _identity(clients)
    kept, *others = [clients.sessions.issue_session(identity["id"], [PASSWORD_METHOD], DEVICE) for _ in range(3)]
    assert clients.sessions.revoke_identity_sessions(identity["id"], kept["session"]["id"]) == 2
    assert clients.sessions.session_by_token(kept["session_token"])["id"] == kept["session"]["id"]
    assert all(clients.sessions.session_by_token(o["session_token"]) is None for o in others)
    assert clients.sessions.revoke_identity_sessions(identity["id"]) == 1


def test_a_told_deletion_ends_the_identity_s_sessions_and_a_told_change_keeps_them(clients: Clients) -> None:
    identity = _identity(clients)
    token = clients.sessions.issue_session(identity["id"], [PASSWORD_METHOD], DEVICE)["session_token"]
    clients.sessions.identity_changed(identity["id"])
    assert clients.sessions.session_by_token(token)["identity"]["id"] == identity["id"]
    clients.sessions.identity_changed(identity["id"], deleted=True)
    assert clients.sessions.session_by_token(token) is None
