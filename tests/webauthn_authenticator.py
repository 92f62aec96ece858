"""A software WebAuthn authenticator for the tests: a P-256 key made with `cryptography`, the
authenticator data, a `none` attestation and assertions assembled byte by byte as the WebAuthn spec
(§6.1, §6.5, §8.7) lays them out, answered as a browser's PublicKeyCredential JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
import urllib3
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40  # user present, user verified, attested credential data included


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    origin: str
    rp_id: str | None = None  # what the authenticator signs for; None: the options' rp.id
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    user_handle: bytes = b""
    aaguid: bytes = bytes(16)
    verifies_user: bool = True  # False: a key with no PIN or biometrics, which only tests presence

    def cose_public_key(self) -> bytes:
        """The public key as a relying party stores it (for identities imported with this key)."""
        return self._cose_key()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _auth_data(self, rp_id: str, flags: int, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count)
        if attested:
            data += self.aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        return data

    def _flags(self) -> int:
        return UP | UV if self.verifies_user else UP

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        body = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(body).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create() for `{"publicKey": …}` as the flow gives it."""
        pk = options["publicKey"]
        self.user_handle = unb64url(pk["user"]["id"])
        rp_id = self.rp_id or pk["rp"]["id"]
        auth_data = self._auth_data(rp_id, self._flags() | AT, attested=True)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(self._client_data("webauthn.create", pk["challenge"], origin)),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(self, options: dict[str, Any], *, origin: str | None = None, count: int | None = None) -> dict[str, Any]:
        """navigator.credentials.get(): the counter moves on by one unless `count` sets it."""
        pk = options["publicKey"]
        self.sign_count = self.sign_count + 1 if count is None else count
        rp_id = self.rp_id or pk["rpId"]
        auth_data = self._auth_data(rp_id, self._flags(), attested=False)
        client_data = self._client_data("webauthn.get", pk["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle),
            },
        }


def post_flow(public_url: str, kind: str, flow_id: str, body: dict[str, Any], token: str | None = None) -> Any:
    """A JSON submission to a flow, as an app sends it: (status, body)."""
    headers = {"Accept": "application/json", **({"X-Session-Token": token} if token else {})}
    response = urllib3.request("POST", f"{public_url}/self-service/{kind}?flow={flow_id}", json=body, headers=headers)
    return response.status, json.loads(response.data)
