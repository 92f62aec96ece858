"""The password method (Kratos's `selfservice/strategy/password`): what it needs, built once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.strategies.password import login, registration, settings
from services.selfservice.strategies.password.breach_range import BreachRange, BreachRangeConfig
from services.selfservice.strategies.password.policy import PasswordPolicy
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.traits import TraitSchemas
from shared.clients.ports import IdentityClient
from shared.http.egress import EgressPolicy
from shared.text import Message

METHOD = "password"


class PasswordStrategy:
    method = METHOD

    def __init__(
        self,
        identities: IdentityClient,
        schemas: TraitSchemas,
        policy: PasswordPolicy,
        breach_range: BreachRange | None = None,
        profile_group: str = "default",
    ) -> None:
        self.identities = identities
        self.schemas = schemas
        self.policy = policy
        self.breach_range = breach_range
        self.profile_group = profile_group  # the group of a one-step registration form's traits

    async def refusal(self, password: str, identifiers: Sequence[str]) -> Message | None:
        """Why a new password may not be used, or None: the policy's offline rules first, then the
        range API when one is configured (Kratos's validator, too, asks it last)."""
        if (violation := self.policy.check(password, identifiers)) is not None:
            return violation
        return None if self.breach_range is None else await self.breach_range.check(password)

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
    policy = PasswordPolicy.from_settings(deps.settings)
    config = BreachRangeConfig.from_settings(deps.settings)
    breach_range = BreachRange(config, EgressPolicy.from_settings(deps.settings)) if config else None
    return PasswordStrategy(deps.identities, deps.schemas, policy, breach_range, deps.config.password_profile_group)


SPEC = MethodSpec(id=METHOD, node_group="password", credential_type="password", build=_build, enabled_by_default=True)
