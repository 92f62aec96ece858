"""A provider's second factor as the session's (`aal2_acr_values`, `aal2_amr_values` of
`selfservice.methods.oidc.config.providers[]`), against a real OpenID provider (panva's
oidc-provider, tests/oidc/op.mjs) whose ID tokens carry `acr` and `amr`: a login starting with
"strong" signs in there with a second factor (`acr` urn:warden:test:mfa, `amr` pwd+otp), one
starting with "weak" with a password alone (`acr` urn:warden:test:pwd, `amr` pwd).

Three providers at the same OpenID provider: one trusting its `acr`, one its `amr`, one neither.
Sessions are read as a user's client reads them (`/sessions/whoami`); `session.whoami.required_aal`
is `highest_available`, so an account with TOTP shows whether the social sign-in counted as its
second factor. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_oidc import CALLBACK, CIPHER_SECRET, _provider, _to_provider
from tests.oidc.provider import ProviderUser, RunningProvider, openid_provider
from tests.selfservice_helpers import RETURN_URL, Browser, database, selfservice_settings

ACR_MFA, ACR_PWD = "urn:warden:test:mfa", "urn:warden:test:pwd"
SCOPE = ["openid", "email", "profile"]


@pytest.fixture(scope="module")
def op() -> Iterator[RunningProvider]:
    with openid_provider([f"{CALLBACK}/by-acr", f"{CALLBACK}/by-amr", f"{CALLBACK}/plain"]) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, op: RunningProvider
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("oidc-upstream-aal")
    providers = [
        _provider("by-acr", "generic", op, op.issuer, scope=SCOPE, aal2_acr_values=[ACR_MFA, "urn:other:strong"]),
        _provider("by-amr", "generic", op, op.issuer, scope=SCOPE, aal2_amr_values=["otp", "hwk"]),
        _provider("plain", "generic", op, op.issuer, scope=SCOPE),
    ]
    with database(request.param, directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods={"oidc": {"enabled": True, "config": {"providers": providers}}, "totp": {"enabled": True}},
            flows={"registration": {"after": {"oidc": {"hooks": [{"hook": "session"}]}}}},
            secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
            session={"lifespan": "2h", "whoami": {"required_aal": "highest_available"}},
        )
        with running_warden(settings) as running:
            yield running


def _login(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _signed_in(warden: ThreadedWarden, op: RunningProvider, kind: str, provider: str, login: str) -> Browser:
    """A browser that went through `kind` (registration or login) at `provider` as `login`, and
    came back to the app."""
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, kind, provider), login))
    assert back.status == 303 and back.location == RETURN_URL, back
    return browser


def _session(browser: Browser) -> dict[str, Any]:
    answer = browser.get("/sessions/whoami", as_json=True)
    assert answer.status == 200, answer
    return answer.json()


def _methods(session: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "completed_at"} for m in session["authentication_methods"]]


def test_a_second_factor_the_provider_names_in_acr_makes_the_session_aal2(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = _login("strong")
    signed_up = _session(_signed_in(warden, op, "registration", "by-acr", login))
    assert signed_up["authenticator_assurance_level"] == "aal2", signed_up["authentication_methods"]
    assert _methods(signed_up) == [
        {"method": "oidc", "aal": "aal2", "provider": "by-acr", "upstream_acr": ACR_MFA, "upstream_amr": ["pwd", "otp"]}
    ]
    signed_in = _session(_signed_in(warden, op, "login", "by-acr", login))
    assert signed_in["identity"]["id"] == signed_up["identity"]["id"]
    assert signed_in["authenticator_assurance_level"] == "aal2"
    assert [m["aal"] for m in signed_in["authentication_methods"]] == ["aal2"]


def test_an_acr_the_provider_does_not_list_leaves_the_session_aal1_and_is_shown(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    session = _session(_signed_in(warden, op, "registration", "by-acr", _login("weak")))
    assert session["authenticator_assurance_level"] == "aal1"
    assert _methods(session) == [
        {"method": "oidc", "aal": "aal1", "provider": "by-acr", "upstream_acr": ACR_PWD, "upstream_amr": ["pwd"]}
    ]


def test_an_empty_amr_is_not_shown_on_the_session_s_method(warden: ThreadedWarden, op: RunningProvider) -> None:
    """Kratos's `upstream_amr` is `omitempty`: a provider's `amr: []` leaves the field out."""
    session = _session(_signed_in(warden, op, "registration", "by-amr", _login("noamr")))
    assert session["authenticator_assurance_level"] == "aal1"
    assert _methods(session) == [{"method": "oidc", "aal": "aal1", "provider": "by-amr", "upstream_acr": ACR_PWD}]


def test_any_listed_amr_value_makes_the_session_aal2_and_a_password_alone_does_not(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    strong = _session(_signed_in(warden, op, "registration", "by-amr", _login("strong")))
    assert strong["authenticator_assurance_level"] == "aal2"
    assert _methods(strong)[0]["aal"] == "aal2" and _methods(strong)[0]["upstream_amr"] == ["pwd", "otp"]
    weak = _session(_signed_in(warden, op, "registration", "by-amr", _login("weak")))
    assert weak["authenticator_assurance_level"] == "aal1"
    assert _methods(weak)[0]["aal"] == "aal1"


def test_without_aal2_values_a_provider_s_claims_never_raise_the_session(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = _login("strong")
    for kind in ("registration", "login"):
        session = _session(_signed_in(warden, op, kind, "plain", login))
        assert session["authenticator_assurance_level"] == "aal1"
        assert _methods(session) == [
            {
                "method": "oidc",
                "aal": "aal1",
                "provider": "plain",
                "upstream_acr": ACR_MFA,
                "upstream_amr": ["pwd", "otp"],
            }
        ]


def _account_with_totp(warden: ThreadedWarden, provider: str, login: str) -> str:
    """An account whose way in is `provider` (subject `login`), with TOTP as its second factor."""
    secret = pyotp.random_base32()
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": f"{login}@example.com"},
            "credentials": {
                "oidc": {"config": {"providers": [{"provider": provider, "subject": login}]}},
                "totp": {"config": {"totp_url": f"otpauth://totp/Warden:{login}?secret={secret}&issuer=Warden"}},
            },
        },
    )
    assert created.status == 201, created.data
    return str(created.json()["id"])


def test_an_account_with_totp_needs_no_code_after_the_provider_s_second_factor(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = _login("strong")
    identity_id = _account_with_totp(warden, "by-acr", login)
    session = _session(_signed_in(warden, op, "login", "by-acr", login))
    assert session["identity"]["id"] == identity_id
    assert session["authenticator_assurance_level"] == "aal2"


def test_an_account_with_totp_is_asked_for_its_code_after_a_password_alone_at_the_provider(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = _login("weak")
    _account_with_totp(warden, "by-acr", login)
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "login", "by-acr"), login))
    assert back.status == 303 and "/self-service/login/browser?aal=aal2" in back.location, back
    refused = browser.get("/sessions/whoami", as_json=True)
    assert refused.status == 403 and refused.json()["error"]["id"] == "session_aal2_required", refused
