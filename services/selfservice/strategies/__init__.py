"""Every self-service method, listed once, in the order the UI shows them, switched on by config
(`selfservice.methods.<method>.enabled`). Adding a method touches this list and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.selfservice.strategies.password.policy import PasswordPolicy
from services.selfservice.strategies.password.strategy import PasswordStrategy

MethodFactory = Callable[[Any], Any]

METHODS: list[tuple[str, bool, MethodFactory]] = [
    # (method, enabled when the config does not say, factory taking the service's dependencies)
    ("password", True, lambda d: PasswordStrategy(d.identities, d.schemas, PasswordPolicy.from_settings(d.settings))),
]


def enabled_strategies(deps: Any) -> list[Any]:
    return [factory(deps) for method, default, factory in METHODS if deps.config.method_enabled(method, default)]
