"""What can go wrong between Warden and a social sign-in provider. None of it is the user's fault
to fix in a form, and none of it may become a 500: the strategy turns each into a flow message."""

from __future__ import annotations


class OidcError(Exception):
    """Logged with its reason (which never holds a token); the user sees a Kratos message."""


class ProviderFailed(OidcError):
    """The provider could not be reached, or answered something unusable."""


class TokenInvalid(OidcError):
    """An ID token whose signature, issuer, audience, expiry or nonce does not check out."""


class StateInvalid(OidcError):
    """A callback whose `state` is missing, unknown, already used or bound to another browser."""


class MapperFailed(OidcError):
    """The Jsonnet claims mapper failed or produced something that is not an identity."""
