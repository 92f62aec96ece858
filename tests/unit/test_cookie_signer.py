"""The session cookie's signature covers the expiry it carries (shared/cookies.py): whoami trusts that
expiry to decide whether to set the cookie again, so a changed one must not verify."""

from __future__ import annotations

from shared.cookies import CookieSigner, SignedCookie

TOKEN = "ory_st_" + "A" * 43
SIGNER = CookieSigner(["first-cookie-secret-0123456789", "older-cookie-secret-0123456789"])


def test_a_cookie_opens_to_its_token_and_expiry() -> None:
    assert SIGNER.open(SIGNER.sign(TOKEN, 1_900_000_000)) == SignedCookie(TOKEN, 1_900_000_000)
    assert SIGNER.verify(SIGNER.sign(TOKEN, 1_900_000_000)) == TOKEN


def test_a_cookie_signed_before_the_expiry_was_still_verifies_without_one() -> None:
    assert SIGNER.open(SIGNER.sign(TOKEN)) == SignedCookie(TOKEN, None)
    assert SIGNER.open(CookieSigner(["older-cookie-secret-0123456789"]).sign(TOKEN)) == SignedCookie(TOKEN, None)


def test_a_changed_expiry_or_token_does_not_verify() -> None:
    token, expires_at, mac = SIGNER.sign(TOKEN, 1_900_000_000).split(".")
    assert SIGNER.open(f"{token}.1999999999.{mac}") is None
    assert SIGNER.open(f"{token}.{mac}") is None, "the expiry cannot be dropped either"
    assert SIGNER.open(f"{token}x.{expires_at}.{mac}") is None
    assert SIGNER.open(f"{token}.{expires_at}") is None
