"""Page tokens (shared/page_tokens.py): sealed with the first secret in force, opened with any of
them, unreadable, and refused when tampered with or sealed under a secret not in force."""

from __future__ import annotations

import base64

import pytest

from shared.cipher import DecryptionFailed
from shared.config.settings import Secrets, Settings
from shared.page_tokens import BUILTIN_SECRET, PageTokens

IDENTITY_ID = "9f4b4a62-35f5-4d0f-9a5a-2b0d1f0b8e11"
OLD, NEW = "an-old-pagination-secret-0123456789", "a-new-pagination-secret-0123456789"


def settings(**secrets: list[str]) -> Settings:
    return Settings(dsn="memory", secrets=Secrets(**secrets))


def test_no_token_starts_like_a_command_line_option() -> None:
    """`warden identities list --page-token <the printed token>`: a token starting with `-` was taken
    for an option (one in 64, by its random nonce)."""
    tokens = PageTokens([NEW])
    sealed = [tokens.seal(IDENTITY_ID) for _ in range(1000)]
    assert not [token for token in sealed if token.startswith("-")]
    assert all(tokens.open(token) == IDENTITY_ID for token in sealed)


def test_a_token_opens_to_its_key_and_reads_as_nothing() -> None:
    tokens = PageTokens([NEW])
    token = tokens.seal(IDENTITY_ID)
    assert tokens.open(token) == IDENTITY_ID
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert IDENTITY_ID not in token and IDENTITY_ID.encode() not in raw
    assert base64.urlsafe_b64encode(IDENTITY_ID.encode()).decode().rstrip("=") not in token
    assert token.replace("-", "").replace("_", "").isalnum(), "base64url without padding: as it is in a URL"
    assert tokens.seal(IDENTITY_ID) != token, "a fresh nonce each time: equal keys give unequal tokens"


def test_the_first_secret_seals_and_any_listed_one_opens() -> None:
    before = PageTokens([OLD]).seal(IDENTITY_ID)
    rotated = PageTokens([NEW, OLD])
    assert rotated.open(before) == IDENTITY_ID, "a token handed out before the rotation pages on"
    after = rotated.seal(IDENTITY_ID)
    assert PageTokens([NEW]).open(after) == IDENTITY_ID
    with pytest.raises(DecryptionFailed):
        PageTokens([OLD]).open(after)  # sealed with the new secret, the first
    with pytest.raises(DecryptionFailed):
        PageTokens([NEW]).open(before)  # the old secret was dropped


def _flip(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: _flip(t, len(t) // 2),  # a ciphertext byte
        lambda t: _flip(t, 2),  # a nonce byte
        lambda t: _flip(t, len(t) - 2),  # a tag byte
        lambda t: t[:-4],  # cut short
        lambda t: t + "AAAA",  # lengthened
        lambda t: "",
        lambda t: "A",  # not base64
        lambda t: "é" + t,  # not ASCII
        lambda t: base64.urlsafe_b64encode(IDENTITY_ID.encode()).decode().rstrip("="),  # the old plain form
        lambda t: PageTokens(["someone-else-s-secret-0123456789"]).seal(IDENTITY_ID),  # foreign
    ],
)
def test_a_tampered_or_foreign_token_does_not_open(tamper) -> None:  # type: ignore[no-untyped-def]
    tokens = PageTokens([NEW])
    with pytest.raises(DecryptionFailed):
        tokens.open(tamper(tokens.seal(IDENTITY_ID)))


def test_the_secrets_in_force_are_pagination_then_default_then_built_in() -> None:
    configured = PageTokens.from_settings(settings(pagination=[NEW], default=[OLD]))
    assert PageTokens([NEW]).open(configured.seal("k")) == "k"
    from_default = PageTokens.from_settings(settings(default=[OLD, NEW], cookie=[NEW]))
    assert PageTokens([OLD]).open(from_default.seal("k")) == "k"
    out_of_the_box = PageTokens.from_settings(settings(cookie=[NEW]))
    assert PageTokens([BUILTIN_SECRET]).open(out_of_the_box.seal("k")) == "k"
    with pytest.raises(DecryptionFailed):  # only the secrets in force open: not the built-in one as well
        configured.open(out_of_the_box.seal("k"))


def test_processes_with_the_same_config_open_each_other_s_tokens() -> None:
    """Nothing per process: the session replicas and the services of a distributed deployment each
    build their own from the same config."""
    for secrets in ({"pagination": [NEW, OLD]}, {"default": [OLD]}, {}):
        one, other = PageTokens.from_settings(settings(**secrets)), PageTokens.from_settings(settings(**secrets))
        assert other.open(one.seal(IDENTITY_ID)) == IDENTITY_ID, secrets


def test_the_same_string_as_default_and_as_pagination_secret_seals_alike() -> None:
    """The derivation is per use (HKDF labelled for page tokens), not per config key: moving a
    secret from secrets.default to secrets.pagination keeps tokens opening."""
    assert (
        PageTokens.from_settings(settings(pagination=[OLD])).open(
            PageTokens.from_settings(settings(default=[OLD])).seal("k")
        )
        == "k"
    )


def test_no_secret_at_all_is_a_bug_not_a_silent_default() -> None:
    with pytest.raises(ValueError):
        PageTokens([])
