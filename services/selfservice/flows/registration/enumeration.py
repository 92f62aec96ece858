"""Whether a registration with an existing account's identifier says so (checklist EN-4).

Kratos answers it with 4000007 ("An account with the same identifier … exists already"), and so
does Warden by default: clients may depend on it. With `security.account_enumeration.mitigate`,
the methods listed in COVERED_METHODS answer it as a new account (existing_account.py), provided
that nothing after the registration needs the account to exist:

- a `session` hook signs a new account in; an existing one cannot be signed in by a stranger, so
  the two answers would differ in their body and their cookies;
- a `web_hook` that does not interrupt (plain or fire-and-forget) runs after the account exists and
  tells a third party about it: calling it for a stand-in would report an account that is not
  there, and skipping it would make the answer faster by the call's time.

- an identity schema whose traits carry more than one identifier or address (a username and an
  email, two emails, an array of them), or whose only one is not the password identifier: a
  registration that collides on one of them brings addresses of the registrant's own, and a new
  account would send those a verification code the stand-in cannot (the registrant's own mailbox
  would tell). Hiding needs the schema of Kratos's email-password quickstart: one trait that is
  the password identifier (and its verification and recovery address, if any).

Each covered method whose `after` hooks include one of those, or every covered method when the
default schema (or one selectable with `?identity_schema=`) is of that kind, keeps 4000007, and
start-up says so once with the config keys to look at (never their values). Interrupting web hooks
run before the account is created, on both kinds of submission alike; `show_verification_ui` points to a
verification flow either way (the stand-in's is real, and no code is ever sent for it).

Covered: `password`, in one step and as the credential step of `profile_first` registration.
Not covered, keeping 4000007: `code` (the registrant proves the address by the code sent to it
before anything is created, and an address's owner learns nothing new), `passkey` and `webauthn`
(their key is registered during the submission, so a stand-in would need a ceremony of its own),
and `oidc`, where an existing address leads to account linking (Kratos's 1010016).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from services.selfservice.config import SelfserviceConfig
from services.selfservice.flows.even_time import SlowestRecent
from services.selfservice.flows.registration.existing_account import ExistingAccounts
from services.selfservice.flows.registration.login_hints import LoginHints
from services.selfservice.hooks.web_hook_calls import WebHooks
from services.selfservice.traits import TraitSchemas

log = logging.getLogger(__name__)

KEY = "security.account_enumeration.mitigate"
LOGIN_HINTS = "selfservice.flows.registration.login_hints"
COVERED_METHODS = ("password",)
# Not covered, and telling a registrant of an existing identifier so before any proof: the key is
# registered during the submission. (`code` proves the address first; `oidc` leads to linking.)
REVEALING_METHODS = ("passkey", "webauthn")
FLOW = "selfservice.flows.registration"


@dataclass(frozen=True)
class RegistrationEnumeration:
    accounts: ExistingAccounts
    hidden_methods: frozenset[str] = frozenset()  # methods that answer an existing account as a new one
    clock: SlowestRecent = field(default_factory=SlowestRecent)
    # What a registration that does collide adds to 4000007: how the account signs in (login_hints.py).
    # None unless `login_hints` is on, and always None under the mitigation (`login_hints` below).
    hints: LoginHints | None = None

    def hides(self, method: str) -> bool:
        return method in self.hidden_methods

    def held(self, method: str) -> AbstractAsyncContextManager[None]:
        """Where a registration by `method` is hidden, holds its answer to the slowest recent one's
        time (even_time.py): the same moment whether it created an account or stood one in."""
        return self.clock.held() if self.hides(method) else nullcontext()


def login_hints(settings: Any, accounts: ExistingAccounts) -> LoginHints | None:
    """`selfservice.flows.registration.login_hints`, unless the mitigation is on: hints name an
    account's ways in, which is what the mitigation keeps to the account's owner, and they would
    come with the 4000007 of every method it cannot hide. Start-up says so once."""
    if not settings.get(LOGIN_HINTS):
        return None
    if settings.get(KEY):
        log.warning(
            "%s is on, so %s is not: a registration with an existing identifier gives no login hints "
            "(docs/security.md).",
            KEY,
            LOGIN_HINTS,
        )
        return None
    return LoginHints(accounts.identities)


def hidden_methods(
    settings: Any, config: SelfserviceConfig, web_hooks: WebHooks, schemas: TraitSchemas, enabled: Iterable[str]
) -> frozenset[str]:
    """The enabled registration methods that hide existing accounts; a warning for each covered
    one that cannot, naming the keys of the hooks (or the schema) in the way."""
    if not settings.get(KEY):
        return frozenset()
    enabled = set(enabled)  # read twice below: a generator would be empty the second time
    revealing = sorted(set(REVEALING_METHODS) & enabled)
    if revealing:
        log.warning(
            "%s is on, but registration by %s is not covered: a registration with an existing "
            "identifier keeps Kratos's answer (4000007) there (docs/security.md).",
            KEY,
            " and ".join(revealing),
        )
    hidden = set()
    in_the_way = _schema_blocker(schemas)
    for method in sorted(set(COVERED_METHODS) & enabled):
        blockers = ([in_the_way] if in_the_way else []) + list(_blockers(config, web_hooks, method))
        if blockers:
            log.warning(
                "%s is on, but registration by %s cannot hide existing accounts: %s run after "
                "registration and need the account to exist. A registration with an existing "
                "identifier keeps Kratos's answer (4000007) for this method.",
                KEY,
                method,
                ", ".join(blockers),
            )
        else:
            hidden.add(method)
    return frozenset(hidden)


def _schema_blocker(schemas: TraitSchemas) -> str | None:
    """The first identity schema a registration may use (the default, or one selectable with
    `?identity_schema=`), named, whose traits carry identifiers or addresses other than one password
    identifier (see the module's docstring)."""
    for schema_id in schemas.self_service:
        paths = schemas.protected_paths(schema_id)
        fields = {f.path: f for f in schemas.fields(schema_id)}
        only = fields.get(paths[0]) if len(paths) == 1 else None
        if only is None or not only.is_identifier("password") or not _one_string(only.schema):
            return (
                f"identity.schemas ({schema_id}: its traits carry identifiers or addresses other than "
                "one password identifier, and a registration colliding on one would bring addresses of its own)"
            )
    return None


# What could let one trait hold several values, or other shapes than the one it declares: a
# `{"$ref": …}` field is refused too, though it may well be a string (the check stays simple).
_SHAPES_BEYOND_ONE = ("items", "prefixItems", "additionalItems", "anyOf", "oneOf", "allOf", "$ref", "if", "not")


def _one_string(schema: dict[str, Any]) -> bool:
    """Whether the trait holds exactly one string: `type: string` and nothing that widens it."""
    return schema.get("type") == "string" and not any(key in schema for key in _SHAPES_BEYOND_ONE)


def _blockers(config: SelfserviceConfig, web_hooks: WebHooks, method: str) -> Iterator[str]:
    """The config keys of the `after` hooks that make hiding impossible, with what each is: those of
    the one list the method's registration runs (its own, or else the flow-wide one)."""
    path = config.hooks_key("registration", "after", method)
    for index, entry in enumerate(config.hooks("registration", "after", method)):
        name = entry.get("hook") if isinstance(entry, dict) else None
        if name == "session" or (name == "web_hook" and not web_hooks.spec_for(entry.get("config") or {}).interrupts):
            yield f"{FLOW}.{path}[{index}] ({'a session hook' if name == 'session' else 'a web_hook'})"
