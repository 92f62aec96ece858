"""Fast tests of the self-service parts that talk to other services, run against the in-memory fakes
(tests/fakes.py, held to the same contract as the real adapters): the password method, the hooks
table and the method registry that sorts methods into flows."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from services.selfservice.config import FLOW_KINDS, FlowConfig, SelfserviceConfig
from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import API, Flow
from services.selfservice.flows.login.errors import VerifiedAddressRequired
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.hooks import HOOKS
from services.selfservice.hooks.registry import HookContext, HookRegistry
from services.selfservice.strategies import METHODS
from services.selfservice.strategies.password.policy import PasswordPolicy
from services.selfservice.strategies.password.strategy import PasswordStrategy
from services.selfservice.strategies.registry import Dependencies, Methods
from services.selfservice.traits import TraitSchemas
from shared.errors import ConfigError
from tests.factories import EMAIL_SCHEMA
from tests.fakes import FakeIdentityClient, FakeSessionClient

PASSWORD = "Quartz-Lantern-Nimbus-4817"
BASE = "http://127.0.0.1:4433/"


def _config(hooks: dict[str, Any] | None = None, methods: dict[str, Any] | None = None) -> SelfserviceConfig:
    flows = {
        kind: FlowConfig(kind, f"{BASE}ui/{kind}", timedelta(hours=1), True, None, (hooks or {}).get(kind) or {})
        for kind in FLOW_KINDS
    }
    return SelfserviceConfig(BASE, BASE, (), f"{BASE}ui/error", None, flows, methods or {})


class _Settings:
    """The reads the methods make of the settings."""

    hasher_algorithm = "argon2"

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self._values = values or {}
        self.raw: dict[str, Any] = {}  # the config as written: no `haveibeenpwned_host`, no range API

    def get(self, path: str, default: Any = None) -> Any:
        return self._values.get(path, default)


def _deps(config: SelfserviceConfig, settings: _Settings | None = None) -> Dependencies:
    identities = FakeIdentityClient()
    return Dependencies(
        settings=settings or _Settings(),
        config=config,
        identities=identities,
        sessions=FakeSessionClient(identities),
        schemas=TraitSchemas({"default": EMAIL_SCHEMA}, "default"),
        web_hooks=None,  # type: ignore[arg-type]  (no web_hook in these configs)
        uow=None,  # type: ignore[arg-type]  (only passwordless code writes codes)
        flows=None,  # type: ignore[arg-type]
        pepper="",
        send_budget=None,  # type: ignore[arg-type]  (only what sends codes spends it)
        client_limits=None,  # type: ignore[arg-type]  (likewise)
        hashing=None,  # type: ignore[arg-type]  (only backup codes are checked on it)
        sandbox=None,  # type: ignore[arg-type]  (no mapper or web hook body in these configs)
    )


def _flow(kind: str = "login") -> Flow:
    return Flow.new(kind, API, f"{BASE}self-service/{kind}/api", BASE, timedelta(hours=1))


def _ids(flow: Flow, name: str | None = None) -> list[int]:
    if name is None:
        return [m.id for m in flow.ui.messages]
    return [m.id for n in flow.ui.nodes if n.name == name for m in n.messages]


@pytest.fixture
def identities() -> FakeIdentityClient:
    return FakeIdentityClient()


@pytest.fixture
def password(identities: FakeIdentityClient) -> PasswordStrategy:
    policy = PasswordPolicy(min_length=8, haveibeenpwned_enabled=False)
    return PasswordStrategy(identities, TraitSchemas({"default": EMAIL_SCHEMA}, "default"), policy)


async def _person(identities: FakeIdentityClient, email: str = "ada@example.org") -> dict[str, Any]:
    body = {"traits": {"email": email}, "credentials": {"password": {"config": {"password": PASSWORD}}}}
    return await identities.create_identity(body)


# --- the password method --------------------------------------------------------------------------


async def test_password_login_finds_the_identity_whatever_the_identifier_s_case(
    password: PasswordStrategy, identities: FakeIdentityClient
) -> None:
    person = await _person(identities)
    outcome = await password.login(_flow(), {"identifier": " ADA@example.org", "password": PASSWORD})
    assert outcome.identity["id"] == person["id"] and outcome.method == {"method": "password", "aal": "aal1"}


async def test_password_login_refuses_a_wrong_password_and_an_unknown_identifier_alike(
    password: PasswordStrategy, identities: FakeIdentityClient
) -> None:
    await _person(identities)
    for identifier, given in (("ada@example.org", "wrong-password"), ("nobody@example.org", PASSWORD)):
        flow = _flow()
        with pytest.raises(FlowInvalid):
            await password.login(flow, {"identifier": identifier, "password": given})
        assert _ids(flow) == [4000006]


async def test_password_login_names_each_missing_field(password: PasswordStrategy) -> None:
    flow = _flow()
    password.populate_login(flow)
    with pytest.raises(FlowInvalid):
        await password.login(flow, {"identifier": "", "password": ""})
    assert _ids(flow, "identifier") == [4000002] and _ids(flow, "password") == [4000002]


async def test_password_registration_checks_the_policy_and_hands_over_a_draft(password: PasswordStrategy) -> None:
    flow = _flow("registration")
    password.populate_registration(flow)
    with pytest.raises(FlowInvalid):
        await password.register(flow, {"traits": {"email": "lin@example.org"}, "password": "short"})
    assert _ids(flow, "password") == [4000032]
    outcome = await password.register(
        _flow("registration"), {"traits": {"email": "lin@example.org"}, "password": PASSWORD}
    )
    assert outcome.identity["credentials"] == {"password": {"config": {"password": PASSWORD}}}


async def test_password_settings_changes_the_password(
    password: PasswordStrategy, identities: FakeIdentityClient
) -> None:
    person = await _person(identities)
    ctx = SettingsContext(make_mocked_request("POST", "/"), {"id": "s"}, person, verifier=None)  # type: ignore[arg-type]
    await password.update_settings(_flow("settings"), {"password": "Another-Long-Passphrase-93"}, ctx)
    assert await identities.verify_password("ada@example.org", PASSWORD) is None
    assert (await identities.verify_password("ada@example.org", "Another-Long-Passphrase-93"))["id"] == person["id"]


# --- hooks -----------------------------------------------------------------------------------------


async def test_revoke_active_sessions_keeps_the_new_session_only() -> None:
    config = _config({"login": {"after": {"password": {"hooks": [{"hook": "revoke_active_sessions"}]}}}})
    deps = _deps(config)
    person = await _person(deps.identities)  # type: ignore[arg-type]
    old = await deps.sessions.issue_session(person["id"], [{"method": "password"}], {})
    new = await deps.sessions.issue_session(person["id"], [{"method": "password"}], {})
    ctx = HookContext(make_mocked_request("POST", "/"), _flow(), person, "password", session=new["session"])
    await HookRegistry(HOOKS, deps, config).run("login", "after", "post", ctx)
    assert await deps.sessions.session_by_token(old["session_token"]) is None
    assert (await deps.sessions.session_by_token(new["session_token"]))["id"] == new["session"]["id"]


async def test_require_verified_address_asks_for_a_verification_until_an_address_is_verified() -> None:
    """Kratos's answer today, by any method: the login stops for a verification flow (made by the
    login flow, flows/login/verified_address.py); once an address is verified, it goes on."""
    config = _config({"login": {"after": {"hooks": [{"hook": "require_verified_address"}]}}})
    deps = _deps(config)
    registry = HookRegistry(HOOKS, deps, config)
    person = await _person(deps.identities)  # type: ignore[arg-type]
    for method in ("password", "oidc", "code"):
        flow = _flow()
        with pytest.raises(VerifiedAddressRequired):
            await registry.run(
                "login", "after", "pre", HookContext(make_mocked_request("POST", "/"), flow, person, method)
            )
        assert _ids(flow) == []
    verified = await deps.identities.mark_address_verified("email", "ada@example.org")
    await registry.run(
        "login", "after", "pre", HookContext(make_mocked_request("POST", "/"), _flow(), verified, "password")
    )  # type: ignore[arg-type]


async def test_require_verified_address_with_the_legacy_flag_refuses_password_logins_with_4000010() -> None:
    """`feature_flags.legacy_require_verified_login_error`: Kratos's former form error, for the password
    method alone; the other methods sign in unverified."""
    config = replace(
        _config({"login": {"after": {"hooks": [{"hook": "require_verified_address"}]}}}),
        legacy_require_verified_login_error=True,
    )
    deps = _deps(config)
    registry = HookRegistry(HOOKS, deps, config)
    person = await _person(deps.identities)  # type: ignore[arg-type]
    flow = _flow()
    with pytest.raises(FlowInvalid):
        await registry.run(
            "login", "after", "pre", HookContext(make_mocked_request("POST", "/"), flow, person, "password")
        )
    assert _ids(flow) == [4000010]
    for method in ("oidc", "code", "passkey"):
        await registry.run(
            "login", "after", "pre", HookContext(make_mocked_request("POST", "/"), _flow(), person, method)
        )


# --- the method registry ---------------------------------------------------------------------------


def test_methods_join_the_flows_whose_protocol_they_implement() -> None:
    methods = Methods(METHODS, _deps(_config()))
    assert [m.method for m in methods.login] == ["password"]
    assert [m.method for m in methods.registration] == ["password"]
    assert [m.method for m in methods.settings] == ["profile", "password"]
    assert set(methods.recovery) == set(methods.verification) == {"code"}  # link is off by default
    assert methods.address_method("recovery") is methods.recovery["code"]


def test_links_start_with_the_link_methods_base_url_when_set() -> None:
    config = _config(methods={"link": {"enabled": True}})
    flow = Flow.new("recovery", API, f"{BASE}self-service/recovery/api", BASE, timedelta(hours=1))
    default = Methods(METHODS, _deps(config)).recovery["link"]
    assert default.template_data(flow, "recovery", "t0k3n")["RecoveryURL"].startswith(
        f"{BASE}self-service/recovery?flow={flow.id}&"
    )
    elsewhere = _Settings({"selfservice.methods.link.config.base_url": "https://id.example.com/auth/"})
    link = Methods(METHODS, _deps(config, elsewhere)).recovery["link"]
    url = link.template_data(flow, "verification", "t0k3n")["VerificationURL"]
    assert url == f"https://id.example.com/auth/self-service/verification?flow={flow.id}&token=t0k3n"


def test_a_method_switched_off_joins_nothing_and_a_flow_that_uses_it_stops_the_start() -> None:
    config = _config(methods={"password": {"enabled": False}, "link": {"enabled": True}})
    methods = Methods(METHODS, _deps(config, _Settings({"selfservice.flows.recovery.use": "link"})))
    assert methods.login == [] and methods.get("password") is None
    assert methods.address_method("recovery") is methods.recovery["link"]
    off = _config(methods={"code": {"enabled": False}})
    with pytest.raises(ConfigError, match="selfservice.flows.verification.use"):
        Methods(METHODS, _deps(off)).address_method("verification")
