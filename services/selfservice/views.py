"""Identity JSON as self-service answers show it."""

from __future__ import annotations

from typing import Any


def public_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """No credentials' details and no admin metadata leave through the public port."""
    return {k: v for k, v in identity.items() if k not in ("credentials", "metadata_admin")}
