"""What the second-factor methods (TOTP, lookup secrets, code with `mfa_enabled`) share: they join a
login flow only to upgrade a signed-in session to aal2, and a factor is turned off, or added beside
another, only from an aal2 session (an attacker holding just the password must not be able to strip
the second factor, nor enrol one of their own, which would make their session aal2 at once)."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar
from urllib.parse import urlencode

from services.selfservice.codes import courier_message
from services.selfservice.config import SelfserviceConfig
from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.strategies.registry import Dependencies
from services.selfservice.views import public_identity
from shared import text
from shared.aal import AAL2, Aal2Required
from shared.bus.events import COURIER_MESSAGE_REQUESTED
from shared.clients.ports import IdentityClient, SessionClient
from shared.http.client_ip import client_ip
from shared.storage.uow import UnitOfWorkFactory

METHOD_NAMES = {
    "totp": "An authenticator app",
    "lookup_secret": "A set of backup recovery codes",
    "code": "Sign-in codes",
    "webauthn": "A security key",
}


@dataclass(frozen=True)
class SecondFactorServices:
    identities: IdentityClient
    sessions: SessionClient
    config: SelfserviceConfig
    uow: UnitOfWorkFactory

    def require_aal2_session(self, session: dict[str, Any], flow: Flow) -> None:
        """A factor is removed only from an aal2 session: 403 `session_aal2_required` otherwise."""
        if session.get("authenticator_assurance_level") == AAL2:
            return
        return_to = f"{self.config.flows['settings'].ui_url}?{urlencode({'flow': flow.id})}"
        login = f"{self.config.public_base_url.rstrip('/')}/self-service/login/browser"
        raise Aal2Required(f"{login}?{urlencode({'aal': AAL2, 'return_to': return_to})}")

    def require_aal2_to_add(self, session: dict[str, Any], identity: dict[str, Any], flow: Flow) -> None:
        """A factor is added beside an existing one only from an aal2 session. Adding proves only the
        new factor, and the session counts it (`completed`): from the password alone, that would be
        aal2 without the factor the account already has. This matters where
        `selfservice.flows.settings.required_aal` is `aal1`; with `highest_available` such a session
        never gets this far. The first factor of an account needs no more than the password."""
        if self.config.assurance.has_second_factor(identity):
            self.require_aal2_session(session, flow)

    async def check_throttle(self, identity_id: str) -> None:
        await self.identities.second_factor_attempt(identity_id, "check", client_ip.get())

    async def attempt(self, identity_id: str, succeeded: bool) -> None:
        outcome = "succeeded" if succeeded else "failed"
        await self.identities.second_factor_attempt(identity_id, outcome, client_ip.get())

    async def notify(self, identity: dict[str, Any], method: str, added: bool) -> None:
        """Mails the account's email addresses (verified ones, when it has any) that a second factor
        was added or removed: whoever did not do it learns of it (Warden's own template types)."""
        addresses = [a for a in identity.get("verifiable_addresses") or [] if a.get("via") == "email"]
        recipients = [a["value"] for a in addresses if a.get("verified")] or [a["value"] for a in addresses]
        if not recipients:
            return
        template = "second_factor_added" if added else "second_factor_removed"
        async with self.uow() as uow:
            for recipient in dict.fromkeys(recipients):
                data = courier_message(
                    template,
                    recipient,
                    "email",
                    To=recipient,
                    Identity=public_identity(identity),
                    MethodName=METHOD_NAMES.get(method, method),
                )
                uow.emit(COURIER_MESSAGE_REQUESTED, data)
            await uow.commit()

    async def completed(self, session: dict[str, Any], method: str) -> None:
        """Setting a factor up proves holding it: the session counts it (Kratos does the same)."""
        await self.sessions.add_authentication_method(session["id"], second_factor_method(method))


class SecondFactorMethod:
    """What TOTP and backup codes answer as login and settings methods, handed to their `login` and
    `settings` modules (one per flow, as Kratos's files are). Every change needs a privileged session."""

    login_steps: ClassVar[ModuleType]
    settings_steps: ClassVar[ModuleType]

    def populate_login(self, flow: Flow) -> None:
        self.login_steps.populate(self, flow)

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        outcome: LoginOutcome = await self.login_steps.authenticate(self, flow, body)
        return outcome

    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None:
        self.settings_steps.populate(self, flow, identity)

    def claims(self, body: dict[str, Any]) -> bool:
        return bool(self.settings_steps.claims(body))

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        return True

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        updated: dict[str, Any] = await self.settings_steps.update(self, flow, body, ctx)
        return updated


def second_factor_services(deps: Dependencies) -> SecondFactorServices:
    return SecondFactorServices(deps.identities, deps.sessions, deps.config, deps.uow)


def is_aal2_login(flow: Flow) -> bool:
    return flow.fields.get("requested_aal") == AAL2 and bool(flow.internal.get("identity_id"))


def has_credential(flow: Flow, credential_type: str) -> bool:
    """Whether the signed-in identity of an aal2 login flow holds this credential (recorded by the
    login handler when the flow was made)."""
    return credential_type in (flow.internal.get("credential_types") or ())


def upgrading_identity(flow: Flow) -> str:
    """The identity an aal2 login flow upgrades; a second factor alone never signs anyone in."""
    if not is_aal2_login(flow):
        flow.ui.messages.append(text.no_login_strategy())
        raise FlowInvalid()
    return str(flow.internal["identity_id"])


def second_factor_method(method: str) -> dict[str, str]:
    return {"method": method, "aal": AAL2}
