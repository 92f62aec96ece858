"""How often Warden asks a social sign-in provider for its signing keys (its JWKS) when native apps
submit `id_token`s, against the real OpenID provider (panva's oidc-provider, tests/oidc/op.mjs),
which counts the requests for its key set: anyone can submit an ID token without signing in, so a
token that does not verify may make Warden fetch the keys again (the provider may have rotated
them) at most once per provider per 10 seconds, and a token that names no key not at all; a key
the provider rotated in is still picked up as soon as that interval is over.

Each test has a provider entry of its own (each keeps its own keys) at the same OpenID provider."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import urllib3
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.conftest import free_port
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_oidc import CIPHER_SECRET, _api, _provider
from tests.oidc.fake import FakeProvider
from tests.oidc.provider import ProviderUser, RunningProvider, openid_provider
from tests.selfservice_helpers import UI, message_ids, sqlite_selfservice_settings

APP = f"{UI}/app/native"  # where the provider sends the app back with its code (never followed)
REFETCH_INTERVAL = 10.0  # seconds, as docs/social-sign-in.md says
SCOPE = ["openid", "email", "profile"]


def _signing_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class Provider:
    """The OpenID provider, which a test can restart with other keys at the same issuer."""

    def __init__(self) -> None:
        self.port, self.secret = free_port(), "test-client-secret-" + uuid.uuid4().hex
        self._stack = ExitStack()
        self.key = _signing_key("op-key-1")
        self.running = self._start()

    def _start(self) -> RunningProvider:
        jwks = KeySet([self.key]).as_dict(private=True)
        return self._stack.enter_context(openid_provider([APP], port=self.port, secret=self.secret, jwks=jwks))

    def rotate(self) -> None:
        """Stopped and started again, signing with a new key only (the old one is gone)."""
        self._stack.close()
        self._stack = ExitStack()
        self.key = _signing_key(f"op-key-{uuid.uuid4().hex[:8]}")
        self.running = self._start()

    def close(self) -> None:
        self._stack.close()

    def id_token(self, nonce: str) -> str:
        """A real ID token, as an app's SDK gets it: sign in at the provider, trade the code."""
        op = self.running
        found = urllib3.request("GET", f"{op.issuer}/.well-known/openid-configuration").json()
        query = {
            "client_id": op.client_id,
            "response_type": "code",
            "scope": " ".join(SCOPE),
            "redirect_uri": APP,
            "nonce": nonce,
            "state": uuid.uuid4().hex,
        }
        back = ProviderUser(op.issuer).sign_in(f"{found['authorization_endpoint']}?{urlencode(query)}", _login())
        code = parse_qs(urlsplit(back).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": APP,
            "client_id": op.client_id,
            "client_secret": op.client_secret,
        }
        answer = urllib3.PoolManager().request("POST", found["token_endpoint"], fields=form, encode_multipart=False)
        assert answer.status == 200, answer.data[:300]
        return str(answer.json()["id_token"])

    def forged(self, kid: str) -> str:
        """A well-formed ID token the provider never signed, naming `kid`."""
        now = int(time.time())
        claims = {"iss": self.running.issuer, "aud": self.running.client_id, "sub": _login(), "iat": now}
        return jwt.encode({"alg": "RS256", "kid": kid}, {**claims, "exp": now + 600}, _signing_key(kid))


def _login() -> str:
    return f"native-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def op() -> Iterator[Provider]:
    provider = Provider()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, op: Provider) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("oidc-key-refetch")
    running = op.running
    ids = ["malformed", "flooded", "rotated"]
    providers = [_provider(i, "generic", running, running.issuer, scope=SCOPE) for i in ids]
    settings = sqlite_selfservice_settings(
        directory,
        methods={"oidc": {"enabled": True, "config": {"providers": providers}}},
        secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
    )
    with running_warden(settings) as started:
        yield started


def _submit(warden: ThreadedWarden, provider: str, id_token: str, nonce: str = "") -> tuple[int, dict[str, Any]]:
    body = {"method": "oidc", "provider": provider, "id_token": id_token, "id_token_nonce": nonce or "n"}
    return _api(warden, "registration", body)


def _refused(warden: ThreadedWarden, provider: str, id_token: str) -> None:
    status, flow = _submit(warden, provider, id_token)
    assert status == 400 and 4000001 in message_ids(flow), (status, flow)


def _signed_up(warden: ThreadedWarden, op: Provider, provider: str) -> None:
    nonce = uuid.uuid4().hex
    status, registered = _submit(warden, provider, op.id_token(nonce), nonce)
    assert status == 200 and registered["identity"]["id"], registered


def test_a_token_that_names_no_key_makes_no_request_to_the_provider(warden: ThreadedWarden, op: Provider) -> None:
    before = op.running.jwks_requests()
    header_not_json = "bm90IGpzb24.e30.c2ln"
    alg_none = "eyJhbGciOiJub25lIn0.e30.c2ln"  # {"alg":"none"}: no key could check it
    for junk in ["a.b.c", "not-a-jwt", "x.y", "a.b.c.d.e", header_not_json, alg_none]:
        _refused(warden, "malformed", junk)
    assert op.running.jwks_requests() == before


def test_tokens_that_do_not_verify_fetch_the_keys_again_at_most_once_per_interval(
    warden: ThreadedWarden, op: Provider
) -> None:
    _signed_up(warden, op, "flooded")  # the keys are fetched for the first time
    fetched = op.running.jwks_requests()
    for _ in range(3):
        _refused(warden, "flooded", op.forged("a-kid-the-provider-never-had"))
        _refused(warden, "flooded", op.forged(op.key.kid or ""))  # the provider's kid, not its signature
    with ThreadPoolExecutor(6) as pool:  # at the same moment: they share one fetch
        list(pool.map(lambda kid: _refused(warden, "flooded", op.forged(kid)), [f"kid-{i}" for i in range(6)]))
    assert op.running.jwks_requests() - fetched <= 1
    _signed_up(warden, op, "flooded")  # the provider's own tokens still verify meanwhile


def test_a_key_the_provider_rotated_in_verifies_once_the_interval_is_over(warden: ThreadedWarden, op: Provider) -> None:
    _signed_up(warden, op, "rotated")
    fetched_at = time.monotonic()
    op.rotate()  # a new key, a new kid; its counter starts again at zero
    time.sleep(max(0.0, fetched_at + REFETCH_INTERVAL + 0.5 - time.monotonic()))
    _signed_up(warden, op, "rotated")
    assert op.running.jwks_requests() == 1


class FailingKeys(FakeProvider):
    """A provider whose key set answers 503 while `failing`, counting the requests for it."""

    failing = True
    jwks_requests = 0

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_requests += 1
        if self.failing:
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        return await super()._jwks(request)


def test_keys_never_fetched_are_not_asked_for_again_within_the_interval(tmp_path: Any) -> None:
    """Until a first fetch succeeds there are no keys to fall back on: a failed fetch is not tried
    again for every token submitted meanwhile (anyone can submit one), but once the interval is over."""
    with FailingKeys() as fake:
        provider = _provider("failing", "generic", fake, fake.issuer, scope=SCOPE)
        settings = sqlite_selfservice_settings(
            tmp_path,
            methods={"oidc": {"enabled": True, "config": {"providers": [provider]}}},
            secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
        )
        with running_warden(settings) as warden:
            started = time.monotonic()
            for _ in range(4):
                status, _answer = _submit(warden, "failing", fake.id_token("n"), "n")
                assert status != 200
            assert fake.jwks_requests == 1
            fake.failing = False
            time.sleep(max(0.0, started + REFETCH_INTERVAL + 0.5 - time.monotonic()))
            status, registered = _submit(warden, "failing", fake.id_token("n"), "n")
            assert status == 200 and registered["identity"]["id"], registered
            assert fake.jwks_requests == 2
