"""Encryption at rest with `secrets.cipher`: the HChaCha20 vector of draft-irtf-cfrg-xchacha, round
trips, key rotation, tampering, and which algorithm a config gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cipher import AesGcm, DecryptionFailed, Plain, XChaCha20Poly1305, cipher_from_settings, hchacha20
from shared.config import Settings, load_settings
from shared.errors import ConfigError
from tests.factories import write_config

KEY_A = "a" * 32
KEY_B = "0123456789abcdef0123456789abcdef"


def test_hchacha20_matches_the_drafts_test_vector() -> None:
    key = bytes(range(32))
    nonce = bytes.fromhex("000000090000004a0000000031415927")
    assert hchacha20(key, nonce).hex() == ("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")


@pytest.mark.parametrize("kind", [XChaCha20Poly1305, AesGcm])
def test_a_value_round_trips_and_never_repeats_its_ciphertext(kind: type[AesGcm]) -> None:
    cipher = kind([KEY_A.encode()])
    first, second = cipher.encrypt("JBSWY3DPEHPK3PXP"), cipher.encrypt("JBSWY3DPEHPK3PXP")
    assert first != second and "JBSWY3DPEHPK3PXP" not in first
    assert cipher.decrypt(first) == cipher.decrypt(second) == "JBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("kind", [XChaCha20Poly1305, AesGcm])
def test_older_secrets_still_decrypt_after_rotation(kind: type[AesGcm]) -> None:
    stored = kind([KEY_A.encode()]).encrypt("seed")
    rotated = kind([KEY_B.encode(), KEY_A.encode()])
    assert rotated.decrypt(stored) == "seed"
    with pytest.raises(DecryptionFailed):
        kind([KEY_B.encode()]).decrypt(stored)


@pytest.mark.parametrize("kind", [XChaCha20Poly1305, AesGcm])
def test_a_tampered_value_is_refused(kind: type[AesGcm]) -> None:
    cipher = kind([KEY_A.encode()])
    stored = bytearray(bytes.fromhex(cipher.encrypt("token")))
    stored[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(stored.hex())
    with pytest.raises(DecryptionFailed):
        cipher.decrypt("not hex at all")


def _settings(tmp_path: Path, extra: dict[str, object]) -> Settings:
    return load_settings([write_config(tmp_path, "memory", extra)], {}, dev=True)


def test_a_cipher_secret_turns_encryption_on_with_xchacha_by_default(tmp_path: Path) -> None:
    assert isinstance(cipher_from_settings(_settings(tmp_path, {})), Plain)
    assert isinstance(cipher_from_settings(_settings(tmp_path, {"secrets": {"cipher": [KEY_A]}})), XChaCha20Poly1305)
    aes = {"secrets": {"cipher": [KEY_A]}, "ciphers": {"algorithm": "aes"}}
    assert isinstance(cipher_from_settings(_settings(tmp_path, aes)), AesGcm)


def test_an_algorithm_without_a_secret_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="secrets.cipher"):
        cipher_from_settings(_settings(tmp_path, {"ciphers": {"algorithm": "aes"}}))
