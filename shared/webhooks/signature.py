"""Standard Webhooks signatures (standardwebhooks.com): what the event sink sends and what a
receiver checks.

    webhook-id:        the delivery's id (the same on every retry: receivers deduplicate by it)
    webhook-timestamp: Unix seconds when this attempt was signed
    webhook-signature: v1,<base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))>

A secret written `whsec_<base64>` (the Standard Webhooks form) signs with the decoded bytes; any
other secret signs with its UTF-8 bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        return base64.b64decode(secret[len(PREFIX) :])
    return secret.encode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }
