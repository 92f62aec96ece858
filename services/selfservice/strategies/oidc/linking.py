"""`account_linking_mode` of a provider (Kratos's `AccountLinkingMode`): what a social sign-in
whose email an existing account has does, when no account has the provider's subject yet.

- `confirm_with_existing_credential` (the default, Kratos's too): nothing is linked on the email
  alone. The user is sent to sign in to that account with a credential it has (message 1010016),
  and the provider is linked after that sign-in (flows.py, login/hook.py).
- `automatic`: the provider is linked and the account signed in at once, without that sign-in, but
  only where Kratos allows it (Ory's docs and API: "only supported for `apple` and `google`
  providers", Google consumer accounts alone) and only on what this module checks; anything short
  of it falls back to the default, never to a refusal. There is no third mode in Kratos.

Automatic linking trusts the provider's word that its user owns the mailbox, so every condition
here is the provider's own signed claims (the ID token, or userinfo with `claims_source:
userinfo`), never the mapper's output, a form's traits or an email-shaped subject:

- the provider's type is `google` or `apple`: they verify the addresses they vouch for; the other
  types fail start-up with `automatic` (config.py), since Kratos supports it for none of them;
- `email_verified` is true (Apple's "true" string counts, as normalized in providers/base.py);
- for Google, a consumer (`@gmail.com`) address and no `hd` claim: a Google Workspace domain can
  lapse and be bought, and its new owner can then mint verified Google accounts on its addresses;
- the address is the same once folded as the identity service folds it (shared/identifiers.py) but
  for case: an address that only folding makes equal (full-width letters, invisible characters)
  belongs to another domain or mailbox, maybe one an attacker registered to look like it;
- the account holding it has that address *verified* (by a code or link Warden sent, or by a
  provider the operator's mapper trusts with `verified_addresses`, as Kratos does): an address
  typed at a sign-up and never proved may be an attacker's pre-registration of the victim's
  address, which linking would hand the victim's social sign-in to, with the attacker's password
  still in it;
- the account has no other subject of this provider already: that is another account at the
  provider, so the owner confirms as usual.

What follows is the default's last step, unchanged (flows.py): a login of the account by this
provider, with the link pending on it, made by the login hook once the session meets
`session.whoami.required_aal`: the same hooks, events and second-factor wait as a link after
signing in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.clients.ports import IdentityClient
from shared.identifiers import fold_address

if TYPE_CHECKING:
    from services.selfservice.strategies.oidc.config import ProviderConfig
    from services.selfservice.strategies.oidc.providers import Claims

CONFIRM = "confirm_with_existing_credential"
AUTOMATIC = "automatic"
MODES = (CONFIRM, AUTOMATIC)
# The provider types Kratos links automatically for.
AUTOMATIC_TYPES = frozenset({"google", "apple"})
_GOOGLE_CONSUMER = "@gmail.com"


def vouched_email(provider: ProviderConfig, claims: Claims) -> str | None:
    """The address the provider vouches for, folded as the identity service stores it, when its
    mode and its claims allow automatic linking; else None."""
    if provider.account_linking_mode != AUTOMATIC or provider.provider not in AUTOMATIC_TYPES:
        return None
    email, verified = claims.values.get("email"), claims.values.get("email_verified")
    if verified is not True or not isinstance(email, str) or "@" not in email:
        return None
    folded = fold_address(email)
    if folded != email.strip().lower():
        return None
    if provider.provider == "google" and (claims.values.get("hd") or not folded.endswith(_GOOGLE_CONSUMER)):
        return None
    return folded


async def account_to_link(
    identities: IdentityClient, provider: ProviderConfig, claims: Claims
) -> dict[str, Any] | None:
    """The account automatic linking attaches this sign-in to, or None (the default applies)."""
    email = vouched_email(provider, claims)
    if email is None:
        return None
    holder = await identities.find_by_address("verification", "email", email)
    if holder is None or not _proved(holder, email) or _has_provider(holder, provider.id):
        return None
    return holder


def _proved(holder: dict[str, Any], email: str) -> bool:
    return any(
        a.get("via") == "email" and a.get("verified") is True and fold_address(str(a.get("value") or "")) == email
        for a in holder.get("verifiable_addresses") or []
    )


def _has_provider(holder: dict[str, Any], provider_id: str) -> bool:
    credential = (holder.get("credentials") or {}).get("oidc") or {}
    return any(str(i).startswith(f"{provider_id}:") for i in credential.get("identifiers") or [])
