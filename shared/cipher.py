"""Encryption at rest for secrets Warden must be able to read back (TOTP seeds, social sign-in
tokens), with `secrets.cipher` and `ciphers.algorithm` as Kratos defines them (`cipher/*.go`): the
first secret encrypts, every secret decrypts (rotation), and the stored text is the hex of
nonce ‖ ciphertext ‖ tag, so values Kratos encrypted decrypt here and the other way round.

Kratos's default algorithm is `noop` (plain text). Warden encrypts whenever a cipher secret is
configured: with XChaCha20-Poly1305 unless the config names an algorithm itself (DESIGN §9, closing
Kratos's gaps where the API is not affected).

`cryptography` has ChaCha20-Poly1305 with a 96-bit nonce but not the extended-nonce variant, so
XChaCha20 is built from it as draft-irtf-cfrg-xchacha specifies: HChaCha20 derives a subkey from
the key and the first 16 nonce bytes, and ChaCha20-Poly1305 runs under that subkey with the last 8.
HChaCha20 is the ChaCha20 block function without the final addition of the input state, so it is
read off one ChaCha20 keystream block by subtracting that (known) input again.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from shared.errors import ConfigError

_SIGMA = struct.unpack("<4I", b"expand 32-byte k")
_MASK = 0xFFFFFFFF
TAG_SIZE = 16  # Poly1305's and GCM's


class DecryptionFailed(Exception):
    """No configured secret opens the value: it was tampered with, or its key was rotated away."""


class Cipher(Protocol):
    algorithm: str

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, stored: str) -> str: ...


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    block = _Cipher(algorithms.ChaCha20(key, nonce16), mode=None).encryptor().update(bytes(64))
    out = struct.unpack("<16I", block)
    state = (*_SIGMA, *struct.unpack("<8I", key), *struct.unpack("<4I", nonce16))
    words = [(out[i] - state[i]) & _MASK for i in (0, 1, 2, 3, 12, 13, 14, 15)]
    return struct.pack("<8I", *words)


class _Aead:
    nonce_size = 12

    def __init__(self, keys: list[bytes]) -> None:
        self._keys = keys

    def seal(self, key: bytes, nonce: bytes, data: bytes) -> bytes:
        raise NotImplementedError

    def open(self, key: bytes, nonce: bytes, data: bytes) -> bytes:
        raise NotImplementedError

    def encrypt(self, plaintext: str) -> str:
        return self.encrypt_bytes(plaintext.encode()).hex()

    def decrypt(self, stored: str) -> str:
        try:
            raw = bytes.fromhex(stored)
        except ValueError:
            raise DecryptionFailed("the stored value is not hex") from None
        try:
            return self.decrypt_bytes(raw).decode()
        except UnicodeDecodeError:
            raise DecryptionFailed("the opened value is not UTF-8") from None

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        """nonce ‖ ciphertext ‖ tag under the first key: for a caller with its own text encoding
        (page tokens are base64url, shorter than hex in a URL)."""
        nonce = os.urandom(self.nonce_size)
        return nonce + self.seal(self._keys[0], nonce, plaintext)

    def decrypt_bytes(self, raw: bytes) -> bytes:
        if len(raw) < self.nonce_size + TAG_SIZE:
            raise DecryptionFailed("too short to be a sealed value")
        nonce, sealed = raw[: self.nonce_size], raw[self.nonce_size :]
        for key in self._keys:
            try:
                return self.open(key, nonce, sealed)
            except (InvalidTag, ValueError):
                continue
        raise DecryptionFailed("no configured secret opens the value")


class AesGcm(_Aead):
    algorithm = "aes"

    def seal(self, key: bytes, nonce: bytes, data: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, data, None)

    def open(self, key: bytes, nonce: bytes, data: bytes) -> bytes:
        return AESGCM(key).decrypt(nonce, data, None)


class XChaCha20Poly1305(_Aead):
    algorithm = "xchacha20-poly1305"
    nonce_size = 24

    def seal(self, key: bytes, nonce: bytes, data: bytes) -> bytes:
        return ChaCha20Poly1305(hchacha20(key, nonce[:16])).encrypt(bytes(4) + nonce[16:], data, None)

    def open(self, key: bytes, nonce: bytes, data: bytes) -> bytes:
        return ChaCha20Poly1305(hchacha20(key, nonce[:16])).decrypt(bytes(4) + nonce[16:], data, None)


class Plain:
    """`noop`: what Kratos does by default; only when no cipher secret is configured, or asked for."""

    algorithm = "noop"

    def encrypt(self, plaintext: str) -> str:
        return plaintext

    def decrypt(self, stored: str) -> str:
        return stored


def cipher_from_settings(settings: Any) -> Cipher:
    secrets = [s for s in (settings.get("secrets.cipher") or []) if isinstance(s, str)]
    configured = ((settings.raw.get("ciphers") or {}) if isinstance(settings.raw, dict) else {}).get("algorithm")
    algorithm = configured or ("xchacha20-poly1305" if secrets else "noop")
    if algorithm == "noop":
        return Plain()
    keys = [s.encode() for s in secrets if len(s.encode()) == 32]
    if not keys:
        raise ConfigError(f"config: secrets.cipher: ciphers.algorithm {algorithm} needs a secret of 32 characters")
    return AesGcm(keys) if algorithm == "aes" else XChaCha20Poly1305(keys)
