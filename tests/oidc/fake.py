"""A small fake provider for what a certified OpenID provider will not do on purpose: ID tokens with
a bad signature, audience, issuer, nonce or expiry; GitHub's and Discord's user APIs (no ID token);
Apple's form-posted callback. It redirects straight back from `/authorize` (no login page), checks
PKCE at `/token` when a challenge was sent, and runs on its own event loop in a thread."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.conftest import free_port


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str | None


@dataclass
class FakeProvider:
    client_id: str = "fake-client"
    client_secret: str = "fake-secret"
    subject: str = "fake-user-1"
    email: str = "fake.user@example.com"
    email_verified: bool | str = True  # Apple has sent "true" and "false" as strings
    tamper: str | None = None  # signature | audience | issuer | nonce | expired | no_id_token
    form_post: bool = False
    apple_key: Any = None  # an ECKey: client secrets that are ES256 JWTs (Apple's) must be signed by it
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"})
        self._other_key = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"})
        self._grants: dict[str, Grant] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FakeProvider:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_: Any) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/userinfo", self._userinfo)
        app.router.add_get("/user", self._github_user)
        app.router.add_get("/user/emails", self._github_emails)
        app.router.add_get("/users/@me", self._discord_user)
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def add_routes(self, app: web.Application) -> None:
        """More provider APIs, for a subclass (tests/oidc/social.py)."""

    def callback_extra(self, code: str) -> dict[str, str]:
        """More parameters for the redirect back to the client, for a subclass."""
        return {}

    def token_extra(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        """More fields for the token answer at `path`, for a subclass."""
        return {}

    # --- tokens --------------------------------------------------------------------------------
    def id_token(self, nonce: str, *, audience: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://evil.example" if self.tamper == "issuer" else self.issuer,
            "sub": self.subject,
            "aud": "someone-else" if self.tamper == "audience" else (audience or self.client_id),
            "iat": now,
            "exp": now - 3600 if self.tamper == "expired" else now + 600,
            "nonce": "not-the-flows-nonce" if self.tamper == "nonce" else nonce,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": "Fake User",
        }
        key = self._other_key if self.tamper == "signature" else self.key
        return jwt.encode({"alg": "RS256", "kid": "fake-1"}, claims, key)

    # --- endpoints -----------------------------------------------------------------------------
    async def _discovery(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "code_challenge_methods_supported": ["S256"],
                "response_modes_supported": ["query", "form_post"],
            }
        )

    async def _jwks(self, _request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def _authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_requests.append(query)
        code = secrets.token_urlsafe(16)
        self._grants[code] = Grant(
            query.get("client_id", ""),
            query.get("redirect_uri", ""),
            query.get("nonce", ""),
            query.get("code_challenge"),
        )
        back = {"code": code, "state": query.get("state", ""), **self.callback_extra(code)}
        if query.get("response_mode") == "form_post":
            return web.json_response({"form_post": query.get("redirect_uri"), "fields": back})
        return web.Response(status=302, headers={"Location": f"{query.get('redirect_uri')}?{urlencode(back)}"})

    async def _token(self, request: web.Request, client_secret: str | None = None) -> web.Response:
        """`client_secret`: the secret a subclass read elsewhere than in the body (an HTTP Basic header)."""
        form = dict(await request.post())
        self.token_requests.append({k: str(v) for k, v in form.items()})
        grant = self._grants.pop(str(form.get("code")), None)
        secret = client_secret if client_secret is not None else str(form.get("client_secret") or "")
        if grant is None or not self._client_authenticated(secret):
            return web.json_response({"error": "invalid_grant"}, status=400)
        if grant.challenge is not None:
            verifier = str(form.get("code_verifier") or "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != grant.challenge:
                return web.json_response({"error": "invalid_grant", "error_description": "PKCE"}, status=400)
        body: dict[str, Any] = {"access_token": "fake-access-" + secrets.token_hex(8), "token_type": "bearer"}
        if self.tamper != "no_id_token":
            body["id_token"] = self.id_token(grant.nonce)
        body.update(self.token_extra(request.path, {k: str(v) for k, v in form.items()}))
        return web.json_response(body)

    def _client_authenticated(self, secret: str) -> bool:
        if secret.count(".") != 2 or self.apple_key is None:
            return secret == self.client_secret
        try:  # Sign in with Apple: a JWT the client signed with its team key, naming itself as subject
            token = jwt.decode(secret, self.apple_key, algorithms=["ES256"])
        except Exception:
            return False
        return token.claims.get("sub") == self.client_id and token.claims.get("aud") == "https://appleid.apple.com"

    def _bearer(self, request: web.Request) -> None:
        if not request.headers.get("Authorization", "").startswith("Bearer fake-access-"):
            raise web.HTTPUnauthorized()

    async def _userinfo(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response({"sub": self.subject, "email": self.email, "email_verified": self.email_verified})

    async def _github_user(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response({"id": 4242, "login": "octo-fake", "name": "Octo Fake", "email": None})

    async def _github_emails(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            [
                {"email": "secondary@example.com", "primary": False, "verified": True},
                {"email": self.email, "primary": True, "verified": self.email_verified is True},
            ]
        )

    async def _discord_user(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            {"id": "80351110224678912", "username": "fakecord", "email": self.email, "verified": True}
        )
