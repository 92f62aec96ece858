"""Social sign-in against a real, certified OpenID provider (panva's oidc-provider, on loopback), on
SQLite and PostgreSQL: sign-up and sign-in through the redirect dance, the claims mapper, the
missing-trait form, account linking, settings link and unlink, native apps (token exchange and
`id_token`), and every callback that must fail without a 500 and without creating or linking an
identity. Provider quirks (GitHub's user API, Apple's form post) and broken ID tokens come from a
small fake provider (tests/oidc/fake.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pyotp
import pytest
import urllib3
from joserfc.jwk import ECKey

from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_selfservice_browser import _csrf, _start
from tests.oidc.fake import FakeProvider
from tests.oidc.provider import ProviderUser, RunningProvider, openid_provider
from tests.selfservice_helpers import (
    CONFIGURED_BASE,
    ERROR_UI,
    INTERNAL_TOKEN,
    PASSWORD,
    RETURN_URL,
    UI,
    Browser,
    create_identity,
    database,
    message_ids,
    node,
    node_names,
    query_param,
    selfservice_settings,
)
from tests.webhook_receiver import Received, WebhookReceiver

CALLBACK = f"{CONFIGURED_BASE}/self-service/methods/oidc/callback"
NATIVE_RETURN = f"{UI}/app/native"
PRIVILEGE_SECONDS = 2
CIPHER_SECRET = "oidc-tests-cipher-secret-32bytes"


def _b64(source: str) -> str:
    return "base64://" + base64.b64encode(source.encode()).decode()


FULL_MAPPER = _b64(
    """
local claims = std.extVar('claims');
{
  identity: {
    traits: { email: claims.email },
    metadata_public: { display_name: claims.name, via: 'oidc' },
    metadata_admin: { upstream_subject: claims.sub },
    verified_addresses: if claims.email_verified then [{ via: 'email', value: claims.email }] else [],
  },
}
"""
)
NO_EMAIL_MAPPER = _b64("{ identity: { traits: {} } }")
# Everything FULL_MAPPER gives, and a trait the schema refuses (it allows no `nickname`): the sign-up
# goes on in the prefilled form, which has no field for it.
REFUSED_MAPPER = _b64(
    """
local claims = std.extVar('claims');
{
  identity: {
    traits: { email: claims.email, nickname: claims.name },
    metadata_public: { display_name: claims.name, via: 'oidc' },
    metadata_admin: { upstream_subject: claims.sub, note: 'admin-only-' + claims.sub },
    verified_addresses: if claims.email_verified then [{ via: 'email', value: claims.email }] else [],
  },
}
"""
)
# For `update_identity_on_login: automatic`: no metadata_admin (so what is there must stay), and a
# trait the schema refuses for addresses starting with "broken" (a mapper gone wrong).
SYNC_MAPPER = _b64(
    """
local claims = std.extVar('claims');
local broken = std.startsWith(claims.email, 'broken');
{
  identity: {
    traits: { email: claims.email } + (if broken then { nickname: 'not in the schema' } else {}),
    metadata_public: { seen_email: claims.email },
    verified_addresses: if claims.email_verified then [{ via: 'email', value: claims.email }] else [],
  },
}
"""
)


def _provider(provider_id: str, kind: str, client: Any, issuer: str, mapper: str = FULL_MAPPER, **extra: Any) -> dict:
    return {
        "id": provider_id,
        "provider": kind,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "issuer_url": issuer,
        "mapper_url": mapper,
        **extra,
    }


@pytest.fixture(scope="module")
def op() -> Iterator[RunningProvider]:
    with openid_provider([f"{CALLBACK}/op", f"{CALLBACK}/op-partial", f"{CALLBACK}/op-refused"]) as running:
        yield running


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(apple_key=ECKey.generate_key("P-256")) as running:
        yield running


# The address, and the campaign the sign-up form sent in its transient payload (Kratos hands the
# redirect's submission to the hooks that run on the callback).
CRM_BODY = """function(ctx)
  local payload = std.get(ctx.flow, 'transient_payload', null);
  {
    email: std.get(ctx.identity.traits, 'email', null),
    campaign: if payload == null then null else std.get(payload, 'campaign', null),
  }
"""


def _crm_answer(received: Received) -> tuple[int, Any, dict[str, str]]:
    """A CRM that refuses sign-ups from addresses it has blocked, on the email field, and tags the
    accounts whose settings change (`response.parse` on the settings hook)."""
    if received.path == "/settings":
        return 200, {"identity": {"metadata_public": {"tagged_for": received.json()["email"]}}}, {}
    if "blocked" not in str(received.json().get("email")):
        return 200, None, {}
    message = {"id": 4000001, "text": "This address is blocked by the CRM.", "type": "error", "context": {}}
    return 400, {"messages": [{"instance_ptr": "#/traits/email", "messages": [message]}]}, {}


@pytest.fixture(scope="module")
def crm() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(answer=_crm_answer).start()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    op: RunningProvider,
    fake: FakeProvider,
    crm: WebhookReceiver,
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("oidc")
    scope = {"scope": ["openid", "email", "profile"]}
    providers = [
        _provider("op", "generic", op, op.issuer, **scope),
        _provider("op-partial", "generic", op, op.issuer, NO_EMAIL_MAPPER, **scope),
        _provider("op-refused", "generic", op, op.issuer, REFUSED_MAPPER, **scope),
        _provider("fake", "generic", fake, fake.issuer, scope=["openid", "email"]),
        _provider(
            "fake-sync",
            "generic",
            fake,
            fake.issuer,
            SYNC_MAPPER,
            scope=["openid", "email"],
            update_identity_on_login="automatic",
        ),
        _provider(
            "github", "github", fake, fake.issuer, auth_url=f"{fake.issuer}/authorize", token_url=f"{fake.issuer}/token"
        ),
        _provider(
            "github-app",
            "github-app",
            fake,
            fake.issuer,
            auth_url=f"{fake.issuer}/authorize",
            token_url=f"{fake.issuer}/token",
        ),
        {
            **{k: v for k, v in _provider("apple", "apple", fake, fake.issuer).items() if k != "client_secret"},
            "apple_team_id": "TEAM123456",
            "apple_private_key_id": "KEY1234567",
            "apple_private_key": fake.apple_key.as_pem(private=True).decode(),
        },
        _provider("down", "generic", fake, "http://127.0.0.1:9"),
        _provider("forced", "generic", fake, fake.issuer, scope=["openid", "email"], pkce="force"),
    ]
    after = {"hooks": [{"hook": "session"}]}
    crm_hook = {
        "hook": "web_hook",
        "config": {
            "url": crm.url(),
            "method": "POST",
            "body": _b64(CRM_BODY),
            "can_interrupt": True,
        },
    }
    settings_hook = {
        "hook": "web_hook",
        "config": {**crm_hook["config"], "url": crm.url("/settings"), "response": {"parse": True}},
    }
    settings_hook["config"].pop("can_interrupt")
    with database(request.param, directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods={"oidc": {"enabled": True, "config": {"providers": providers}}},
            flows={
                "registration": {"after": {"password": after, "oidc": {"hooks": [crm_hook, {"hook": "session"}]}}},
                "settings": {
                    "ui_url": f"{UI}/settings",
                    "privileged_session_max_age": "1h",
                    "after": {"oidc": {"hooks": [settings_hook]}},
                },
            },
            secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
        )
        with running_warden(settings) as running:
            yield running


# --- helpers -----------------------------------------------------------------------------------


def _native_sign_up(warden: ThreadedWarden, op: RunningProvider, login: str) -> str:
    """An app's sign-up by social sign-in, finished in a browser of its own: the app's session token."""
    http = urllib3.PoolManager()
    created = http.request(
        "GET",
        f"{warden.public_url}/self-service/registration/api",
        fields={"return_session_token_exchange_code": "true", "return_to": NATIVE_RETURN},
    )
    flow = json.loads(created.data)
    started = http.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        body=json.dumps({"method": "oidc", "provider": "op"}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    back = Browser(warden.public_url).get(
        ProviderUser(op.issuer).sign_in(json.loads(started.data)["redirect_browser_to"], login)
    )
    exchange = {"init_code": flow["session_token_exchange_code"], "return_to_code": query_param(back.location, "code")}
    answer = http.request("GET", f"{warden.public_url}/sessions/token-exchange", fields=exchange)
    assert answer.status == 200, answer.data
    return str(json.loads(answer.data)["session_token"])


def _whoami_of(warden: ThreadedWarden, token: str) -> Any:
    return urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token})


def test_a_native_apps_refresh_finished_in_a_browser_signed_in_as_someone_else_keeps_the_apps_session(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """An app re-authenticates (settings asked it to) with its social sign-in, which finishes in the
    system browser; that browser may be signed in to Warden too, as someone else (a shared tablet,
    another account of the same person). The token exchange handed the app the browser's session
    token, read from its cookie: the app went on as the browser's account, and whoever started the
    flow could read a token the browser never shows to scripts. The app gets its own session's
    token, a new one (Kratos gives it a new session's there), and the browser's session is untouched."""
    http = urllib3.PoolManager()
    app_login = _login_name("app")
    app_token = _native_sign_up(warden, op, app_login)
    before = json.loads(_whoami_of(warden, app_token).data)
    browser = Browser(warden.public_url)
    signed_up = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), _login_name("web")))
    assert signed_up.location == RETURN_URL, signed_up
    browsers = _whoami(browser)

    created = http.request(
        "GET",
        f"{warden.public_url}/self-service/login/api",
        fields={"refresh": "true", "return_session_token_exchange_code": "true", "return_to": NATIVE_RETURN},
        headers={"X-Session-Token": app_token},
    )
    flow = json.loads(created.data)
    assert created.status == 200, flow
    started = http.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow['id']}",
        body=json.dumps({"method": "oidc", "provider": "op"}),
        headers={"Content-Type": "application/json", "Accept": "application/json", "X-Session-Token": app_token},
    )
    assert started.status == 422, started.data
    back = browser.get(ProviderUser(op.issuer).sign_in(json.loads(started.data)["redirect_browser_to"], app_login))
    assert back.status == 303 and back.location.startswith(f"{NATIVE_RETURN}?code="), back

    exchange = {"init_code": flow["session_token_exchange_code"], "return_to_code": query_param(back.location, "code")}
    answer = http.request("GET", f"{warden.public_url}/sessions/token-exchange", fields=exchange)
    assert answer.status == 200, answer.data
    token = json.loads(answer.data)["session_token"]
    refreshed = json.loads(_whoami_of(warden, token).data)
    assert refreshed["id"] == before["id"], "the app's own session, not the browser's"
    assert refreshed["authenticated_at"] > before["authenticated_at"]
    assert _whoami_of(warden, app_token).status == 401, "its token was replaced by the one exchanged"
    after = _whoami(browser)
    assert after["id"] == browsers["id"] and after["authenticated_at"] == browsers["authenticated_at"]


def _login_name(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _to_provider(browser: Browser, kind: str, provider: str = "op", **body: Any) -> str:
    flow = _start(browser, kind)
    started = browser.post(
        flow["ui"]["action"], {"csrf_token": _csrf(flow), "method": "oidc", "provider": provider, **body}
    )
    assert started.status == 303, started
    return started.location


def _whoami(browser: Browser) -> dict[str, Any]:
    answer = browser.get("/sessions/whoami", as_json=True)
    assert answer.status == 200, answer
    return answer.json()


def _identity(warden: ThreadedWarden, identity_id: str, include: str = "") -> dict[str, Any]:
    query = f"?include_credential={include}" if include else ""
    response = urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}{query}")
    assert response.status == 200, response.data
    return json.loads(response.data)


def _owner(warden: ThreadedWarden, identifier: str) -> list[dict[str, Any]]:
    response = urllib3.request(
        "GET", f"{warden.admin_url}/admin/identities", fields={"credentials_identifier": identifier}
    )
    assert response.status == 200, response.data
    return json.loads(response.data)


def _count_identities(warden: ThreadedWarden) -> int:
    response = urllib3.request("GET", f"{warden.admin_url}/admin/identities", fields={"page_size": "1000"})
    return len(json.loads(response.data))


def _flow_after(browser: Browser, location: str, kind: str) -> dict[str, Any]:
    assert location.startswith(f"{UI}/{kind}?flow="), location
    fetched = browser.get(f"/self-service/{kind}/flows?id={query_param(location, 'flow')}", as_json=True)
    assert fetched.status == 200, fetched
    return fetched.json()


# --- sign-up and sign-in -----------------------------------------------------------------------


def test_sign_up_then_sign_in_with_a_real_openid_provider(warden: ThreadedWarden, op: RunningProvider) -> None:
    login = _login_name("alice")
    person = ProviderUser(op.issuer)
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration")
    assert authorize.startswith(f"{op.issuer}/auth?")
    assert query_param(authorize, "code_challenge_method") == "S256"  # PKCE: the provider advertises S256
    assert query_param(authorize, "nonce") and query_param(authorize, "state")

    done = browser.get(person.sign_in(authorize, login))
    assert done.status == 303 and done.location == RETURN_URL, done
    session = _whoami(browser)
    identity = session["identity"]
    assert identity["traits"] == {"email": f"{login}@example.com"}
    assert identity["metadata_public"] == {"display_name": f"User {login}", "via": "oidc"}
    assert identity["verifiable_addresses"][0]["verified"] is True
    assert session["authentication_methods"][0]["method"] == "oidc"
    assert _identity(warden, identity["id"])["metadata_admin"] == {"upstream_subject": login}
    assert [i["id"] for i in _owner(warden, f"op:{login}")] == [identity["id"]]

    again = Browser(warden.public_url)
    back = again.get(person.sign_in(_to_provider(again, "login"), login))
    assert back.status == 303 and back.location == RETURN_URL, back
    assert _whoami(again)["identity"]["id"] == identity["id"]


def test_an_interrupting_web_hook_refuses_a_social_sign_up_before_it_is_saved(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = _login_name("blocked")
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), login))
    flow = _flow_after(browser, back.location, "registration")
    assert [m["text"] for m in node(flow, "traits.email")["messages"]] == ["This address is blocked by the CRM."]
    assert _owner(warden, f"op:{login}") == []


def test_the_sign_up_form_s_transient_payload_reaches_the_hooks_run_on_the_callback(
    warden: ThreadedWarden, op: RunningProvider, crm: WebhookReceiver
) -> None:
    login = _login_name("campaign")
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", **{"transient_payload.campaign": "spring"})
    done = browser.get(ProviderUser(op.issuer).sign_in(authorize, login))
    assert done.status == 303 and done.location == RETURN_URL, done
    [called] = [r for r in crm.requests("/hook") if r.json()["email"] == f"{login}@example.com"]
    assert called.json()["campaign"] == "spring"


def test_a_stranger_signing_in_is_signed_up_and_a_known_subject_signing_up_is_signed_in(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login, person = _login_name("bob"), ProviderUser(op.issuer)
    first = Browser(warden.public_url)
    assert first.get(person.sign_in(_to_provider(first, "login"), login)).location == RETURN_URL
    created = _whoami(first)["identity"]["id"]
    second = Browser(warden.public_url)
    assert second.get(person.sign_in(_to_provider(second, "registration"), login)).location == RETURN_URL
    assert _whoami(second)["identity"]["id"] == created
    assert len(_owner(warden, f"op:{login}")) == 1


def test_traits_the_schema_refuses_continue_in_a_prefilled_form(warden: ThreadedWarden, op: RunningProvider) -> None:
    login = _login_name("carol")
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration", "op-partial"), login))
    assert back.status == 303, back
    flow = _flow_after(browser, back.location, "registration")
    assert node(flow, "traits.email")["group"] == "default"  # Kratos's group, unless the legacy flag says `oidc`
    assert node(flow, "provider")["attributes"]["value"] == "op-partial"
    names = node_names(flow)
    assert names[0] == "csrf_token" and names[-1] == "provider", "only the sign-up's own form"
    assert all(name.startswith("traits.") for name in names[1:-1]), names
    assert _owner(warden, f"op-partial:{login}") == []

    email = f"{login}@example.org"
    done = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "oidc", "provider": "op-partial", "traits.email": email},
    )
    assert done.status == 303 and done.location == RETURN_URL, done
    identity = _whoami(browser)["identity"]
    assert identity["traits"]["email"] == email
    assert [i["id"] for i in _owner(warden, f"op-partial:{login}")] == [identity["id"]]


def _refused_then_sent_again(warden: ThreadedWarden, op: RunningProvider, login: str, email: str | None) -> Browser:
    """A sign-up by `op-refused` whose traits the schema refused, its prefilled form sent again with
    `email` (None: as prefilled); the mapper's admin metadata never reaches the browser."""
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration", "op-refused"), login))
    assert back.status == 303, back
    flow = _flow_after(browser, back.location, "registration")
    assert node(flow, "traits.email")["attributes"]["value"] == f"{login}@example.com"
    assert f"admin-only-{login}" not in json.dumps(flow)
    assert _owner(warden, f"op-refused:{login}") == []
    done = browser.post(
        flow["ui"]["action"],
        {
            "csrf_token": _csrf(flow),
            "method": "oidc",
            "provider": "op-refused",
            "traits.email": email or f"{login}@example.com",
        },
    )
    assert done.status == 303 and done.location == RETURN_URL, done
    return browser


def test_a_sign_up_continued_after_the_schema_refused_keeps_what_the_mapper_made(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """As a sign-up the schema took at once (Kratos maps the claims again on the Continue button's
    round trip): the mapper's metadata, the admin's kept server-side, and the address it vouched for."""
    login = _login_name("erin")
    browser = _refused_then_sent_again(warden, op, login, None)
    identity = _whoami(browser)["identity"]
    assert identity["traits"] == {"email": f"{login}@example.com"}
    assert identity["metadata_public"] == {"display_name": f"User {login}", "via": "oidc"}
    assert "metadata_admin" not in identity
    assert [(a["value"], a["verified"]) for a in identity["verifiable_addresses"]] == [(f"{login}@example.com", True)]
    admin = _identity(warden, identity["id"])
    assert admin["metadata_admin"] == {"upstream_subject": login, "note": f"admin-only-{login}"}
    assert [i["id"] for i in _owner(warden, f"op-refused:{login}")] == [identity["id"]]


def test_a_continued_sign_up_that_changed_the_address_does_not_verify_it(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """The provider vouched for its own address, not for the one the user typed instead."""
    login = _login_name("frank")
    other = f"{login}@elsewhere.example"
    identity = _whoami(_refused_then_sent_again(warden, op, login, other))["identity"]
    assert identity["traits"] == {"email": other}
    assert [(a["value"], a["verified"]) for a in identity["verifiable_addresses"]] == [(other, False)]
    assert identity["metadata_public"] == {"display_name": f"User {login}", "via": "oidc"}


def test_an_existing_account_is_not_taken_over_but_linked_after_signing_in(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = _login_name("dave")
    email = f"{login}@example.com"  # what the provider will say this person's email is
    existing = create_identity(warden.admin_url, email)
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), login))
    assert back.status == 303, back
    flow = _flow_after(browser, back.location, "login")
    assert 1010016 in message_ids(flow)
    assert _owner(warden, f"op:{login}") == []  # nothing linked before the owner signs in
    assert "oidc" not in (_identity(warden, existing).get("credentials") or {})

    signed = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    assert signed.status == 303 and signed.location == RETURN_URL, signed
    assert [i["id"] for i in _owner(warden, f"op:{login}")] == [existing]
    later = Browser(warden.public_url)
    assert later.get(ProviderUser(op.issuer).sign_in(_to_provider(later, "login"), login)).location == RETURN_URL
    assert _whoami(later)["identity"]["id"] == existing


@pytest.fixture(scope="module")
def mfa_warden(tmp_path_factory: pytest.TempPathFactory, op: RunningProvider) -> Iterator[ThreadedWarden]:
    """A Warden whose sessions must reach the identity's highest AAL, with TOTP on (sqlite)."""
    directory = tmp_path_factory.mktemp("oidc-mfa")
    providers = [_provider("op", "generic", op, op.issuer, scope=["openid", "email", "profile"])]
    with database("sqlite", directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods={"oidc": {"enabled": True, "config": {"providers": providers}}, "totp": {"enabled": True}},
            secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
            session={"lifespan": "2h", "whoami": {"required_aal": "highest_available"}},
        )
        with running_warden(settings) as running:
            yield running


def test_a_link_waiting_for_a_login_waits_for_the_second_factor_too(
    mfa_warden: ThreadedWarden, op: RunningProvider
) -> None:
    """Kratos links a sign-in that waited for the account's owner only once the session is complete:
    with the password alone, someone could attach a social account of theirs that outlives a
    password reset. The link waits in the second-factor step, and is made when that step is done."""
    warden = mfa_warden
    login = _login_name("mfa")
    email = f"{login}@example.com"
    secret = pyotp.random_base32()
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {
                "password": {"config": {"password": PASSWORD}},
                "totp": {"config": {"totp_url": f"otpauth://totp/Warden:{login}?secret={secret}&issuer=Warden"}},
            },
        },
    )
    assert created.status == 201, created.data
    existing = created.json()["id"]
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), login))
    flow = _flow_after(browser, back.location, "login")
    assert 1010016 in message_ids(flow)

    signed = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    assert signed.status == 303, signed
    assert _owner(warden, f"op:{login}") == [], "linked with the password alone, before the second factor"

    step = _flow_after(browser, signed.location, "login")
    assert step["requested_aal"] == "aal2"
    done = browser.post(
        step["ui"]["action"],
        {"csrf_token": _csrf(step), "method": "totp", "totp_code": pyotp.TOTP(secret).now()},
    )
    assert done.status == 303 and done.location == RETURN_URL, done
    assert [i["id"] for i in _owner(warden, f"op:{login}")] == [existing], "linked once the second factor was done"
    assert _whoami(browser)["authenticator_assurance_level"] == "aal2"


def test_a_sign_up_whose_form_replaced_the_providers_address_does_not_enter_the_account_that_has_it(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """The provider vouches for an address another account already has, and the sign-up form gave
    an address of the person's own: the new account is created with that one, and the address the
    provider vouched for proves nothing on the other account, least of all a way into it (Kratos
    never signs anyone in to an existing account by email; the mapper's `verified_addresses` apply
    to the identity being created alone)."""
    theirs = f"{_login_name('theirs')}@example.com"
    other = create_identity(warden.admin_url, theirs)
    browser = Browser(warden.public_url)
    chosen = f"{_login_name('chosen')}@example.org"
    authorize = _to_provider(browser, "registration", **{"traits.email": chosen})
    done = browser.get(ProviderUser(op.issuer).sign_in(authorize, theirs))  # the provider: `theirs`, verified
    assert done.status == 303, done

    signed_in = _whoami(browser)["identity"]
    assert signed_in["id"] != other
    assert signed_in["traits"] == {"email": chosen}
    assert [i["id"] for i in _owner(warden, f"op:{theirs}")] == [signed_in["id"]]
    assert [a["verified"] for a in _identity(warden, other)["verifiable_addresses"]] == [False]


def test_settings_link_and_unlink_a_provider(warden: ThreadedWarden, op: RunningProvider, crm: WebhookReceiver) -> None:
    login = _login_name("erin")
    email = f"{_login_name('erin-pw')}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    browser = Browser(warden.public_url)
    flow = _start(browser, "login")
    browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    settings = _start(browser, "settings")
    assert "link" in node_names(settings)
    # Kratos's link and unlink buttons carry no `method`, as the reference UI submits them.
    hooked = len(crm.received)
    linking = browser.post(settings["ui"]["action"], {"csrf_token": _csrf(settings), "link": "op"})
    assert linking.status == 303 and linking.location.startswith(op.issuer), linking
    assert len(crm.received) == hooked, "the settings hook runs where the link completes, not before"
    done = browser.get(ProviderUser(op.issuer).sign_in(linking.location, login))
    assert done.status == 303, done
    assert [i["id"] for i in _owner(warden, f"op:{login}")] == [identity_id]
    assert [r.path for r in crm.received[hooked:]] == ["/settings"]
    # The hook's answer was saved with the link.
    linked = urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").json()
    assert linked["metadata_public"] == {"tagged_for": email}

    settings = _start(browser, "settings")
    assert node(settings, "unlink")["attributes"]["value"] == "op"
    unlinked = browser.post(settings["ui"]["action"], {"csrf_token": _csrf(settings), "unlink": "op"})
    assert unlinked.status == 303, unlinked
    assert _owner(warden, f"op:{login}") == []


def test_a_provider_already_linked_cannot_be_linked_again_with_another_account_of_it(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """Kratos's `isLinkable`, when the link is asked for and again on its callback: a second account
    at a provider the identity has linked already would hide behind the one Unlink button the
    settings show for it (someone at an unattended, privileged session could keep a way in that its
    owner cannot see). Two links started at once (two tabs) are refused on the second callback."""
    email = f"{_login_name('grace')}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    browser = Browser(warden.public_url)
    flow = _start(browser, "login")
    browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    first, second = _start(browser, "settings"), _start(browser, "settings")
    tab_one = browser.post(first["ui"]["action"], {"csrf_token": _csrf(first), "link": "op"})
    tab_two = browser.post(second["ui"]["action"], {"csrf_token": _csrf(second), "link": "op"})
    assert tab_one.status == 303 and tab_two.status == 303, (tab_one, tab_two)
    own, other = _login_name("grace-own"), _login_name("grace-other")
    assert browser.get(ProviderUser(op.issuer).sign_in(tab_one.location, own)).status == 303
    assert [i["id"] for i in _owner(warden, f"op:{own}")] == [identity_id]

    refused = browser.get(ProviderUser(op.issuer).sign_in(tab_two.location, other))
    assert refused.status == 303, refused
    assert 4000001 in message_ids(_flow_after(browser, refused.location, "settings"))
    assert _owner(warden, f"op:{other}") == []

    settings = _start(browser, "settings")
    again = browser.post(settings["ui"]["action"], {"csrf_token": _csrf(settings), "link": "op"})
    assert again.status == 303 and not again.location.startswith(op.issuer), again
    assert 4000001 in message_ids(_flow_after(browser, again.location, "settings"))
    assert _identity(warden, identity_id, "oidc")["credentials"]["oidc"]["identifiers"] == [f"op:{own}"]


def test_a_refresh_login_is_not_done_by_someone_elses_social_account(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """Re-authenticating a session (the step settings asks for before a password change) must prove
    the session's owner: another person's social sign-in must not refresh the session."""
    intruder = _login_name("intruder")
    own = Browser(warden.public_url)
    assert own.get(ProviderUser(op.issuer).sign_in(_to_provider(own, "registration"), intruder)).location == RETURN_URL
    email = f"{_login_name('owner')}@example.com"
    owner = create_identity(warden.admin_url, email)
    browser = Browser(warden.public_url)
    flow = _start(browser, "login")
    signed = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    assert signed.status == 303, signed
    before = _whoami(browser)

    refresh = _start(browser, "login", "?refresh=true")
    started = browser.post(refresh["ui"]["action"], {"csrf_token": _csrf(refresh), "method": "oidc", "provider": "op"})
    assert started.status == 303 and started.location.startswith(op.issuer), started
    back = browser.get(ProviderUser(op.issuer).sign_in(started.location, intruder))

    assert back.status == 303 and back.location != RETURN_URL, back
    assert 4000006 in message_ids(_flow_after(browser, back.location, "login"))
    after = _whoami(browser)
    assert after["identity"]["id"] == owner
    assert [m["method"] for m in after["authentication_methods"]] == ["password"]
    assert after["authenticated_at"] == before["authenticated_at"]

    # The session's own social account still refreshes it.
    stale = _whoami(own)["authenticated_at"]
    refresh = _start(own, "login", "?refresh=true")
    started = own.post(refresh["ui"]["action"], {"csrf_token": _csrf(refresh), "method": "oidc", "provider": "op"})
    assert own.get(ProviderUser(op.issuer).sign_in(started.location, intruder)).location == RETURN_URL
    assert _whoami(own)["authenticated_at"] > stale


def test_a_link_that_completes_after_the_session_lost_its_privilege_is_refused(
    tmp_path: Any, op: RunningProvider
) -> None:
    """A link is asked for by a privileged session but completes on the provider's callback, maybe
    long after: by then someone else may be at the browser, with their own social account."""
    providers = [_provider("op", "generic", op, op.issuer, scope=["openid", "email", "profile"])]
    settings = selfservice_settings(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        methods={"oidc": {"enabled": True, "config": {"providers": providers}}},
        flows={"settings": {"ui_url": f"{UI}/settings", "privileged_session_max_age": f"{PRIVILEGE_SECONDS}s"}},
        secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
    )
    with running_warden(settings) as short_lived:
        email = f"{_login_name('owner')}@example.com"
        identity_id = create_identity(short_lived.admin_url, email)
        browser = Browser(short_lived.public_url)
        flow = _start(browser, "login")
        browser.post(
            flow["ui"]["action"],
            {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
        )
        settings_flow = _start(browser, "settings")
        linking = browser.post(settings_flow["ui"]["action"], {"csrf_token": _csrf(settings_flow), "link": "op"})
        assert linking.status == 303 and linking.location.startswith(op.issuer), linking
        time.sleep(PRIVILEGE_SECONDS + 1)

        intruder = _login_name("intruder")
        back = browser.get(ProviderUser(op.issuer).sign_in(linking.location, intruder))
        assert back.status == 303 and "/self-service/login/browser?refresh=true" in back.location, back
        assert _owner(short_lived, f"op:{intruder}") == []
        assert "oidc" not in (_identity(short_lived, identity_id).get("credentials") or {})


def test_the_last_way_in_cannot_be_unlinked(warden: ThreadedWarden, op: RunningProvider) -> None:
    login = _login_name("frank")
    browser = Browser(warden.public_url)
    browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), login))
    settings = _start(browser, "settings")
    refused = browser.post(settings["ui"]["action"], {"csrf_token": _csrf(settings), "method": "oidc", "unlink": "op"})
    assert refused.status == 303, refused
    flow = _flow_after(browser, refused.location, "settings")
    assert 4000001 in message_ids(flow)
    assert len(_owner(warden, f"op:{login}")) == 1


# --- native apps -------------------------------------------------------------------------------


def test_a_native_app_gets_its_session_by_token_exchange(warden: ThreadedWarden, op: RunningProvider) -> None:
    http = urllib3.PoolManager()
    created = http.request(
        "GET",
        f"{warden.public_url}/self-service/registration/api",
        fields={"return_session_token_exchange_code": "true", "return_to": NATIVE_RETURN},
    )
    flow = json.loads(created.data)
    init_code = flow["session_token_exchange_code"]
    started = http.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        body=json.dumps({"method": "oidc", "provider": "op"}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        redirect=False,
    )
    assert started.status == 422, (started.status, started.headers, started.data)
    error = json.loads(started.data)
    assert error["error"]["id"] == "browser_location_change_required"
    system_browser = Browser(warden.public_url)  # the phone's browser: none of the app's state
    back = system_browser.get(ProviderUser(op.issuer).sign_in(error["redirect_browser_to"], _login_name("native")))
    assert back.status == 303 and back.location.startswith(f"{NATIVE_RETURN}?code="), back
    assert "ory_kratos_session" not in back.set_cookies and "ory_st_" not in back.location

    exchange = {"init_code": init_code, "return_to_code": query_param(back.location, "code")}
    answer = http.request("GET", f"{warden.public_url}/sessions/token-exchange", fields=exchange)
    assert answer.status == 200, answer.data
    token = json.loads(answer.data)["session_token"]
    whoami = http.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token})
    assert whoami.status == 200
    assert http.request("GET", f"{warden.public_url}/sessions/token-exchange", fields=exchange).status == 404
    wrong = {**exchange, "return_to_code": "guess"}
    assert http.request("GET", f"{warden.public_url}/sessions/token-exchange", fields=wrong).status == 404


def test_a_native_flow_cannot_be_finished_with_someone_elses_sign_in(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """An app's flow is not bound to a browser: whoever started it may hand its provider link to
    someone else. If that person's sign-in needs the traits completed, the flow must not keep it for
    the starter to finish with traits of their own (and a session for an account on the other
    person's social login)."""
    http = urllib3.PoolManager()
    started = http.request(
        "GET",
        f"{warden.public_url}/self-service/registration/api",
        fields={"return_session_token_exchange_code": "true", "return_to": NATIVE_RETURN},
    )
    flow = json.loads(started.data)
    action = f"{warden.public_url}/self-service/registration?flow={flow['id']}"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    redirect = http.request(
        "POST", action, body=json.dumps({"method": "oidc", "provider": "op-partial"}), headers=headers
    )
    assert redirect.status == 422, redirect.data
    victim = _login_name("victim")
    victims_browser = Browser(warden.public_url)
    victims_browser.get(ProviderUser(op.issuer).sign_in(json.loads(redirect.data)["redirect_browser_to"], victim))

    traits = {"email": f"{_login_name('starter')}@example.org"}
    finished = http.request(
        "POST",
        action,
        body=json.dumps({"method": "oidc", "provider": "op-partial", "traits": traits}),
        headers=headers,
    )
    assert "session_token" not in json.loads(finished.data), finished.data
    assert _owner(warden, f"op-partial:{victim}") == []
    # The app's user goes through the provider again, with the traits they filled in.
    assert finished.status == 422, finished.data
    again = json.loads(finished.data)["redirect_browser_to"]
    assert again.startswith(f"{op.issuer}/auth?"), again
    app_user = _login_name("app-user")
    back = Browser(warden.public_url).get(ProviderUser(op.issuer).sign_in(again, app_user))
    assert back.status == 303 and back.location.startswith(f"{NATIVE_RETURN}?code="), back
    [created] = _owner(warden, f"op-partial:{app_user}")
    assert created["traits"] == traits


def _api(warden: ThreadedWarden, kind: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    http = urllib3.PoolManager()
    flow = json.loads(http.request("GET", f"{warden.public_url}/self-service/{kind}/api").data)
    answer = http.request(
        "POST",
        f"{warden.public_url}/self-service/{kind}?flow={flow['id']}",
        body=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    return answer.status, json.loads(answer.data)


def test_native_sdks_sign_up_and_in_with_an_id_token(warden: ThreadedWarden, fake: FakeProvider) -> None:
    fake.subject, fake.email = _login_name("native-sdk"), f"{_login_name('sdk')}@example.com"
    nonce = uuid.uuid4().hex
    hashed = hashlib.sha256(nonce.encode()).hexdigest()  # what Apple's and Google's SDKs put in the token
    body = {"method": "oidc", "provider": "fake", "id_token": fake.id_token(hashed), "id_token_nonce": nonce}
    status, registered = _api(warden, "registration", body)
    assert status == 200, registered
    assert registered["identity"]["traits"]["email"] == fake.email and registered["session_token"]
    status, signed = _api(warden, "login", {**body, "id_token": fake.id_token(hashed)})
    assert status == 200, signed
    assert signed["session"]["identity"]["id"] == registered["identity"]["id"]
    status, refused = _api(warden, "login", {**body, "id_token_nonce": "another nonce"})
    assert status == 400 and 4000001 in message_ids(refused)


# --- what must fail ----------------------------------------------------------------------------


def _with(url: str, params: dict[str, str]) -> str:
    return urlunsplit(urlsplit(url)._replace(query=urlencode(params)))


def _no_new_identity(warden: ThreadedWarden, before: int) -> None:
    assert _count_identities(warden) == before


def test_a_wrong_or_missing_state_is_refused(warden: ThreadedWarden, op: RunningProvider) -> None:
    before = _count_identities(warden)
    browser = Browser(warden.public_url)
    back = ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), _login_name("mallory"))
    params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    kind, flow_id, _secret = params["state"].split(":")
    forged_urls = [
        _with(back, {**params, "state": f"{kind}:{flow_id}:{'A' * 43}"}),  # the right flow, a guessed secret
        _with(back, {k: v for k, v in params.items() if k != "state"}),
        _with(back, {**params, "state": "nonsense"}),
    ]
    for forged in forged_urls:
        refused = browser.get(forged)
        assert refused.status == 303 and refused.location.startswith(ERROR_UI), refused
    _no_new_identity(warden, before)


def test_a_replayed_callback_is_refused(warden: ThreadedWarden, op: RunningProvider) -> None:
    browser = Browser(warden.public_url)
    back = ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), _login_name("replay"))
    assert browser.get(back).location == RETURN_URL
    before = _count_identities(warden)
    replayed = Browser(warden.public_url)
    replayed.cookies = dict(browser.cookies)
    again = replayed.get(back)
    assert again.status == 303 and again.location.startswith(ERROR_UI), again
    _no_new_identity(warden, before)


def test_a_callback_in_another_browser_is_refused(warden: ThreadedWarden, op: RunningProvider) -> None:
    """Login CSRF: an attacker's half-finished sign-in must not finish in the victim's browser."""
    before = _count_identities(warden)
    attacker = Browser(warden.public_url)
    back = ProviderUser(op.issuer).sign_in(_to_provider(attacker, "registration"), _login_name("attacker"))
    victim = Browser(warden.public_url)
    refused = victim.get(back)
    assert refused.status == 303 and refused.location.startswith(ERROR_UI), refused
    assert "ory_kratos_session" not in refused.set_cookies
    _no_new_identity(warden, before)


def test_the_provider_refusing_is_a_flow_message(warden: ThreadedWarden, op: RunningProvider) -> None:
    before = _count_identities(warden)
    browser = Browser(warden.public_url)
    back = ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), "whoever", deny=True)
    assert query_param(back, "error") == "access_denied"
    answer = browser.get(back)
    flow = _flow_after(browser, answer.location, "registration")
    assert 4000001 in message_ids(flow)
    assert "access_denied" in flow["ui"]["messages"][0]["text"]
    _no_new_identity(warden, before)


@pytest.mark.parametrize("tamper", ["signature", "audience", "issuer", "nonce", "expired", "no_id_token"])
def test_a_bad_id_token_is_refused(warden: ThreadedWarden, fake: FakeProvider, tamper: str) -> None:
    before = _count_identities(warden)
    fake.tamper, fake.subject = tamper, _login_name(tamper)
    try:
        browser = Browser(warden.public_url)
        back = browser.get(_follow_fake(_to_provider(browser, "registration", "fake")))
    finally:
        fake.tamper = None
    assert back.status == 303, back
    flow = _flow_after(browser, back.location, "registration")
    assert 4000001 in message_ids(flow)
    assert _owner(warden, f"fake:{fake.subject}") == []
    _no_new_identity(warden, before)


def test_an_unreachable_provider_is_a_flow_message(warden: ThreadedWarden) -> None:
    browser = Browser(warden.public_url)
    flow = _start(browser, "login")
    answer = browser.post(flow["ui"]["action"], {"csrf_token": _csrf(flow), "method": "oidc", "provider": "down"})
    assert answer.status == 303, answer
    assert 4000001 in message_ids(_flow_after(browser, answer.location, "login"))
    unknown = _start(browser, "login")
    answer = browser.post(unknown["ui"]["action"], {"csrf_token": _csrf(unknown), "method": "oidc", "provider": "nope"})
    assert 4000001 in message_ids(_flow_after(browser, answer.location, "login"))


# --- provider quirks and stored tokens -----------------------------------------------------------


def _follow_fake(authorize: str) -> str:
    """The fake provider redirects straight back from its authorize endpoint."""
    answer = urllib3.request("GET", authorize, redirect=False)
    assert answer.status == 302, answer.data
    return answer.headers["Location"]


def test_github_has_no_id_token_and_its_email_comes_from_its_api(warden: ThreadedWarden, fake: FakeProvider) -> None:
    fake.email = f"{_login_name('octo')}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "github")
    assert authorize.startswith(f"{fake.issuer}/authorize?") and "user%3Aemail" in authorize
    assert browser.get(_follow_fake(authorize)).location == RETURN_URL
    identity = _whoami(browser)["identity"]
    assert identity["traits"]["email"] == fake.email  # the primary verified one, not the secondary
    assert [i["id"] for i in _owner(warden, "github:4242")] == [identity["id"]]


def test_a_github_app_takes_the_primary_email_even_unverified(warden: ThreadedWarden, fake: FakeProvider) -> None:
    """Kratos's `github-app`: unlike `github`, the primary address is taken even when GitHub has not
    verified it, as unverified; an app asks for no scope, its permissions are the app's."""
    fake.email, fake.email_verified = f"{_login_name('app')}@example.com", False
    try:
        browser = Browser(warden.public_url)
        authorize = _to_provider(browser, "registration", "github-app")
        assert "scope=" not in authorize
        assert browser.get(_follow_fake(authorize)).location == RETURN_URL
    finally:
        fake.email_verified = True
    identity = _whoami(browser)["identity"]
    assert identity["traits"]["email"] == fake.email
    assert [a["verified"] for a in identity["verifiable_addresses"]] == [False]
    assert identity["id"] in [i["id"] for i in _owner(warden, "github-app:4242")]


def test_apples_form_post_callback_comes_back_as_a_get_with_the_browsers_cookies(
    warden: ThreadedWarden, fake: FakeProvider
) -> None:
    fake.subject, fake.email = _login_name("apple"), f"{_login_name('apple')}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "apple")
    assert query_param(authorize, "response_mode") == "form_post"
    posted = json.loads(urllib3.request("GET", authorize).data)
    user = json.dumps({"name": {"firstName": "Ada", "lastName": "Apple"}})
    # Apple's page posts the form cross-site: the browser sends no SameSite=Lax cookie with it.
    answer = browser.post(posted["form_post"], {**posted["fields"], "user": user}, cookies=False)
    assert answer.status == 303 and answer.location.startswith(f"{CALLBACK}/apple?"), answer
    assert browser.get(answer.location).location == RETURN_URL
    assert _whoami(browser)["identity"]["traits"]["email"] == fake.email


def test_pkce_force_comes_back_to_kratos_s_callback_without_the_provider_id(
    warden: ThreadedWarden, fake: FakeProvider
) -> None:
    """Kratos sends a provider with `pkce: force` back to `…/oidc/callback`, and its users have that
    address registered with the provider: a migrated config must keep signing people in."""
    fake.subject, fake.email = _login_name("forced"), f"{_login_name('forced')}@example.com"
    browser = Browser(warden.public_url)
    authorize = _to_provider(browser, "registration", "forced")
    assert query_param(authorize, "redirect_uri") == CALLBACK and query_param(authorize, "code_challenge")
    back = _follow_fake(authorize)
    assert back.startswith(f"{CALLBACK}?"), back
    assert browser.get(back).location == RETURN_URL
    assert _whoami(browser)["identity"]["traits"]["email"] == fake.email


@pytest.mark.parametrize("provider, elsewhere", [("fake", ""), ("forced", "/forced")])
def test_a_callback_that_comes_back_elsewhere_than_its_provider_was_told_is_refused(
    warden: ThreadedWarden, fake: FakeProvider, provider: str, elsewhere: str
) -> None:
    before = _count_identities(warden)
    fake.subject, fake.email = _login_name("elsewhere"), f"{_login_name('elsewhere')}@example.com"
    browser = Browser(warden.public_url)
    back = urlsplit(_follow_fake(_to_provider(browser, "registration", provider)))
    refused = browser.get(f"{CALLBACK}{elsewhere}?{back.query}")
    assert refused.status == 303 and refused.location.startswith(ERROR_UI), refused
    _no_new_identity(warden, before)


@pytest.mark.parametrize("sent, verified", [("true", True), ("false", False)])
def test_email_verified_sent_as_a_string_reaches_the_mapper_as_a_boolean(
    warden: ThreadedWarden, fake: FakeProvider, sent: str, verified: bool
) -> None:
    """Apple's ID tokens have carried `email_verified` as the string "true" or "false". Kratos's
    claims turn it into a boolean, and its mappers are written for one (`if claims.email_verified`)."""
    fake.subject, fake.email, fake.email_verified = _login_name("string"), f"{_login_name('string')}@example.com", sent
    try:
        browser = Browser(warden.public_url)
        done = browser.get(_follow_fake(_to_provider(browser, "registration", "fake")))
    finally:
        fake.email_verified = True
    assert done.status == 303 and done.location == RETURN_URL, done
    [address] = _whoami(browser)["identity"]["verifiable_addresses"]
    assert address["verified"] is verified


def test_provider_tokens_are_stored_encrypted_and_shown_only_when_asked(
    warden: ThreadedWarden, fake: FakeProvider
) -> None:
    fake.subject, fake.email = _login_name("tokens"), f"{_login_name('tokens')}@example.com"
    browser = Browser(warden.public_url)
    assert browser.get(_follow_fake(_to_provider(browser, "registration", "fake"))).location == RETURN_URL
    identity_id = _whoami(browser)["identity"]["id"]
    issued = fake.token_requests[-1]
    assert issued  # the code was traded at the token endpoint

    plain = _identity(warden, identity_id, include="oidc")
    provider = plain["credentials"]["oidc"]["config"]["providers"][0]
    assert provider["initial_access_token"].startswith("fake-access-")
    assert provider["initial_id_token"].count(".") == 2

    hidden = _identity(warden, identity_id)
    assert "initial_access_token" not in json.dumps(hidden)
    stored = urllib3.request(
        "GET",
        f"{warden.admin_url}/internal/identity/identities/{identity_id}/credentials/oidc",
        headers={"X-Warden-Internal-Token": INTERNAL_TOKEN},
    )
    assert stored.status == 200, stored.data
    at_rest = json.loads(stored.data)["config"]["providers"][0]["initial_access_token"]
    assert at_rest != provider["initial_access_token"] and "fake-access-" not in at_rest


# --- update_identity_on_login ------------------------------------------------------------------


def _fake_sign_in(warden: ThreadedWarden, kind: str, provider: str) -> tuple[Browser, Any]:
    browser = Browser(warden.public_url)
    return browser, browser.get(_follow_fake(_to_provider(browser, kind, provider)))


def _patch(warden: ThreadedWarden, identity_id: str, operations: list[dict[str, Any]]) -> None:
    response = urllib3.request(
        "PATCH",
        f"{warden.admin_url}/admin/identities/{identity_id}",
        body=json.dumps(operations),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, response.data


def test_automatic_updates_the_identity_from_the_providers_claims_on_each_sign_in(
    warden: ThreadedWarden, fake: FakeProvider
) -> None:
    fake.subject, fake.email = _login_name("sync"), f"{_login_name('sync')}@example.com"
    _, done = _fake_sign_in(warden, "registration", "fake-sync")
    assert done.location == RETURN_URL, done
    identity_id = _owner(warden, f"fake-sync:{fake.subject}")[0]["id"]
    _patch(
        warden,
        identity_id,
        [
            {"op": "add", "path": "/traits/name", "value": {"first": "Ada"}},
            {"op": "add", "path": "/metadata_admin", "value": {"crm": 7}},
        ],
    )
    fake.email = f"{_login_name('moved')}@example.com"  # the user changed their address at the provider

    browser, back = _fake_sign_in(warden, "login", "fake-sync")
    assert back.status == 303 and back.location == RETURN_URL, back
    seen = _whoami(browser)["identity"]  # the session shows the updated identity
    assert seen["id"] == identity_id
    assert seen["traits"] == {"email": fake.email, "name": {"first": "Ada"}}  # the name the mapper lacks stays
    assert seen["metadata_public"] == {"seen_email": fake.email}
    assert [(a["value"], a["verified"]) for a in seen["verifiable_addresses"]] == [(fake.email, True)]
    assert _identity(warden, identity_id)["metadata_admin"] == {"crm": 7}  # not output by the mapper: kept


def test_an_unchanged_provider_leaves_the_identity_untouched(warden: ThreadedWarden, fake: FakeProvider) -> None:
    fake.subject, fake.email = _login_name("same"), f"{_login_name('same')}@example.com"
    _fake_sign_in(warden, "registration", "fake-sync")
    identity_id = _owner(warden, f"fake-sync:{fake.subject}")[0]["id"]
    before = _identity(warden, identity_id)
    _, back = _fake_sign_in(warden, "login", "fake-sync")
    assert back.location == RETURN_URL, back
    assert _identity(warden, identity_id)["updated_at"] == before["updated_at"]  # nothing was written


def test_never_the_default_changes_nothing_at_sign_in(warden: ThreadedWarden, fake: FakeProvider) -> None:
    fake.subject, fake.email = _login_name("never"), f"{_login_name('never')}@example.com"
    registered = fake.email
    _fake_sign_in(warden, "registration", "fake")
    fake.email = f"{_login_name('moved')}@example.com"
    browser, back = _fake_sign_in(warden, "login", "fake")
    assert back.location == RETURN_URL, back
    assert _whoami(browser)["identity"]["traits"] == {"email": registered}


def test_a_mapper_output_the_schema_refuses_fails_the_sign_in_and_changes_nothing(
    warden: ThreadedWarden, fake: FakeProvider
) -> None:
    fake.subject, fake.email = _login_name("broken"), f"{_login_name('ok')}@example.com"
    _fake_sign_in(warden, "registration", "fake-sync")
    identity_id = _owner(warden, f"fake-sync:{fake.subject}")[0]["id"]
    before = _identity(warden, identity_id)
    fake.email = f"{_login_name('broken')}@example.com"
    browser, refused = _fake_sign_in(warden, "login", "fake-sync")
    flow = _flow_after(browser, refused.location, "login")
    assert flow["ui"]["messages"], flow
    assert browser.get("/sessions/whoami", as_json=True).status == 401
    after = _identity(warden, identity_id)
    assert (after["traits"], after["metadata_public"]) == (before["traits"], before["metadata_public"])


def test_a_native_apps_id_token_sign_in_updates_the_identity_too(warden: ThreadedWarden, fake: FakeProvider) -> None:
    fake.subject, fake.email = _login_name("native-sync"), f"{_login_name('native')}@example.com"
    nonce = uuid.uuid4().hex
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    body = {"method": "oidc", "provider": "fake-sync", "id_token_nonce": nonce}
    status, registered = _api(warden, "registration", {**body, "id_token": fake.id_token(hashed)})
    assert status == 200, registered
    fake.email = f"{_login_name('moved')}@example.com"
    status, signed = _api(warden, "login", {**body, "id_token": fake.id_token(hashed)})
    assert status == 200, signed
    assert signed["session"]["identity"]["traits"]["email"] == fake.email
