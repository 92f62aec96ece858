"""The relying party the passkey and webauthn methods verify against, read from `config.rp` as
Kratos reads it (`driver/config.go` WebAuthnConfig / PasskeyConfig)."""

from __future__ import annotations

from services.selfservice.strategies.passkey.ceremony import RelyingParty

BASE = "https://auth.example.com:4433/"


def _rp(method: str, rp: dict[str, object] | None) -> RelyingParty:
    settings = {f"selfservice.methods.{method}.config.rp": rp} if rp is not None else {}
    return RelyingParty.from_settings(settings, method, BASE)


def test_origins_default_to_the_rp_id_under_the_public_scheme() -> None:
    # Kratos: origins default to [scheme + "://" + rp.id], not to the public URL's own origin.
    for method in ("passkey", "webauthn"):
        assert _rp(method, {"id": "example.com", "display_name": "Ex"}).origins == ("https://example.com",)


def test_given_origins_win_and_origin_is_the_older_single_form() -> None:
    given = {"id": "example.com", "origins": ["https://a.example.com/", "https://b.example.com"]}
    assert _rp("passkey", given).origins == ("https://a.example.com", "https://b.example.com")
    assert _rp("webauthn", {"id": "example.com", "origin": "https://login.example.com"}).origins == (
        "https://login.example.com",
    )


def test_without_an_rp_the_public_url_serves_a_local_setup() -> None:
    rp = _rp("passkey", None)
    assert (rp.id, rp.origins, rp.display_name) == ("auth.example.com", ("https://auth.example.com:4433",), "Warden")
