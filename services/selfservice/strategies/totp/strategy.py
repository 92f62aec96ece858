"""The TOTP method (Kratos's `selfservice/strategy/totp`): a second factor from an authenticator app.
The secret is sealed with `secrets.cipher` before it leaves this service (the identity service stores
it as it gets it), and opened only to check a code."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar

from services.selfservice.strategies.mfa import SecondFactorMethod, SecondFactorServices, second_factor_services
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.strategies.totp import login, settings
from services.selfservice.strategies.totp.codes import issuer_default
from services.selfservice.strategies.totp.replay import StepGuard
from services.selfservice.traits import TraitSchemas
from shared.cipher import Cipher, cipher_from_settings

METHOD = "totp"


@dataclass(frozen=True)
class TotpStrategy(SecondFactorMethod):
    login_steps: ClassVar[ModuleType] = login
    settings_steps: ClassVar[ModuleType] = settings
    services: SecondFactorServices
    schemas: TraitSchemas
    cipher: Cipher
    steps: StepGuard
    issuer: str
    method: str = METHOD

    # --- the stored secret -----------------------------------------------------------------------
    def seal(self, url: str) -> str:
        return self.cipher.encrypt(url)

    def open(self, stored: str) -> str:
        """A URL imported in clear (or stored before a cipher secret was set) reads as it is."""
        return stored if stored.startswith("otpauth://") else self.cipher.decrypt(stored)

    async def stored_url(self, identity_id: str) -> str | None:
        credential = await self.services.identities.get_credential(identity_id, METHOD)
        stored = ((credential or {}).get("config") or {}).get("totp_url")
        return self.open(stored) if isinstance(stored, str) and stored else None


def _build(deps: Dependencies) -> TotpStrategy:
    issuer = deps.settings.get("selfservice.methods.totp.config.issuer") or issuer_default(deps.config.public_base_url)
    steps = StepGuard(deps.uow, deps.flows.t.totp_steps)
    return TotpStrategy(second_factor_services(deps), deps.schemas, cipher_from_settings(deps.settings), steps, issuer)


SPEC = MethodSpec(id=METHOD, node_group="totp", credential_type="totp", build=_build, enabled_by_default=False)
