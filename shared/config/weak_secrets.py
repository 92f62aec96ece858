"""Start-up warnings for secrets anyone can look up: the Kratos quickstarts', Warden's own
docker-compose and dev placeholders, and the `REPLACE-ME` values of the Kubernetes example. Each
warning names the key, never the value. A warning, not a refusal: the quickstarts must keep starting."""

from __future__ import annotations

from typing import Any

from shared.config.defaults import DEV_COOKIE_SECRET

PUBLISHED_SECRETS = frozenset(
    {
        "PLEASE-CHANGE-ME-I-AM-VERY-INSECURE",  # Kratos's quickstarts: secrets.cookie
        "32-LONG-SECRET-NOT-SECURE-AT-ALL",  # Kratos's quickstarts: secrets.cipher
        "dev-internal-token-do-not-use-in-production",  # docker-compose.yml's defaults
        "dev-cookie-secret-do-not-use-in-production",
        "dev-only-cipher-secret-32-chars!",
        DEV_COOKIE_SECRET,
    }
)
# Words that mark a placeholder someone forgot to replace.
PLACEHOLDER_WORDS = ("replace-me", "change-me", "changeme", "insecure", "not-secure", "do-not-use")


def is_published(secret: str) -> bool:
    lowered = secret.lower()
    return secret in PUBLISHED_SECRETS or any(word in lowered for word in PLACEHOLDER_WORDS)


def weak_secret_warnings(settings: Any, *, remote_services: bool) -> list[str]:
    """What to warn about at start-up. `remote_services`: this process calls services that run in
    other processes, through internal APIs that answer only the internal token."""
    found: list[str] = []
    for kind in ("default", "cookie", "cipher", "pagination"):
        for index, secret in enumerate(getattr(settings.secrets, kind)):
            if is_published(secret):
                found.append(f"secrets.{kind}[{index}] is a published example value: replace it before going live")
    token = settings.internal_token
    if token and is_published(token):
        found.append("services.internal_token is a published example value: replace it before going live")
    if remote_services and not token:
        found.append(
            "services.internal_token is not set: this process runs some services alone, and the others' "
            "internal APIs answer no call without the shared token"
        )
    return found
