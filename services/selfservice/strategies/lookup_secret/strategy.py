"""The lookup-secret method (Kratos's `selfservice/strategy/lookup`): backup recovery codes as a
second factor, stored only under a slow KDF over a keyed hash (shared.backup_codes)."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

from services.selfservice.strategies.lookup_secret import login, settings
from services.selfservice.strategies.mfa import SecondFactorMethod, SecondFactorServices, second_factor_services
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from shared.backup_codes import CodeHasher, peppers_from
from shared.cipher import Cipher, cipher_from_settings
from shared.kdf import Argon2idKdf

METHOD = "lookup_secret"


@dataclass(frozen=True)
class LookupSecretStrategy(SecondFactorMethod):
    login_steps: ClassVar[ModuleType] = login
    settings_steps: ClassVar[ModuleType] = settings
    services: SecondFactorServices
    hasher: CodeHasher
    cipher: Cipher  # seals codes shown but not yet confirmed, while they wait in the flow
    method: str = METHOD

    async def stored_config(self, identity_id: str) -> dict[str, Any]:
        credential = await self.services.identities.get_credential(identity_id, METHOD, seal_backup_codes=True)
        config = (credential or {}).get("config")
        return config if isinstance(config, dict) else {}


def _build(deps: Dependencies) -> LookupSecretStrategy:
    # deps.pepper is required (start-up fails without secrets.default or secrets.cookie) once this
    # method is on: see service._pepper. It keyed the codes; the older secrets of its list still check
    # the codes made with them. No KDF parameters: this service checks codes, the identity service
    # seals them (the confirmed set goes to it in clear, as Kratos's import takes it).
    return LookupSecretStrategy(
        second_factor_services(deps),
        CodeHasher(peppers_from(deps.settings, deps.pepper), Argon2idKdf(deps.hashing)),
        cipher_from_settings(deps.settings),
    )


SPEC = MethodSpec(
    id=METHOD, node_group="lookup_secret", credential_type="lookup_secret", build=_build, enabled_by_default=False
)
