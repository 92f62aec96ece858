"""The code method: a 6-digit code, typed into the flow, for verification and recovery, and with
`selfservice.methods.code.passwordless_enabled` for login and registration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.address import AddressMethod
from services.selfservice.strategies.code import fallback, login, mfa, recovery, refresh, registration
from services.selfservice.strategies.code.nodes import code_input
from services.selfservice.strategies.code.sender import CodeSender
from services.selfservice.strategies.mfa import SecondFactorServices, second_factor_services
from services.selfservice.strategies.profile.registration import PROFILE_FIRST
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.traits import TraitSchemas
from shared import text
from shared.clients.ports import IdentityClient


class CodeStrategy(AddressMethod):
    method = "code"
    submit_label = text.label_continue

    def __init__(self, public_base_url: str, *, choose_address: bool = False) -> None:
        super().__init__(public_base_url)
        # `feature_flags.choose_recovery_address`: new recovery flows ask for the account and offer its
        # addresses (recovery.py); a flow keeps the way it was made, whatever the flag says later.
        self.choose_address = choose_address

    def populate_recovery(self, flow: Flow) -> None:
        if self.choose_address:
            recovery.address_screen(flow)
        else:
            super().populate_recovery(flow)

    def after_sending(self, flow: Flow, kind: str, address: str, via: str = "email") -> None:
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        label = text.label_verification_code() if kind == "verification" else text.label_recovery_code()
        flow.ui.add(
            code_input(label),
            input_node("code", "method", "hidden", value="code"),
            input_node("code", "method", "submit", value="code", label=text.label_continue()),
            # Named by the address's channel, as Kratos's `require_verified_address` names it.
            input_node("code", via, "submit", value=address, label=text.label_resend_code()),
        )
        if kind == "recovery":
            flow.ui.messages.append(text.recovery_code_sent())
        else:
            flow.ui.messages.append(text.verification_sms_sent() if via == "sms" else text.verification_code_sent())

    def template_data(self, flow: Flow, kind: str, secret: str) -> dict[str, Any]:
        if kind == "recovery":
            return {"RecoveryCode": secret}
        # As Kratos: the mail also links to the flow with the code, for one click instead of typing.
        url = f"{self._base}/self-service/verification?{urlencode({'flow': flow.id, 'code': secret})}"
        return {"VerificationCode": secret, "VerificationURL": url}

    def template_type(self, kind: str, valid: bool) -> str:
        return f"{kind}_code_{'valid' if valid else 'invalid'}"


class PasswordlessCodeStrategy(CodeStrategy):
    """The code method with `passwordless_enabled`: it also signs people up and in (login.py,
    registration.py), its codes issued and checked by one CodeSender."""

    def __init__(
        self,
        public_base_url: str,
        identities: IdentityClient,
        schemas: TraitSchemas,
        sender: CodeSender,
        *,
        two_step: bool = False,
        fallback: bool = False,
        choose_address: bool = False,
        refresh_choose_address: bool = False,
    ) -> None:
        super().__init__(public_base_url, choose_address=choose_address)
        self.identities = identities
        self.schemas = schemas
        self.sender = sender
        self.two_step = two_step  # profile_first registration: the code screen offers Back
        self.fallback = fallback  # missing_credential_fallback_enabled: login.py, fallback.py
        # `feature_flags.refresh_login_choose_address`: a refresh offers the session's addresses (refresh.py).
        self.refresh_choose_address = refresh_choose_address

    def populate_login(self, flow: Flow) -> None:
        login.populate(self, flow)

    async def populate_login_refresh(self, flow: Flow, identity_id: str) -> None:
        if self.refresh_choose_address:
            await refresh.populate(self, flow, identity_id)
        else:
            self.populate_login(flow)

    def claims(self, body: dict[str, Any]) -> bool:
        """The refresh screen's "Send code to …" buttons carry only `address` (refresh.py). Only with
        the flag on: off, such a body stays nobody's (4010002), as it always was."""
        return self.refresh_choose_address and bool(body.get("address"))

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        if not body.get("method") and not refresh.offers(flow):  # an `address` alone is a picker's button
            flow.ui.messages.append(text.no_login_strategy())
            raise FlowInvalid()
        return await login.authenticate(self, flow, body)

    def populate_login_identified(self, flow: Flow, identity: dict[str, Any] | None) -> bool:
        return login.populate_identified(self, flow)

    def populate_registration(self, flow: Flow) -> None:
        registration.populate(self, flow)

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        return await registration.register(self, flow, body)

    def populate_registration_credentials(self, flow: Flow) -> None:
        registration.populate_credentials(flow)


class MfaCodeStrategy(PasswordlessCodeStrategy):
    """The code method with `mfa_enabled`: a code to a verified address as the aal2 step of a login
    (mfa.py), beside passwordless login when that is on too."""

    def __init__(self, *args: Any, services: SecondFactorServices, passwordless: bool, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.services = services
        self.passwordless = passwordless

    def populate_login(self, flow: Flow) -> None:
        if mfa.offers(flow):
            mfa.populate(self, flow)
        elif self.passwordless:
            super().populate_login(flow)

    async def populate_login_refresh(self, flow: Flow, identity_id: str) -> None:
        if self.passwordless:
            await super().populate_login_refresh(flow, identity_id)
        else:
            self.populate_login(flow)

    def claims(self, body: dict[str, Any]) -> bool:
        """The aal2 form's "Send code to …" buttons carry only `address`, no `method` (Kratos's
        `strategy_login.go` takes such a body as the code method's when `mfa_enabled`), and a Kratos
        UI posts the form as it is."""
        return bool(body.get("address"))

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        if mfa.offers(flow):
            return await mfa.authenticate(self, flow, body)
        if not self.passwordless:  # no passwordless login: an aal1 submission is nobody's here
            flow.ui.messages.append(text.no_login_strategy())
            raise FlowInvalid()
        return await super().login(flow, body)

    def populate_login_identified(self, flow: Flow, identity: dict[str, Any] | None) -> bool:
        return self.passwordless and super().populate_login_identified(flow, identity)

    def populate_registration(self, flow: Flow) -> None:
        if self.passwordless:
            super().populate_registration(flow)

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        if not self.passwordless:
            flow.ui.messages.append(text.no_registration_strategy())
            raise FlowInvalid()
        return await super().register(flow, body)


def _build(deps: Dependencies) -> CodeStrategy:
    passwordless = bool(deps.settings.get("selfservice.methods.code.passwordless_enabled"))
    mfa_enabled = bool(deps.settings.get("selfservice.methods.code.mfa_enabled"))
    choose_address = deps.config.choose_recovery_address
    refresh_choose_address = deps.config.refresh_login_choose_address
    if not (passwordless or mfa_enabled):
        return CodeStrategy(deps.config.public_base_url, choose_address=choose_address)
    sender = CodeSender.from_settings(
        deps.settings, deps.uow, deps.flows, deps.pepper, deps.send_budget, deps.client_limits
    )
    two_step = deps.config.flows["registration"].style == PROFILE_FIRST
    args = (deps.config.public_base_url, deps.identities, deps.schemas, sender)
    missing_credential = bool(deps.settings.get(fallback.KEY))
    if mfa_enabled:
        return MfaCodeStrategy(
            *args,
            two_step=two_step,
            fallback=missing_credential,
            services=second_factor_services(deps),
            passwordless=passwordless,
            choose_address=choose_address,
            refresh_choose_address=refresh_choose_address,
        )
    return PasswordlessCodeStrategy(
        *args,
        two_step=two_step,
        fallback=missing_credential,
        choose_address=choose_address,
        refresh_choose_address=refresh_choose_address,
    )


# Kratos's code method owns the `code` credential (the addresses passwordless login sends codes to).
SPEC = MethodSpec(id="code", node_group="code", credential_type="code", build=_build, enabled_by_default=True)
