"""`return_to` is honoured only under an allowed URL: same scheme and host, and the allowed path or
below it, with nothing the browser would read differently from the check."""

from __future__ import annotations

import pytest

from services.selfservice.config import SelfserviceConfig


def _config() -> SelfserviceConfig:
    return SelfserviceConfig(
        public_base_url="http://127.0.0.1:4433/",
        default_return_url="http://127.0.0.1:4455/welcome",
        allowed_return_urls=("https://app.example.com/account",),
        error_ui_url="",
        logout_return_url=None,
        flows={},
        methods={},
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/account",
        "https://app.example.com/account/",
        "https://app.example.com/account/settings?x=1",
        "https://app.example.com/account/settings?next=%2Fhome%2F..%2Fx",
        "https://app.example.com/account/a%20b/.well-known",
        "http://127.0.0.1:4455/welcome",
        "http://127.0.0.1:4433/ui/login",
    ],
)
def test_allowed(url: str) -> None:
    assert _config().return_to_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/account-evil",
        "https://app.example.com/account/../admin",
        "https://app.example.com/account/%2e%2e/admin",
        "https://app.example.com/account/.%2E/admin",
        "https://app.example.com/account/./x",
        "https://app.example.com/attacker-area/..%2faccount",
        "https://app.example.com/attacker-area/..%2Faccount",
        "https://app.example.com/account%2f..%2f..%2fattacker-area",
        "https://app.example.com/account%5cx",
        "https://app.example.com.evil.com/account",
        "https://app.example.com@evil.com/account",
        "https://user:pw@app.example.com/account",
        "//app.example.com/account",
        "http://app.example.com/account",
        "javascript:alert(1)",
        "https://app.example.com/account\r\nSet-Cookie: x=y",
        "https://app.example.com/account\\@evil.com",
        "https://app.example.com/account\t",
        "http://[",
        "https://app.example.com\uff0f@evil.example/account",
    ],
)
def test_refused(url: str) -> None:
    assert not _config().return_to_allowed(url)


def test_finding_17_a_relative_return_to_is_resolved_on_the_default_return_url_as_kratos_does() -> None:
    config = _config()
    assert config.absolute_return_to("/welcome/next?x=1") == "http://127.0.0.1:4455/welcome/next?x=1"
    assert config.return_to_allowed(config.absolute_return_to("/welcome/next?x=1"))
    # Still checked: outside the allowed paths, or a host in disguise, it is refused.
    for url in ("/admin", "//evil.example/welcome", "/\\evil.example/welcome", "welcome", "/welcome/../admin"):
        assert not config.return_to_allowed(config.absolute_return_to(url)), url
