"""The password method (Kratos's `selfservice/strategy/password`): what it needs, built once."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.strategies.password import login, registration, settings
from services.selfservice.strategies.password.policy import PasswordPolicy
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.traits import TraitSchemas
from shared.clients.ports import IdentityClient

METHOD = "password"


class PasswordStrategy:
    method = METHOD

    def __init__(self, identities: IdentityClient, schemas: TraitSchemas, policy: PasswordPolicy) -> None:
        self.identities = identities
        self.schemas = schemas
        self.policy = policy

    def populate_login(self, flow: Flow) -> None:
        login.populate(self, flow)

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        return await login.authenticate(self, flow, body)

    def populate_login_identified(self, flow: Flow, identity: dict[str, Any] | None) -> bool:
        return login.populate_identified(self, flow, identity)

    def populate_registration(self, flow: Flow) -> None:
        registration.populate(self, flow)

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        return await registration.register(self, flow, body)

    def populate_registration_credentials(self, flow: Flow) -> None:
        registration.populate_credentials(flow)

    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None:
        settings.populate(self, flow, identity)

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        return True

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        return await settings.update(self, flow, body, ctx)


def _build(deps: Dependencies) -> PasswordStrategy:
    return PasswordStrategy(deps.identities, deps.schemas, PasswordPolicy.from_settings(deps.settings))


SPEC = MethodSpec(id=METHOD, node_group="password", credential_type="password", build=_build, enabled_by_default=True)
