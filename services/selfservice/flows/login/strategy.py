"""What a method implements to join the login flow (Kratos's `login.Strategy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from shared import text


@dataclass(frozen=True)
class LoginOutcome:
    identity: dict[str, Any]
    method: dict[str, Any]  # {"method": "password", "aal": "aal1"}


@runtime_checkable
class LoginStrategy(Protocol):
    method: str

    def populate_login(self, flow: Flow) -> None:
        """Adds the method's nodes to a new login flow."""
        ...

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        """Authenticates a submission; on a fixable failure adds messages to the flow and raises FlowInvalid."""
        ...


@runtime_checkable
class RefreshesLogin(Protocol):
    """A method whose form for refreshing a session is not its login form (Kratos's
    `PopulateLoginMethodFirstFactorRefresh`, which is handed the session): it knows who signs in."""

    method: str

    async def populate_login_refresh(self, flow: Flow, identity_id: str) -> None:
        """Adds the method's nodes to a new aal1 refresh flow of the session of `identity_id`."""
        ...


def first_factor_only(flow: Flow) -> None:
    """Kratos's `login.CheckAAL(f, aal1)` at the start of every first-factor method: a login flow made
    for a second factor (`aal=aal2`) is not theirs to complete, so none answers it and the flow
    says 4010002, as when no method matches."""
    if flow.fields.get("requested_aal", "aal1") != "aal1":
        flow.ui.messages.append(text.no_login_strategy())
        raise FlowInvalid()


# flow.internal key of a credential waiting for the identity to sign in: {"method": …, LINK_OWNER: …, …}
LINK_AFTER_LOGIN = "link_after_login"
# In it: the account the credential may be linked to, the one that holds what the sign-in collided
# with (Kratos's `DuplicateIdentifier`): anyone else signing in on the flow is refused (login/hook.py).
LINK_OWNER = "link_owner"


def pending_link(method: str, owner_id: str | None, credential: dict[str, Any]) -> dict[str, Any]:
    """What LINK_AFTER_LOGIN holds: `credential`, for `method` to link to `owner_id` alone."""
    return {**credential, "method": method, LINK_OWNER: owner_id}


@runtime_checkable
class LinksAfterLogin(Protocol):
    """A method that can attach a credential to the identity once it has proven itself by another
    method (Kratos's account linking: a social sign-in whose email an existing account already has)."""

    method: str

    async def link_after_login(self, identity: dict[str, Any], pending: dict[str, Any]) -> dict[str, Any]:
        """Adds the pending credential; returns the updated identity."""
        ...
