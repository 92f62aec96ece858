"""`account_linking_mode` of a social provider (linking.py), against the real OpenID provider
(panva's oidc-provider, tests/oidc/op.mjs) standing in for Google and for Apple (`issuer_url`), on
SQLite and PostgreSQL. A login there containing "@" is that email; one starting with "unverified"
has `email_verified: false`; one starting with "workspace" carries Google Workspace's `hd` claim.

`automatic` links a sign-in to the account that has its address, and signs that account in, only
when the provider verified the address, is Google (a `@gmail.com` account, no `hd`) or Apple, and
the account proved the same address at Warden; in every other case it does what the default
(`confirm_with_existing_credential`) does: the user is sent to sign in to the account first
(1010016), and nothing is linked before that. The link is made as a link after signing in is: by
the login, with the login's hooks and events, and after the second factor where whoami asks for it.
A native app's `id_token` sign-in comes from the small fake provider (tests/oidc/fake.py), as in
test_oidc.py."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
import urllib3
from joserfc.jwk import ECKey

from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_oidc import (
    CALLBACK,
    CIPHER_SECRET,
    _api,
    _b64,
    _flow_after,
    _identity,
    _owner,
    _provider,
    _to_provider,
    _whoami,
)
from tests.integration.test_selfservice_browser import _csrf, _start
from tests.oidc.fake import FakeProvider
from tests.oidc.provider import ProviderUser, RunningProvider, openid_provider
from tests.selfservice_helpers import (
    PASSWORD,
    RETURN_URL,
    Browser,
    create_identity,
    database,
    message_ids,
    selfservice_settings,
)
from tests.webhook_receiver import WebhookReceiver

SCOPE = ["openid", "email", "profile"]
AUTOMATIC = {"account_linking_mode": "automatic"}
# The login hook's call: whose login it was, so a test finds its own among the module's.
HOOK_BODY = _b64("function(ctx) { identity_id: ctx.identity.id }")


@pytest.fixture(scope="module")
def op() -> Iterator[RunningProvider]:
    with openid_provider([f"{CALLBACK}/google", f"{CALLBACK}/google-default"]) as running:
        yield running


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(apple_key=ECKey.generate_key("P-256")) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver().start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    op: RunningProvider,
    fake: FakeProvider,
    receiver: WebhookReceiver,
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("oidc-linking")
    providers = [
        _provider("google", "google", op, op.issuer, scope=SCOPE, **AUTOMATIC),
        _provider("google-default", "google", op, op.issuer, scope=SCOPE),  # the mode unset
        {  # Apple's client secret is a JWT signed with the team's key, which the fake checks
            **{
                k: v
                for k, v in _provider("apple", "apple", fake, fake.issuer, **AUTOMATIC).items()
                if k != "client_secret"
            },
            "apple_team_id": "TEAM123456",
            "apple_private_key_id": "KEY1234567",
            "apple_private_key": fake.apple_key.as_pem(private=True).decode(),
        },
        _provider("native-google", "google", fake, fake.issuer, **AUTOMATIC),
    ]
    hook = {"hook": "web_hook", "config": {"url": receiver.url("/login"), "method": "POST", "body": HOOK_BODY}}
    events = {"id": "audit", "url": receiver.url("/events"), "events": ["#"], "secret": "an-audit-secret-of-length"}
    with database(request.param, directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods={"oidc": {"enabled": True, "config": {"providers": providers}}, "totp": {"enabled": True}},
            flows={
                "registration": {"after": {"oidc": {"hooks": [{"hook": "session"}]}}},
                "login": {"after": {"oidc": {"hooks": [hook]}, "password": {"hooks": [hook]}}},
            },
            secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
            session={"lifespan": "2h", "whoami": {"required_aal": "highest_available"}},
            webhooks={"subscriptions": [events]},
        )
        with running_warden(settings) as running:
            yield running


# --- helpers -----------------------------------------------------------------------------------


def _sub() -> str:
    return f"sub-{uuid.uuid4().hex}"


def _gmail(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@gmail.com"


def _account(warden: ThreadedWarden, email: str, *, totp: str | None = None, google: str | None = None) -> str:
    """An account with a password and `email`, which it proved (a verified address), maybe with
    TOTP or a Google subject linked already; its id."""
    credentials: dict[str, Any] = {"password": {"config": {"password": PASSWORD}}}
    if totp:
        credentials["totp"] = {"config": {"totp_url": f"otpauth://totp/Warden:x?secret={totp}&issuer=Warden"}}
    if google:
        credentials["oidc"] = {"config": {"providers": [{"provider": "google", "subject": google}]}}
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": credentials,
            "verifiable_addresses": [{"value": email, "via": "email", "verified": True, "status": "completed"}],
        },
    )
    assert created.status == 201, created.data
    identity = created.json()
    assert [a["verified"] for a in identity["verifiable_addresses"]] == [True]
    return str(identity["id"])


def _back(browser: Browser, provider: str, kind: str, login: str, op: RunningProvider) -> Any:
    """Warden's answer to the provider's callback after `login` signed in there."""
    return browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, kind, provider), login))


def _back_from_apple(browser: Browser) -> Any:
    """Apple (the fake) posts the callback as a form from its page; Warden turns it into a GET."""
    authorize = _to_provider(browser, "login", "apple")
    posted = json.loads(urllib3.request("GET", authorize).data)
    answer = browser.post(posted["form_post"], posted["fields"], cookies=False)
    assert answer.status == 303 and answer.location.startswith(f"{CALLBACK}/apple?"), answer
    return browser.get(answer.location)


def _sent_to_sign_in_first(warden: ThreadedWarden, browser: Browser, back: Any, provider: str, login: str) -> None:
    """What the default does: the login form with 1010016, no session, nothing linked."""
    assert back.status == 303, back
    assert 1010016 in message_ids(_flow_after(browser, back.location, "login"))
    assert browser.get("/sessions/whoami", as_json=True).status == 401
    assert _owner(warden, f"{provider}:{login}") == []


def _eventually(found: Callable[[], Any], what: str) -> Any:
    """`found()` once it is truthy: the event sink and the web hooks deliver after the response."""
    deadline = time.monotonic() + 30
    while not (value := found()):
        assert time.monotonic() < deadline, f"{what} never arrived"
        time.sleep(0.05)
    return value


def _events(receiver: WebhookReceiver, identity_id: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The event sink's deliveries about `identity_id` by type, once each `wanted` type arrived."""

    def about() -> dict[str, dict[str, Any]] | None:
        sent = [r.json() for r in receiver.requests("/events")]
        found = {e["type"]: e["data"] for e in sent if e["data"].get("identity_id") == identity_id}
        return found if wanted <= set(found) else None

    found: dict[str, dict[str, Any]] = _eventually(about, f"{sorted(wanted)} about {identity_id}")
    return found


def _hooked(receiver: WebhookReceiver, identity_id: str) -> list[Any]:
    """The login hook's calls for `identity_id`, once there is one."""
    calls: list[Any] = _eventually(
        lambda: [r for r in receiver.requests("/login") if r.json()["identity_id"] == identity_id], "the login hook"
    )
    return calls


# --- automatic ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["login", "registration"])
def test_a_verified_gmail_address_links_the_account_that_proved_it_and_signs_it_in(
    warden: ThreadedWarden, op: RunningProvider, kind: str
) -> None:
    email = _gmail("linked")
    existing = _account(warden, email)
    browser = Browser(warden.public_url)
    back = _back(browser, "google", kind, email, op)
    assert back.status == 303 and back.location == RETURN_URL, back

    session = _whoami(browser)
    assert session["identity"]["id"] == existing
    assert [(m["method"], m["provider"]) for m in session["authentication_methods"]] == [("oidc", "google")]
    assert [i["id"] for i in _owner(warden, f"google:{email}")] == [existing]
    identity = _identity(warden, existing)
    assert {"password", "oidc"} <= set(identity["credentials"])  # the password is kept
    assert identity["traits"] == {"email": email} and identity["metadata_public"] is None  # no mapper ran

    later = Browser(warden.public_url)
    assert _back(later, "google", "login", email, op).location == RETURN_URL
    assert _whoami(later)["identity"]["id"] == existing


def test_an_unverified_email_claim_never_links(warden: ThreadedWarden, op: RunningProvider) -> None:
    """The provider does not vouch for the address: anyone could have typed it there."""
    email = _gmail("unverified")  # the provider's `email_verified: false`
    existing = _account(warden, email)
    browser = Browser(warden.public_url)
    _sent_to_sign_in_first(warden, browser, _back(browser, "google", "login", email, op), "google", email)
    assert "oidc" not in _identity(warden, existing)["credentials"]


def test_an_unverified_email_claim_never_links_from_a_sign_up_either(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    email = _gmail("unverified-signup")
    existing = _account(warden, email)
    browser = Browser(warden.public_url)
    _sent_to_sign_in_first(warden, browser, _back(browser, "google", "registration", email, op), "google", email)
    assert "oidc" not in _identity(warden, existing)["credentials"]


def test_an_address_the_account_never_proved_is_not_linked(warden: ThreadedWarden, op: RunningProvider) -> None:
    """An address typed at a sign-up and never proved may be someone's pre-registration of the
    provider user's mailbox: linking would give the provider user an account with that password."""
    email = _gmail("typed")
    existing = create_identity(warden.admin_url, email)  # its address unverified
    browser = Browser(warden.public_url)
    _sent_to_sign_in_first(warden, browser, _back(browser, "google", "login", email, op), "google", email)
    assert [a["verified"] for a in _identity(warden, existing)["verifiable_addresses"]] == [False]


@pytest.mark.parametrize(
    "login",
    [
        pytest.param(f"consumer-{uuid.uuid4().hex[:8]}@example.com", id="a Google account on another domain"),
        pytest.param(f"workspace-{uuid.uuid4().hex[:8]}@example.org", id="a Google Workspace account"),
        pytest.param(f"workspace-{uuid.uuid4().hex[:8]}@gmail.com", id="any hd claim"),
    ],
)
def test_google_links_automatically_for_gmail_consumer_accounts_only(
    warden: ThreadedWarden, op: RunningProvider, login: str
) -> None:
    """Google is authoritative for its own consumer addresses; a Workspace domain can lapse and be
    bought by someone who then mints verified accounts on its addresses."""
    _account(warden, login)
    browser = Browser(warden.public_url)
    _sent_to_sign_in_first(warden, browser, _back(browser, "google", "login", login, op), "google", login)


def test_the_mode_unset_asks_the_owner_to_sign_in_first_as_before(warden: ThreadedWarden, op: RunningProvider) -> None:
    email = _gmail("default")
    existing = _account(warden, email)
    browser = Browser(warden.public_url)
    back = _back(browser, "google-default", "registration", email, op)
    _sent_to_sign_in_first(warden, browser, back, "google-default", email)

    flow = _flow_after(browser, back.location, "login")
    signed = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    assert signed.status == 303 and signed.location == RETURN_URL, signed
    assert [i["id"] for i in _owner(warden, f"google-default:{email}")] == [existing]


@pytest.mark.parametrize("verified", ["true", "false"])  # Apple has sent the claim as a string
def test_apple_links_automatically_on_any_domain_it_verified(
    warden: ThreadedWarden, fake: FakeProvider, verified: str
) -> None:
    fake.email, fake.subject, fake.email_verified = f"apple-{uuid.uuid4().hex[:10]}@example.net", _sub(), verified
    existing = _account(warden, fake.email)
    browser = Browser(warden.public_url)
    back = _back_from_apple(browser)
    if verified == "false":
        _sent_to_sign_in_first(warden, browser, back, "apple", fake.subject)
        return
    assert back.status == 303 and back.location == RETURN_URL, back
    assert _whoami(browser)["identity"]["id"] == existing
    assert [i["id"] for i in _owner(warden, f"apple:{fake.subject}")] == [existing]


def test_a_disabled_account_is_neither_linked_nor_signed_in(warden: ThreadedWarden, op: RunningProvider) -> None:
    email = _gmail("disabled")
    existing = _account(warden, email)
    patched = urllib3.request(
        "PATCH",
        f"{warden.admin_url}/admin/identities/{existing}",
        json=[{"op": "replace", "path": "/state", "value": "inactive"}],
    )
    assert patched.status == 200, patched.data
    browser = Browser(warden.public_url)
    back = _back(browser, "google", "login", email, op)
    assert back.status == 303 and 4010011 in message_ids(_flow_after(browser, back.location, "login"))
    assert _owner(warden, f"google:{email}") == []
    assert browser.get("/sessions/whoami", as_json=True).status == 401


def test_an_account_with_another_subject_of_the_provider_confirms_as_usual(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """The account has this provider linked already, under another subject: the sign-in is another
    account at the provider, which its owner links by signing in."""
    email, older = _gmail("other-subject"), f"older-{uuid.uuid4().hex}"
    existing = _account(warden, email, google=older)
    assert [i["id"] for i in _owner(warden, f"google:{older}")] == [existing]
    browser = Browser(warden.public_url)
    _sent_to_sign_in_first(warden, browser, _back(browser, "google", "login", email, op), "google", email)


def test_a_refresh_is_never_where_a_provider_gets_linked(warden: ThreadedWarden, op: RunningProvider) -> None:
    """A refresh re-authenticates the session's identity by a way in it has: a provider it does not
    have refreshes nothing and links nothing, even one that would link automatically."""
    email = _gmail("refresh")
    existing = _account(warden, email)
    browser = Browser(warden.public_url)
    flow = _start(browser, "login")
    signed = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": email, "password": PASSWORD},
    )
    assert signed.status == 303, signed
    refresh = _start(browser, "login", "?refresh=true")
    started = browser.post(refresh["ui"]["action"], {"csrf_token": _csrf(refresh), "provider": "google"})
    assert started.status == 303 and started.location.startswith(op.issuer), started
    back = browser.get(ProviderUser(op.issuer).sign_in(started.location, email))
    assert 4000006 in message_ids(_flow_after(browser, back.location, "login"))
    assert _owner(warden, f"google:{email}") == []
    assert [m["method"] for m in _whoami(browser)["authentication_methods"]] == ["password"]
    assert "oidc" not in _identity(warden, existing)["credentials"]


# --- the same link as after signing in --------------------------------------------------------


def test_the_link_runs_the_login_hooks_and_events_a_link_after_signing_in_does(
    warden: ThreadedWarden, op: RunningProvider, receiver: WebhookReceiver
) -> None:
    automatic_email, confirmed_email = _gmail("events-auto"), _gmail("events-confirmed")
    automatic, confirmed = _account(warden, automatic_email), _account(warden, confirmed_email)

    browser = Browser(warden.public_url)
    assert _back(browser, "google", "login", automatic_email, op).location == RETURN_URL

    other = Browser(warden.public_url)
    back = _back(other, "google-default", "login", confirmed_email, op)
    flow = _flow_after(other, back.location, "login")
    signed = other.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": confirmed_email, "password": PASSWORD},
    )
    assert signed.location == RETURN_URL, signed

    wanted = {"identity.updated", "identity.credentials.changed", "session.issued", "selfservice.login.succeeded"}
    for identity_id, method in ((automatic, "oidc"), (confirmed, "password")):
        events = _events(receiver, identity_id, wanted)
        assert "oidc" in events["identity.credentials.changed"]["types"]
        assert "credentials" in events["identity.updated"]["changed"]
        assert events["selfservice.login.succeeded"]["method"] == method
        assert "selfservice.registration.succeeded" not in events
        assert len(_hooked(receiver, identity_id)) == 1, "the login's after hook, once"


def test_the_link_waits_for_the_second_factor_whoami_asks_for(warden: ThreadedWarden, op: RunningProvider) -> None:
    """As a link after signing in: made once the session is what whoami asks of the account, so a
    social sign-in alone never attaches itself to an account with a second factor."""
    email, secret = _gmail("mfa"), pyotp.random_base32()
    existing = _account(warden, email, totp=secret)
    browser = Browser(warden.public_url)
    back = _back(browser, "google", "login", email, op)
    assert back.status == 303, back
    step = _flow_after(browser, back.location, "login")
    assert step["requested_aal"] == "aal2"
    assert _owner(warden, f"google:{email}") == [], "linked before the second factor"

    done = browser.post(
        step["ui"]["action"], {"csrf_token": _csrf(step), "method": "totp", "totp_code": pyotp.TOTP(secret).now()}
    )
    assert done.status == 303 and done.location == RETURN_URL, done
    assert [i["id"] for i in _owner(warden, f"google:{email}")] == [existing]
    assert _whoami(browser)["authenticator_assurance_level"] == "aal2"


# --- native apps -------------------------------------------------------------------------------


def _native_login(warden: ThreadedWarden, fake: FakeProvider) -> tuple[int, dict[str, Any]]:
    nonce = uuid.uuid4().hex
    token = fake.id_token(hashlib.sha256(nonce.encode()).hexdigest())
    return _api(
        warden, "login", {"method": "oidc", "provider": "native-google", "id_token": token, "id_token_nonce": nonce}
    )


def test_a_native_apps_id_token_links_automatically_and_only_when_verified(
    warden: ThreadedWarden, fake: FakeProvider
) -> None:
    fake.email, fake.subject, fake.email_verified = _gmail("native-unverified"), _sub(), False
    refused_account = _account(warden, fake.email)
    status, refused = _native_login(warden, fake)
    assert status == 400 and "session_token" not in refused, refused
    assert _owner(warden, f"native-google:{fake.subject}") == []
    assert "oidc" not in _identity(warden, refused_account)["credentials"]

    fake.email, fake.subject, fake.email_verified = _gmail("native"), _sub(), True
    existing = _account(warden, fake.email)
    status, signed = _native_login(warden, fake)
    assert status == 200, signed
    assert signed["session"]["identity"]["id"] == existing and signed["session_token"]
    assert [i["id"] for i in _owner(warden, f"native-google:{fake.subject}")] == [existing]


def test_the_identity_stays_as_it_was_but_for_the_provider(warden: ThreadedWarden, op: RunningProvider) -> None:
    email = _gmail("unchanged")
    existing = _account(warden, email)
    before = _identity(warden, existing)
    browser = Browser(warden.public_url)
    assert _back(browser, "google", "login", email, op).location == RETURN_URL
    after = _identity(warden, existing)
    for key in ("traits", "verifiable_addresses", "recovery_addresses", "metadata_public", "state"):
        assert _without_times(after[key]) == _without_times(before[key]), key


def _without_times(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in ("created_at", "updated_at")}
    return value


def test_a_link_waiting_for_the_owner_is_never_made_to_another_account_that_signs_in(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    """The form that asks the owner of the address to sign in first (1010016) may be left open on a
    shared browser: whoever signs in there next, with another account, must not get the provider
    (an attacker's) linked to theirs. As Kratos's `checkDuplicateCredentialsIdentifierMatch`: the
    account signing in must be the one that holds what collided, else 4010009 ("Linked credentials
    do not match."), no session, nothing linked; the owner can still sign in on the form and link."""
    email = _gmail("owner")
    _account(warden, email)
    someone_else = _gmail("other")
    other = _account(warden, someone_else)
    browser = Browser(warden.public_url)
    back = _back(browser, "google-default", "registration", email, op)
    _sent_to_sign_in_first(warden, browser, back, "google-default", email)

    flow = _flow_after(browser, back.location, "login")
    signed = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(flow), "method": "password", "identifier": someone_else, "password": PASSWORD},
    )
    assert _owner(warden, f"google-default:{email}") == [], "the provider is linked to no one"
    assert "oidc" not in _identity(warden, other, "oidc")["credentials"]
    assert browser.get("/sessions/whoami", as_json=True).status == 401, "no session for the other account"
    refused = _flow_after(browser, signed.location, "login")
    assert refused["id"] == flow["id"] and 4010009 in message_ids(refused), refused

    owner = browser.post(
        flow["ui"]["action"],
        {"csrf_token": _csrf(refused), "method": "password", "identifier": email, "password": PASSWORD},
    )
    assert owner.status == 303 and owner.location == RETURN_URL, owner
    assert len(_owner(warden, f"google-default:{email}")) == 1
