"""The API flows as a state machine (checklist IN-6: "Hypothesis stateful tests cover the flow state
machine"): Hypothesis interleaves registrations, logins, whoami and logouts over a handful of
accounts and flows, in any order, against one Warden, and a model of what a user should see is
checked after every step:

- a registration succeeds once per address, with the session it issues; a second one for the same
  address is 4000007, and a finished flow answers 4040002 whatever is sent to it again;
- a login succeeds only with the account's password, and only once per flow (4010007 after);
  a wrong password, or an address without an account, is 4000006, and the flow can be tried again;
- whoami answers exactly the sessions issued and not logged out, for the right identity;
- no step ever answers 5xx.

The per-account throttle is set out of reach here: it has its own tests, and would only make wrong
passwords answer 429 depending on the order Hypothesis picks.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import sqlite_selfservice_settings

EMAILS = [f"person-{i}@example.com" for i in range(2)]
PASSWORDS = ["lantern orbit canyon 41", "velvet compass harbor 73"]
SHOULD_HAPPEN = {
    "registration: a finished flow again",
    "registration: the address has an account",
    "login: signed in",
    "login: a finished flow again",
    "logout: a live session",
}
UNREACHABLE = {"free_failures": 100000, "ceiling": 100000, "lockout_after": 100000}


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("flow-state-machine")
    settings_ = sqlite_selfservice_settings(
        directory,
        rate_limits={"enabled": False, "password_checks": UNREACHABLE},
    )
    with running_warden(settings_) as running:
        yield running


def _call(method: str, url: str, **kw: Any) -> tuple[int, Any]:
    answer = urllib3.request(method, url, retries=False, redirect=False, **kw)
    assert answer.status < 500, f"{method} {url}: {answer.status} {answer.data[:300]!r}"
    return answer.status, json.loads(answer.data) if answer.data else None


def _message_ids(flow: Any) -> list[int]:
    return [m["id"] for m in (flow.get("ui") or {}).get("messages") or []]


class ApiFlows(RuleBasedStateMachine):
    """One example: fresh accounts (a run-wide counter keeps addresses apart between examples)."""

    warden: ThreadedWarden
    run = 0
    seen: collections.Counter[str] = collections.Counter()  # what the examples went through, all told
    logins = Bundle("logins")
    registrations = Bundle("registrations")
    sessions = Bundle("sessions")

    @initialize()
    def fresh_accounts(self) -> None:
        ApiFlows.run += 1
        self.prefix = f"r{ApiFlows.run}-"
        self.accounts: dict[str, tuple[str, str]] = {}  # address: (identity id, password)
        self.completed: set[str] = set()  # flows that succeeded
        self.live: dict[str, str] = {}  # session token: identity id, for sessions not logged out
        self.ended: set[str] = set()

    def url(self, path: str) -> str:
        return f"{self.warden.public_url.rstrip('/')}{path}"

    def address(self, index: int) -> str:
        return self.prefix + EMAILS[index]

    @rule(target=logins)
    def start_login(self) -> str:
        status, flow = _call("GET", self.url("/self-service/login/api"))
        assert status == 200 and flow["state"] == "choose_method"
        return str(flow["id"])

    @rule(target=registrations)
    def start_registration(self) -> str:
        status, flow = _call("GET", self.url("/self-service/registration/api"))
        assert status == 200
        return str(flow["id"])

    @rule(
        target=sessions,
        flow_id=registrations,
        index=st.integers(0, len(EMAILS) - 1),
        password=st.sampled_from(PASSWORDS),
    )
    def register(self, flow_id: str, index: int, password: str) -> str:
        email = self.address(index)
        body = {"method": "password", "traits": {"email": email}, "password": password}
        status, answer = _call("POST", self.url(f"/self-service/registration?flow={flow_id}"), json=body)
        if flow_id in self.completed:
            ApiFlows.seen.update(["registration: a finished flow again"])
            assert status == 400 and _message_ids(answer) == [4040002], answer
            return ""
        if email in self.accounts:
            ApiFlows.seen.update(["registration: the address has an account"])
            assert status == 400 and 4000007 in _message_ids(answer) + _node_message_ids(answer), answer
            return ""
        assert status == 200, answer
        self.completed.add(flow_id)
        self.accounts[email] = (answer["identity"]["id"], password)
        return self._issued(answer, answer["identity"]["id"])

    @rule(
        target=sessions,
        flow_id=logins,
        index=st.integers(0, len(EMAILS) - 1),
        right=st.sampled_from([True, True, False]),
    )
    def login(self, flow_id: str, index: int, right: bool) -> str:
        email = self.address(index)
        account = self.accounts.get(email)
        password = account[1] if account and right else "not the password 99"
        body = {"method": "password", "identifier": email, "password": password}
        status, answer = _call("POST", self.url(f"/self-service/login?flow={flow_id}"), json=body)
        if flow_id in self.completed:
            ApiFlows.seen.update(["login: a finished flow again"])
            assert status == 400 and _message_ids(answer) == [4010007], answer
            return ""
        if account is None or not right:
            assert status == 400 and _message_ids(answer) == [4000006], answer
            return ""
        ApiFlows.seen.update(["login: signed in"])
        assert status == 200, answer
        self.completed.add(flow_id)
        return self._issued(answer, account[0])

    def _issued(self, answer: dict[str, Any], identity_id: str) -> str:
        token = answer.get("session_token")
        assert token and answer["session"]["identity"]["id"] == identity_id, answer
        self.live[token] = identity_id
        return str(token)

    @rule(token=sessions)
    def whoami(self, token: str) -> None:
        if not token:  # a step that issued nothing
            return
        status, answer = _call("GET", self.url("/sessions/whoami"), headers={"X-Session-Token": token})
        if token in self.live:
            assert status == 200 and answer["identity"]["id"] == self.live[token], answer
        else:
            assert status == 401, answer

    @rule(token=consumes(sessions))
    def logout(self, token: str) -> None:
        if not token:
            return
        status, _ = _call("DELETE", self.url("/self-service/logout/api"), json={"session_token": token})
        if token in self.live:
            ApiFlows.seen.update(["logout: a live session"])
            assert status == 204
            del self.live[token]
            self.ended.add(token)
        else:
            assert status in (204, 400, 401, 403)

    @invariant()
    def ended_sessions_stay_ended(self) -> None:
        for token in list(self.ended)[-2:]:  # the latest few: a whoami each, every step
            status, _ = _call("GET", self.url("/sessions/whoami"), headers={"X-Session-Token": token})
            assert status == 401, "a logged-out session answered whoami"


def _node_message_ids(flow: Any) -> list[int]:
    return [m["id"] for n in (flow.get("ui") or {}).get("nodes") or [] for m in n.get("messages") or []]


def test_the_api_flows_hold_their_model_in_any_order(warden: ThreadedWarden) -> None:
    ApiFlows.warden = warden
    machine = ApiFlows.TestCase
    machine.settings = settings(
        max_examples=50,
        stateful_step_count=40,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine().runTest()
    steps = set(ApiFlows.seen)
    assert steps >= SHOULD_HAPPEN, f"the examples never went through {SHOULD_HAPPEN - steps}: {ApiFlows.seen}"
