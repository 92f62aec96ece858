"""`selfservice.methods.code.config.missing_credential_fallback_enabled` (Kratos's
`findIdentityByIdentifier` in `code/strategy_login.go`): a migration path for accounts made before
their identity schema marked an address for the code method, or imported with only a password.

When no account has a code credential for the identifier typed at the passwordless login, Kratos
looks for one that has it as the identifier of any credential (a password's, say) and sends the
code to the identifier itself, by email. Entering the code signs that account in and proves the
address if it is one of its verifiable ones; the account still has no code credential afterwards
(Kratos writes none: the next write from the schema would drop it again).

Warden does the same, with one narrowing: only an email address receives such a code (Kratos would
hand a username to the mailer as if it were one). The lookup is always made while the flag is on,
whether or not a code credential was found, so the answer's timing does not tell which kind of
account, if any, owns the identifier. The flag changes nothing at aal2, where Warden already offers
the identity's verified addresses whatever its credentials (`mfa.py`), nor at registration, which
writes the code credential."""

from __future__ import annotations

from typing import Any

from services.selfservice.codes import Recipient
from shared.clients.ports import ANY_CREDENTIAL, IdentityClient
from shared.identifiers import fold

KEY = "selfservice.methods.code.config.missing_credential_fallback_enabled"


async def account(identities: IdentityClient, identifier: str) -> dict[str, Any] | None:
    """The account holding `identifier` (an email address, as the code login normalised it) as the
    identifier of any of its credentials, or None."""
    if "@" not in identifier:
        return None
    return await identities.find_by_credential_identifier(ANY_CREDENTIAL, fold(identifier))


def recipient(identifier: str) -> Recipient:
    """Where the fallback sends the code: the identifier typed, by email, as Kratos does."""
    return Recipient(identifier, "email")
