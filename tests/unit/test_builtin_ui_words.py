"""The built-in UI's words and colours, without a server: messages as sentences (whole minutes,
singular counts), times in words, traits by their schema titles, and brand colours that stay
readable (WCAG AA)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.selfservice.traits import TraitSchemas
from services.selfservice.ui.brand import Brand, contrast
from services.selfservice.ui.welcome import STRENGTH, labelled_traits, moment, unverified
from services.selfservice.ui.wording import sentence
from tests.factories import EMAIL_SCHEMA

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_messages_read_as_sentences_with_whole_minutes_and_right_plurals() -> None:
    recovered = (
        "You successfully recovered your account. Please change your password or set up an alternative "
        "login method (e.g. social sign in) within the next 59.98 minutes."
    )
    assert sentence(recovered).endswith("within the next 60 minutes.")
    assert sentence("The login flow expired 0.40 minutes ago, please try again.") == (
        "The login flow expired 1 minute ago, please try again."
    )
    assert sentence("Too many attempts. Please try again in 1 seconds.").endswith("in 1 second.")
    assert sentence("Too many attempts. Please try again in 11 seconds.").endswith("in 11 seconds.")
    assert sentence("length must be >= 1, but got 0") == "Length must be >= 1, but got 0"
    assert sentence("minimum 1 items allowed, but found 0 items") == "Minimum 1 item allowed, but found 0 items"
    assert sentence("the request was rejected") == "The request was rejected"
    assert sentence(None) == ""


def test_times_read_in_words_with_the_exact_time_kept() -> None:
    signed_in = moment("2026-12-03T11:57:00.5Z", NOW)
    assert signed_in is not None and signed_in.words == "3 minutes ago"
    assert signed_in.iso == "2026-12-03T11:57:00.500000+00:00" and signed_in.exact == "3 December 2026, 11:57 UTC"
    assert moment((NOW + timedelta(hours=23, minutes=59)).isoformat(), NOW).words == "a day from now"  # type: ignore[union-attr]
    assert moment(NOW.isoformat(), NOW).words == "just now"  # type: ignore[union-attr]
    assert moment("not a time", NOW) is None
    assert STRENGTH["aal1"] == "Single-factor" and STRENGTH["aal2"] == "Two-factor"


def test_traits_are_labelled_by_schema_titles() -> None:
    schemas = TraitSchemas({"default": EMAIL_SCHEMA}, "default")
    identity = {"schema_id": "default", "traits": {"email": "a@example.com", "name": {"first": "Ada", "last": ""}}}
    assert labelled_traits(schemas, identity) == [("E-Mail", "a@example.com"), ("First", "Ada")]
    assert labelled_traits(schemas, {"traits": {"nickname": "ada"}}) == [("Nickname", "ada")], "not in the schema"
    assert unverified({"verifiable_addresses": [{"verified": True}, {"verified": False}]})
    assert not unverified({"verifiable_addresses": [{"verified": True}]}) and not unverified({})


def test_brand_colours_stay_readable() -> None:
    default = Brand()
    assert contrast(default.accent_color, "#ffffff") >= 4.5
    assert b"--on-accent: #ffffff" in default.stylesheet()
    assert b"--on-accent: #000000" in Brand(accent_color="#ffcc00").stylesheet(), "dark text on a light accent"
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0 and contrast("#777777", "#777777") == 1.0
    assert Brand(logo_url="/static/logo.png").image_source == "", "same origin: 'self' covers it"
    assert Brand(logo_url="data:image/png;base64,AAAA").image_source == "", "data: is allowed already"
    assert Brand(logo_url="https://cdn.example.com:8443/a.png").image_source == "https://cdn.example.com:8443"


def test_brand_from_config_normalises_the_colour() -> None:
    class Settings:
        def get(self, key: str, default: object = None) -> object:
            return {"ui.brand.accent_color": "#0A7", "ui.brand.name": "Acme ID"}.get(key, default)

    brand = Brand.from_settings(Settings())
    assert (brand.name, brand.accent_color, brand.logo_url) == ("Acme ID", "#00aa77", "")
