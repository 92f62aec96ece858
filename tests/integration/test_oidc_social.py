"""Kratos's other social providers, each through a full browser sign-up and sign-in against the fake
that answers as that provider does (tests/oidc/social.py): the claims each one's user API (or ID
token and userinfo) yields, as a Jsonnet mapper sees them; the credential identifier
`<provider id>:<subject>`; and each provider's own rule (Facebook's `appsecret_proof`, LinkedIn's
issuer, Slack's and Spotify's granted scopes, VK ID's `device_id`, LINE's `id_token_key_type`,
DingTalk's JSON exchange, Salesforce's string `updated_at`, X's OAuth 1.0a, UAE PASS's Basic
client authentication, `acr_values` and forced PKCE). One SQLite Warden: what is tested here is
what the providers send, which no database changes."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_oidc import CALLBACK, _b64, _flow_after, _follow_fake, _owner, _to_provider, _whoami
from tests.integration.test_selfservice_browser import _csrf, _start
from tests.oidc.social import PHONE, SocialFake
from tests.selfservice_helpers import (
    ERROR_UI,
    RETURN_URL,
    Browser,
    database,
    message_ids,
    query_param,
    selfservice_settings,
)

# Every claim the mapper is given, but the raw ones, kept in metadata_public for the test to read.
MAPPER = _b64(
    """
local claims = std.extVar('claims');
{
  identity: {
    traits: { email: claims.email },
    metadata_public: { [k]: claims[k] for k in std.objectFields(claims) if k != 'raw_claims' },
    verified_addresses:
      if std.objectHas(claims, 'email_verified') && claims.email_verified
      then [{ via: 'email', value: claims.email }] else [],
  },
}
"""
)


# UAE PASS's whole userinfo answer, as `raw_claims`, for the test that it is kept.
RAW_MAPPER = _b64(
    """
local claims = std.extVar('claims');
{ identity: { traits: { email: claims.email }, metadata_public: { raw: claims.raw_claims } } }
"""
)


@pytest.fixture(scope="module")
def social() -> Iterator[SocialFake]:
    with SocialFake() as running:
        yield running


def _config(social: SocialFake, provider_id: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": provider_id,
        "provider": kind,
        "client_id": social.client_id,
        "client_secret": social.client_secret,
        "issuer_url": social.issuer,  # the fake stands in for the provider's hosts
        "mapper_url": MAPPER,
        **extra,
    }


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, social: SocialFake) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("oidc-social")
    providers = [
        _config(social, "facebook", "facebook"),
        _config(social, "linkedin", "linkedin", scope=["r_liteprofile", "r_emailaddress"]),
        _config(social, "linkedin_v2", "linkedin_v2", scope=["openid", "profile", "email"]),
        _config(social, "slack", "slack", scope=["identity.basic", "identity.email"]),
        _config(social, "slack-greedy", "slack", scope=["identity.basic", "identity.team"]),
        _config(social, "spotify", "spotify", scope=["user-read-email"]),
        _config(social, "amazon", "amazon", scope=["profile", "postal_code"]),
        _config(social, "yandex", "yandex"),
        _config(social, "vk", "vk", scope=["email"]),
        _config(social, "vk-id", "vk", scope=["email", "phone"], pkce="force"),
        _config(social, "patreon", "patreon", scope=["identity", "identity[email]"]),
        _config(social, "netid", "netid", scope=["email", "profile"]),
        _config(social, "line", "line", scope=["openid", "email", "profile"]),
        _config(social, "salesforce", "salesforce", scope=["openid", "email"]),
        _config(social, "dingtalk", "dingtalk", scope=["openid"]),
        _config(social, "lark", "lark"),
        _config(social, "x", "x", scope=["email"]),
        # A trailing slash, which Kratos trims from UAE PASS's base URL (and so from the issuer).
        _config(social, "uaepass", "uaepass", issuer_url=f"{social.issuer}/", scope=["urn:uae:digitalid:profile"]),
        _config(social, "uaepass-raw", "uaepass", pkce="never", mapper_url=RAW_MAPPER),
    ]
    with database("sqlite", directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods={"oidc": {"enabled": True, "config": {"providers": providers}}},
            flows={"registration": {"after": {"oidc": {"hooks": [{"hook": "session"}]}}}},
            secrets={
                "cookie": ["selfservice-tests-cookie-secret-0123456789"],
                "cipher": ["oidc-social-cipher-32-bytes!!!!!"],
            },
        )
        with running_warden(settings) as running:
            yield running


# What each provider's claims must be, from the fake's answers (`s`: the fake, its subject and email).
Expected = Callable[[SocialFake], dict[str, Any]]
EXPECTED: dict[str, Expected] = {
    "facebook": lambda s: {
        "iss": "https://graph.facebook.com/me",
        "sub": s.subject,
        "name": "Fay Book",
        "given_name": "Fay",
        "family_name": "Book",
        "nickname": "Fay Book",
        "preferred_username": "Fay Book",
        "picture": "https://fb.example/p.jpg",
        "email": s.email,
        "email_verified": True,
        "birthdate": "01/31/1990",
    },
    "linkedin": lambda s: {
        "iss": "https://login.linkedin.com/",
        "sub": s.subject,
        "email": s.email,
        "given_name": "Lin",
        "last_name": "Kedin",
        "picture": "https://media.licdn.example/2.jpg",  # the third rendition, as Kratos picks
    },
    "linkedin_v2": lambda s: {
        "iss": s.issuer,  # the ID token's, without the `/oauth` of the configured issuer
        "sub": s.subject,
        "name": "Lin Kedin",  # userinfo's, over the ID token's "Fake User"
        "given_name": "Lin",
        "family_name": "Kedin",
        "picture": "https://media.licdn.example/v2.jpg",
        "locale": "en-US",  # LinkedIn's {country, language}, as Kratos reads it
        "email": s.email,
        "email_verified": True,
    },
    "slack": lambda s: {
        "iss": "https://slack.com/oauth/",
        "sub": s.subject,
        "name": "Sam Slack",
        "nickname": "Sam Slack",
        "preferred_username": "Sam Slack",
        "email": s.email,
        "email_verified": True,
        "picture": "https://slack.example/512.png",
        "team": "T0FAKE",
    },
    "spotify": lambda s: {
        "iss": "https://accounts.spotify.com/api/token",
        "sub": s.subject,
        "name": "Spot Ify",
        "nickname": "Spot Ify",
        "email": s.email,
        "picture": "https://i.scdn.example/a.jpg",
        "profile": f"https://open.spotify.example/user/{s.subject}",
    },
    "amazon": lambda s: {
        "iss": "https://api.amazon.com/auth/o2/token",
        "sub": s.subject,
        "name": "Ama Zon",
        "email": s.email,
        "zoneinfo": "98109",  # Kratos puts the postal code there
    },
    "yandex": lambda s: {
        "iss": "https://login.yandex.ru/info",
        "sub": s.subject,
        "given_name": "Yan",
        "family_name": "Dex",
        "picture": "https://avatars.yandex.net/get-yapic/131652443/islands-200",
        "email": s.email,
        "phone_number": "+79037659418",
        "gender": "female",
        "birthdate": "1987-03-12",
    },
    "vk": lambda s: {
        "iss": "https://api.vk.com/method/users.get",
        "sub": "210700286",
        "given_name": "Vee",
        "family_name": "Ka",
        "nickname": "veeka",
        "picture": "https://sun.userapi.example/200.jpg",
        "email": s.email,  # from the token answer
        "gender": "female",
        "birthdate": "1990-01-02",
    },
    "vk-id": lambda s: {
        "iss": "https://api.vk.com/method/users.get",
        "sub": "210700286",
        "given_name": "Vee",
        "family_name": "Ka",
        "nickname": "veeka",
        "picture": "https://sun.userapi.example/200.jpg",
        "email": s.email,  # from VK ID's user_info
        "phone_number": f"+{PHONE}",
        "gender": "female",
        "birthdate": "1990-01-02",
    },
    "patreon": lambda s: {
        "iss": "https://www.patreon.com/",
        "sub": s.subject,
        "name": "Pat Reon",
        "email": s.email,
        "given_name": "Pat",
        "family_name": "Reon",
        "last_name": "Reon",
        "picture": "https://c8.patreon.example/a.png",
    },
    "netid": lambda s: {
        "iss": s.issuer,
        "sub": s.subject,
        "email": s.email,
        "email_verified": True,
        "given_name": "Net",  # userinfo's: the ID token has none
        "family_name": "Id",
    },
    "line": lambda s: {
        "iss": s.issuer,
        "sub": s.subject,
        "name": "Fake User",
        "email": s.email,
        "email_verified": True,
    },
    "salesforce": lambda s: {
        "iss": s.issuer,
        "sub": f"{s.issuer}/id/00Dxx0000001gPL/{s.subject}",
        "name": "Sales Force",
        "given_name": "Sales",
        "family_name": "Force",
        "preferred_username": s.email,
        "email": s.email,
        "email_verified": True,
        "updated_at": 1704164645,  # "2024-01-02T03:04:05Z", as the number the standard says
    },
    "dingtalk": lambda s: {
        "iss": "https://api.dingtalk.com/v1.0/contact/users/me",
        "sub": s.subject,
        "nickname": "Ding Talk",
        "name": "Ding Talk",
        "picture": "https://static-legacy.dingtalk.example/a.png",
        "email": s.email,
    },
    "lark": lambda s: {
        "iss": "https://passport.feishu.cn/suite/passport/oauth/userinfo",
        "sub": s.subject,  # open_id, not sub
        "name": "Lark Suite",
        "nickname": "Lark Suite",
        "picture": "https://lark.example/avatar.png",
        "email": s.email,
        "phone_number": "+8613800000000",
    },
    "x": lambda s: {
        "iss": "https://api.twitter.com/1.1/account/verify_credentials.json?include_email=true",
        "sub": s.subject,
        "name": "Ex Twitter",
        "picture": "https://pbs.twimg.example/normal.jpg",
        "email": s.email,  # asked for with `include_email`, since `email` is in the scope
        "preferred_username": "ex",
        "website": "https://ex.example",
    },
    "uaepass": lambda s: {
        "iss": s.issuer,  # the base URL, without the configured trailing slash
        "sub": s.subject,
        "email": s.email,
        "name": "Uae Pass Holder",  # fullnameEN
        "given_name": "Uae",
        "last_name": "Holder",  # Kratos's, not family_name
    },
}

# Where each provider sends the browser, on the fake's host.
AUTHORIZE_PATH = {
    "facebook": "/dialog/oauth",
    "linkedin": "/oauth/v2/authorization",
    "linkedin_v2": "/oauth/v2/authorization",
    "slack": "/oauth/authorize",
    "spotify": "/authorize",
    "amazon": "/ap/oa",
    "yandex": "/authorize",
    "vk": "/authorize",
    "vk-id": "/authorize",
    "patreon": "/oauth2/authorize",
    "netid": "/authorize",
    "line": "/authorize",
    "salesforce": "/services/oauth2/authorize",
    "dingtalk": "/oauth2/auth",
    "lark": "/suite/passport/oauth/authorize",
    "x": "/oauth/authenticate",
    "uaepass": "/idshub/authorize",
}


def _sign_in(warden: ThreadedWarden, kind: str, provider: str) -> tuple[Browser, str]:
    """A sign-in through `provider` that must succeed: the browser, and where Warden had sent it."""
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, kind, provider)
    done = browser.get(_follow_fake(authorize))
    assert done.status == 303 and done.location == RETURN_URL, done
    return browser, authorize


@pytest.mark.parametrize("provider", list(EXPECTED))
def test_sign_up_then_sign_in(warden: ThreadedWarden, social: SocialFake, provider: str) -> None:
    name = f"{provider}-{uuid.uuid4().hex[:8]}"
    social.subject, social.email = name, f"{name}@example.com"
    browser, authorize = _sign_in(warden, "registration", provider)
    assert authorize.startswith(f"{social.issuer}{AUTHORIZE_PATH[provider]}?"), authorize
    identity = _whoami(browser)["identity"]
    assert identity["traits"] == {"email": social.email}
    expected = EXPECTED[provider](social)
    assert identity["metadata_public"] == expected
    [address] = identity["verifiable_addresses"]
    assert address["verified"] is bool(expected.get("email_verified"))
    assert [i["id"] for i in _owner(warden, f"{provider}:{expected['sub']}")] == [identity["id"]]

    again, _ = _sign_in(warden, "login", provider)
    assert _whoami(again)["identity"]["id"] == identity["id"]


# --- each provider's own rule --------------------------------------------------------------------


def test_facebook_calls_the_graph_api_with_the_appsecret_proof(warden: ThreadedWarden, social: SocialFake) -> None:
    """The fake refuses a Graph call without the right proof, so the sign-in's success says it was
    right; this says what it was: HMAC-SHA256 of the access token, keyed with the app secret."""
    social.subject, social.email = f"fb-{uuid.uuid4().hex[:8]}", f"fb-{uuid.uuid4().hex[:8]}@example.com"
    _sign_in(warden, "registration", "facebook")
    query, token = social.graph_requests[-1]
    assert query["fields"] == "id,name,first_name,last_name,middle_name,email,picture,birthday,gender"
    proof = hmac.new(social.client_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    assert query == {"fields": query["fields"], "appsecret_proof": proof}  # the token itself only in the header


def test_slack_refuses_a_sign_in_without_every_configured_scope(warden: ThreadedWarden, social: SocialFake) -> None:
    social.subject, social.email = f"greedy-{uuid.uuid4().hex[:8]}", f"greedy-{uuid.uuid4().hex[:8]}@example.com"
    browser = Browser(warden.public_url)
    back = browser.get(_follow_fake(_to_provider(browser, "registration", "slack-greedy")))
    flow = _flow_after(browser, back.location, "registration")
    assert 4000001 in message_ids(flow)
    assert "identity.team" in flow["ui"]["messages"][0]["text"]
    assert _owner(warden, f"slack-greedy:{social.subject}") == []


def test_a_sign_in_that_would_sign_up_while_registration_is_off_says_so_in_kratoss_words(
    tmp_path: Path, social: SocialFake
) -> None:
    """Kratos answers an unknown provider account with ErrRegistrationDisabled as a form error: a
    4000001 whose reason UIs match to explain that the account is not linked."""
    reason = "Registration is not allowed because it was disabled."
    social.subject, social.email = f"unlinked-{uuid.uuid4().hex[:8]}", f"unlinked-{uuid.uuid4().hex[:8]}@example.com"
    settings = selfservice_settings(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        methods={"oidc": {"enabled": True, "config": {"providers": [_config(social, "facebook", "facebook")]}}},
        flows={"registration": {"enabled": False}},
        secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": ["c" * 32]},
    )
    with running_warden(settings) as warden:
        browser = Browser(warden.public_url)
        back = browser.get(_follow_fake(_to_provider(browser, "login", "facebook")))
        flow = _flow_after(browser, back.location, "login")
        [message] = flow["ui"]["messages"]
        assert message == {"id": 4000001, "text": reason, "type": "error", "context": {"reason": reason}}


def test_vk_id_repeats_the_callbacks_device_id_in_the_token_request(warden: ThreadedWarden, social: SocialFake) -> None:
    social.email = f"vkid-{uuid.uuid4().hex[:8]}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "vk-id")
    assert query_param(authorize, "code_challenge_method") == "S256"  # VK ID is VK with PKCE forced
    callback = _follow_fake(authorize)
    assert browser.get(callback).location == RETURN_URL
    assert social.token_requests[-1]["device_id"] == query_param(callback, "device_id")


def test_line_asks_for_an_id_token_signed_with_a_published_key(warden: ThreadedWarden, social: SocialFake) -> None:
    social.subject, social.email = f"line-{uuid.uuid4().hex[:8]}", f"line-{uuid.uuid4().hex[:8]}@example.com"
    _sign_in(warden, "registration", "line")
    assert social.token_requests[-1]["id_token_key_type"] == "JWK"


def test_dingtalk_trades_the_code_in_its_own_json_dialect(warden: ThreadedWarden, social: SocialFake) -> None:
    social.subject, social.email = f"ding-{uuid.uuid4().hex[:8]}", f"ding-{uuid.uuid4().hex[:8]}@example.com"
    browser, _ = _sign_in(warden, "registration", "dingtalk")
    assert set(social.token_requests[-1]) == {"clientId", "clientSecret", "code", "grantType"}
    assert _whoami(browser)["identity"]["traits"]["email"] == social.email


def test_patreon_asks_for_no_prompt_but_for_consent_when_the_login_is_a_refresh(
    warden: ThreadedWarden, social: SocialFake
) -> None:
    social.subject, social.email = f"pat-{uuid.uuid4().hex[:8]}", f"pat-{uuid.uuid4().hex[:8]}@example.com"
    browser, authorize = _sign_in(warden, "registration", "patreon")
    assert query_param(authorize, "prompt") == "none"
    refresh = _start(browser, "login", "?refresh=true")
    started = browser.post(refresh["ui"]["action"], {"csrf_token": _csrf(refresh), "provider": "patreon"})
    assert started.status == 303 and query_param(started.location, "prompt") == "consent", started
    upstream = {"csrf_token": _csrf(refresh), "provider": "patreon", "upstream_parameters.prompt": "login"}
    assert query_param(browser.post(refresh["ui"]["action"], upstream).location, "prompt") == "login"


def test_dingtalk_always_asks_for_consent(warden: ThreadedWarden) -> None:
    browser = Browser(warden.public_url)
    assert query_param(_to_provider(browser, "login", "dingtalk"), "prompt") == "consent"


def test_a_failing_user_api_that_takes_the_token_in_its_query_does_not_show_the_token(
    warden: ThreadedWarden, social: SocialFake
) -> None:
    """Yandex and VK want the access token in the query: the reason a failed call gives, which is
    logged and shown in the flow, names the URL without it."""
    social.user_api_down = True
    try:
        browser = Browser(warden.public_url)
        back = browser.get(_follow_fake(_to_provider(browser, "registration", "yandex")))
    finally:
        social.user_api_down = False
    [message] = _flow_after(browser, back.location, "registration")["ui"]["messages"]
    assert message["id"] == 4000001 and f"{social.issuer}/info answered 502" in message["text"], message
    assert "oauth_token" not in message["text"] and "fake-access-" not in message["text"]


def test_x_carries_the_flows_state_through_the_callback_url_it_registers(
    warden: ThreadedWarden, social: SocialFake
) -> None:
    """OAuth 1.0a has no `state`: the callback URL registered with the request token carries it (and
    a placeholder code), as Kratos does, so X's callback is bound to its flow and browser too."""
    social.subject, social.email = "1180001", f"x-{uuid.uuid4().hex[:8]}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "x")
    registered = social.x_requests[query_param(authorize, "oauth_token")]
    assert registered.startswith(f"{CALLBACK}/x?") and query_param(registered, "code") == "unused"
    assert query_param(registered, "state").startswith("registration:")
    back = _follow_fake(authorize)
    assert query_param(back, "state") == query_param(registered, "state") and query_param(back, "oauth_verifier")
    refused = Browser(warden.public_url).get(back)
    assert refused.status == 303 and refused.location.startswith(ERROR_UI), refused
    assert browser.get(back).location == RETURN_URL
    assert _whoami(browser)["identity"]["traits"]["email"] == social.email


def test_x_refused_by_the_user_is_a_flow_message(warden: ThreadedWarden, social: SocialFake) -> None:
    social.subject = "1180002"
    social.x_denies = True
    try:
        browser = Browser(warden.public_url)
        back = browser.get(_follow_fake(_to_provider(browser, "registration", "x")))
    finally:
        social.x_denies = False
    [message] = _flow_after(browser, back.location, "registration")["ui"]["messages"]
    assert message["id"] == 4000001 and "denied" in message["text"], message
    assert _owner(warden, "x:1180002") == []


def test_uaepass_asks_for_its_acr_forces_pkce_and_sends_the_client_s_credentials_in_a_basic_header(
    warden: ThreadedWarden, social: SocialFake
) -> None:
    """With `pkce` unset UAE PASS comes back, as in Kratos, to the generic callback; the token
    request carries the client's credentials in an HTTP Basic header and nowhere else."""
    social.subject, social.email = f"uae-{uuid.uuid4().hex[:8]}", f"uae-{uuid.uuid4().hex[:8]}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "uaepass")
    assert query_param(authorize, "acr_values") == "urn:safelayer:tws:policies:authentication:level:low"
    assert query_param(authorize, "code_challenge_method") == "S256" and query_param(authorize, "code_challenge")
    assert query_param(authorize, "redirect_uri") == CALLBACK
    assert query_param(authorize, "scope") == "urn:uae:digitalid:profile"
    back = _follow_fake(authorize)
    assert back.startswith(f"{CALLBACK}?"), back
    assert browser.get(back).location == RETURN_URL
    token_request = social.token_requests[-1]
    assert token_request["code_verifier"] and token_request["redirect_uri"] == CALLBACK
    assert "client_secret" not in token_request and "client_id" not in token_request
    assert social.basic_credentials[-1] == f"{social.client_id}:{social.client_secret}"


def test_uaepass_acr_values_give_way_to_upstream_parameters(warden: ThreadedWarden) -> None:
    """Kratos's way to ask for UAE PASS's app-to-app sign-in instead of the web one."""
    mobile = "urn:digitalid:authentication:flow:mobileondevice"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "login", "uaepass", **{"upstream_parameters.acr_values": mobile})
    assert query_param(authorize, "acr_values") == mobile


def test_uaepass_keeps_the_whole_userinfo_as_raw_claims_and_honours_pkce_never(
    warden: ThreadedWarden, social: SocialFake
) -> None:
    social.subject, social.email = f"uaeraw-{uuid.uuid4().hex[:8]}", f"uaeraw-{uuid.uuid4().hex[:8]}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "uaepass-raw")
    assert query_param(authorize, "redirect_uri") == f"{CALLBACK}/uaepass-raw" and "code_challenge" not in authorize
    assert browser.get(_follow_fake(authorize)).location == RETURN_URL
    raw = _whoami(browser)["identity"]["metadata_public"]["raw"]
    assert raw["sub"] == social.subject and raw["email"] == social.email
    assert raw["fullnameAR"] == "حامل الهوية" and raw["idn"] == "784199000000000" and raw["userType"] == "SOP3"
