"""The fake provider, grown to answer as each of Kratos's other social providers does: Facebook's
Graph `/me` (refused without the right `appsecret_proof`), LinkedIn's member and address APIs and
its OpenID discovery under `/oauth` (naming an issuer without `/oauth`), Slack's `users.identity`,
Spotify's `/v1/me`, Amazon's profile, Yandex's `/info`, VK's `users.get` and VK ID's `user_info`,
Patreon's `identity`, netID's userinfo, Salesforce's userinfo, DingTalk's JSON token exchange and
`users/me`, Lark's userinfo, UAE PASS's `/idshub` endpoints (its token endpoint takes the client's
credentials only in an HTTP Basic header), and X's OAuth 1.0a (request token, authenticate, access token,
`verify_credentials`), each request's HMAC-SHA1 signature checked by this file's own RFC 5849 code. Paths are each provider's own, so Warden reaches them by pointing
`issuer_url` at this server; field names and shapes follow the providers' documented answers (and
Kratos's code that reads them). Every user API checks the access token it was given, where that
provider expects it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urlencode

from aiohttp import web

from tests.oidc.fake import FakeProvider

PHONE = "79001234567"  # VK ID sends phone numbers without the "+"


@dataclass
class SocialFake(FakeProvider):
    graph_requests: list[tuple[dict[str, str], str]] = field(default_factory=list)  # Facebook: query, token
    device_ids: dict[str, str] = field(default_factory=dict)  # VK ID: code → the device_id sent with it
    user_api_down: bool = False  # Yandex's /info answers 502
    x_denies: bool = False  # the user cancels at X's authenticate page
    x_requests: dict[str, str] = field(default_factory=dict)  # X: request token → its oauth_callback
    x_verifiers: dict[str, str] = field(default_factory=dict)  # X: request token → verifier
    x_access: dict[str, str] = field(default_factory=dict)  # X: access token → its secret
    basic_credentials: list[str] = field(default_factory=list)  # UAE PASS: each token request's, decoded

    def add_routes(self, app: web.Application) -> None:
        authorize, token = self._authorize, self._token
        for path in (
            "/dialog/oauth",  # Facebook
            "/oauth/v2/authorization",  # LinkedIn
            "/oauth/authorize",  # Slack
            "/ap/oa",  # Amazon
            "/oauth2/authorize",  # Patreon
            "/services/oauth2/authorize",  # Salesforce
            "/oauth2/auth",  # DingTalk
            "/suite/passport/oauth/authorize",  # Lark
            "/idshub/authorize",  # UAE PASS
        ):
            app.router.add_get(path, authorize)
        for path in (
            "/oauth/v2/accessToken",  # LinkedIn
            "/api/oauth.access",  # Slack
            "/api/token",  # Spotify
            "/auth/o2/token",  # Amazon
            "/access_token",  # VK
            "/api/oauth2/token",  # Patreon
            "/services/oauth2/token",  # Salesforce
            "/suite/passport/oauth/token",  # Lark
        ):
            app.router.add_post(path, token)
        app.router.add_post("/oauth2/auth", self._vk_id_token)
        app.router.add_post("/v1.0/oauth2/userAccessToken", self._dingtalk_token)
        app.router.add_post("/idshub/token", self._uaepass_token)
        app.router.add_get("/oauth/.well-known/openid-configuration", self._linkedin_discovery)
        routes = {
            "/me": self._facebook_me,
            "/v2/me": self._linkedin_me,
            "/v2/emailAddress": self._linkedin_email,
            "/v2/userinfo": self._linkedin_userinfo,
            "/api/users.identity": self._slack_identity,
            "/v1/me": self._spotify_me,
            "/user/profile": self._amazon_profile,
            "/info": self._yandex_info,
            "/method/users.get": self._vk_users,
            "/api/oauth2/v2/identity": self._patreon_identity,
            "/services/oauth2/userinfo": self._salesforce_userinfo,
            "/v1.0/contact/users/me": self._dingtalk_me,
            "/suite/passport/oauth/userinfo": self._lark_userinfo,
            "/idshub/userinfo": self._uaepass_userinfo,
        }
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        app.router.add_post("/oauth2/user_info", self._vk_id_user_info)
        app.router.add_post("/oauth/request_token", self._x_request_token)
        app.router.add_get("/oauth/authenticate", self._x_authenticate)
        app.router.add_post("/oauth/access_token", self._facebook_or_x_token)  # the same path at both
        app.router.add_get("/1.1/account/verify_credentials.json", self._x_verify_credentials)

    # --- the dance -----------------------------------------------------------------------------
    def callback_extra(self, code: str) -> dict[str, str]:
        self.device_ids[code] = "device-" + secrets.token_hex(6)
        return {"device_id": self.device_ids[code]}

    def token_extra(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        if path == "/api/oauth.access":  # Slack: the granted scopes, comma-separated
            return {"ok": True, "scope": "identity.basic,identity.email,identity.avatar", "team_id": "T0FAKE"}
        if path == "/api/token":  # Spotify: space-separated
            return {"scope": "user-read-email user-read-private"}
        if path == "/access_token":  # VK: the address comes with the token
            return {"email": self.email, "user_id": 210700286}
        return {}

    async def _vk_id_token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if self.device_ids.get(str(form.get("code"))) != form.get("device_id"):
            return web.json_response({"error": "invalid_request", "error_description": "device_id"}, status=400)
        return await self._token(request)

    async def _dingtalk_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_requests.append({k: str(v) for k, v in body.items()})
        known = self._grants.pop(str(body.get("code")), None) is not None
        if not known or body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return web.json_response({"code": "invalidAuthentication", "message": "bad code"}, status=400)
        return web.json_response(
            {"accessToken": "fake-access-" + secrets.token_hex(8), "refreshToken": "r", "expireIn": 7200}
        )

    async def _uaepass_token(self, request: web.Request) -> web.StreamResponse:
        """The client authenticates with HTTP Basic (both parts form-encoded, RFC 6749 §2.3.1), and
        only so: credentials in the body as well are refused."""
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return web.json_response({"error": "invalid_client"}, status=401)
        pair = base64.b64decode(encoded).decode()
        self.basic_credentials.append(pair)
        form = await request.post()
        client_id, _, secret = (unquote_plus(part) for part in pair.partition(":"))
        if client_id != self.client_id or "client_secret" in form or "client_id" in form:
            return web.json_response({"error": "invalid_client"}, status=401)
        return await self._token(request, client_secret=secret)

    def _token_in(self, value: str | None) -> None:
        if not str(value or "").startswith("fake-access-"):
            raise web.HTTPUnauthorized()

    # --- user APIs -----------------------------------------------------------------------------
    async def _facebook_me(self, request: web.Request) -> web.Response:
        self._bearer(request)
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.graph_requests.append((dict(request.query), token))
        proof = hmac.new(self.client_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.query.get("appsecret_proof", ""), proof):
            error = {"message": "Invalid appsecret_proof provided in the API argument", "code": 100}
            return web.json_response({"error": error}, status=400)
        return web.json_response(
            {
                "id": self.subject,
                "name": "Fay Book",
                "first_name": "Fay",
                "last_name": "Book",
                "email": self.email,
                "picture": {"data": {"height": 50, "is_silhouette": False, "url": "https://fb.example/p.jpg"}},
                "birthday": "01/31/1990",
            }
        )

    async def _linkedin_me(self, request: web.Request) -> web.Response:
        self._bearer(request)
        images = [{"identifiers": [{"identifier": f"https://media.licdn.example/{size}.jpg"}]} for size in range(4)]
        return web.json_response(
            {
                "id": self.subject,
                "localizedFirstName": "Lin",
                "localizedLastName": "Kedin",
                "profilePicture": {"displayImage": "urn:li:digitalmediaAsset:1", "displayImage~": {"elements": images}},
            }
        )

    async def _linkedin_email(self, request: web.Request) -> web.Response:
        self._bearer(request)
        element = {"handle": "urn:li:emailAddress:1", "handle~": {"emailAddress": self.email}}
        return web.json_response({"elements": [element]})

    async def _linkedin_discovery(self, request: web.Request) -> web.Response:
        # As LinkedIn's: served under /oauth, naming the issuer without it.
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/oauth/v2/authorization",
                "token_endpoint": f"{self.issuer}/oauth/v2/accessToken",
                "userinfo_endpoint": f"{self.issuer}/v2/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
            }
        )

    async def _linkedin_userinfo(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            {
                "sub": self.subject,
                "name": "Lin Kedin",
                "given_name": "Lin",
                "family_name": "Kedin",
                "picture": "https://media.licdn.example/v2.jpg",
                "locale": {"country": "US", "language": "en"},
                "email": self.email,
                "email_verified": True,
            }
        )

    async def _slack_identity(self, request: web.Request) -> web.Response:
        self._bearer(request)
        user = {
            "name": "Sam Slack",
            "id": self.subject,
            "email": self.email,
            "image_512": "https://slack.example/512.png",
        }
        return web.json_response({"ok": True, "user": user, "team": {"id": "T0FAKE"}})

    async def _spotify_me(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            {
                "id": self.subject,
                "display_name": "Spot Ify",
                "email": self.email,
                "images": [{"url": "https://i.scdn.example/a.jpg", "height": 300, "width": 300}],
                "external_urls": {"spotify": f"https://open.spotify.example/user/{self.subject}"},
            }
        )

    async def _amazon_profile(self, request: web.Request) -> web.Response:
        self._token_in(request.headers.get("x-amz-access-token"))
        return web.json_response(
            {"user_id": self.subject, "name": "Ama Zon", "email": self.email, "postal_code": "98109"}
        )

    async def _yandex_info(self, request: web.Request) -> web.Response:
        self._token_in(request.query.get("oauth_token"))
        if self.user_api_down:
            raise web.HTTPBadGateway()
        if request.query.get("format") != "json":
            raise web.HTTPBadRequest()
        return web.json_response(
            {
                "id": self.subject,
                "login": "yan.dex",
                "first_name": "Yan",
                "last_name": "Dex",
                "default_email": self.email,
                "default_avatar_id": "131652443",
                "is_avatar_empty": False,
                "default_phone": {"id": 12345678, "number": "+79037659418"},
                "sex": "female",
                "birthday": "1987-03-12",
            }
        )

    async def _vk_users(self, request: web.Request) -> web.Response:
        self._token_in(request.query.get("access_token"))
        if request.query.get("v") != "5.103":
            raise web.HTTPBadRequest()
        user = {
            "id": 210700286,
            "first_name": "Vee",
            "last_name": "Ka",
            "nickname": "veeka",
            "photo_200": "https://sun.userapi.example/200.jpg",
            "sex": 1,
            "bdate": "2.1.1990",
        }
        return web.json_response({"response": [user]})

    async def _vk_id_user_info(self, request: web.Request) -> web.Response:
        form = await request.post()
        self._token_in(str(form.get("access_token") or ""))
        if form.get("client_id") != self.client_id:
            raise web.HTTPBadRequest()
        return web.json_response({"user": {"user_id": "210700286", "email": self.email, "phone": PHONE}})

    async def _patreon_identity(self, request: web.Request) -> web.Response:
        self._bearer(request)
        attributes = {
            "email": self.email,
            "first_name": "Pat",
            "last_name": "Reon",
            "full_name": "Pat Reon",
            "image_url": "https://c8.patreon.example/a.png",
            "url": "https://www.patreon.example/patreon",
        }
        return web.json_response({"data": {"attributes": attributes, "id": self.subject, "type": "user"}, "links": {}})

    async def _userinfo(self, request: web.Request) -> web.Response:
        # netID's userinfo, with the claims its ID token leaves out.
        self._bearer(request)
        return web.json_response(
            {"sub": self.subject, "email": self.email, "email_verified": True, "given_name": "Net", "family_name": "Id"}
        )

    async def _salesforce_userinfo(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            {
                "sub": f"{self.issuer}/id/00Dxx0000001gPL/{self.subject}",
                "user_id": self.subject,
                "organization_id": "00Dxx0000001gPL",
                "preferred_username": self.email,
                "name": "Sales Force",
                "given_name": "Sales",
                "family_name": "Force",
                "email": self.email,
                "email_verified": True,
                "updated_at": "2024-01-02T03:04:05Z",  # a string, as Salesforce has sent it
            }
        )

    async def _dingtalk_me(self, request: web.Request) -> web.Response:
        self._token_in(request.headers.get("x-acs-dingtalk-access-token"))
        return web.json_response(
            {
                "nick": "Ding Talk",
                "avatarUrl": "https://static-legacy.dingtalk.example/a.png",
                "openId": self.subject,
                "unionId": "union-" + self.subject,
                "email": self.email,
                "stateCode": "86",
            }
        )

    async def _lark_userinfo(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            {
                "sub": "ou_sub",
                "name": "Lark Suite",
                "picture": "https://lark.example/pic.png",
                "open_id": self.subject,
                "union_id": "on_union",
                "en_name": "Lark",
                "tenant_key": "736588c9260f175d",
                "avatar_url": "https://lark.example/avatar.png",
                "email": self.email,
                "user_id": "5d9bdxxx",
                "mobile": "+8613800000000",
            }
        )

    async def _uaepass_userinfo(self, request: web.Request) -> web.Response:
        self._bearer(request)
        return web.json_response(
            {
                "sub": self.subject,
                "uuid": "4b0d1a8e-0000-4000-8000-000000000001",
                "userType": "SOP3",
                "fullnameEN": "Uae Pass Holder",
                "firstnameEN": "Uae",
                "lastnameEN": "Holder",
                "fullnameAR": "حامل الهوية",
                "email": self.email,
                "mobile": "971500000000",
                "gender": "Male",
                "nationalityEN": "ARE",
                "idn": "784199000000000",
            }
        )

    # --- X (OAuth 1.0a) ------------------------------------------------------------------------
    def _oauth1(self, request: web.Request, form: dict[str, str], token_secret: str) -> dict[str, str]:
        """The request's `oauth_*` parameters, if its HMAC-SHA1 signature is the consumer's (RFC 5849)."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            raise web.HTTPUnauthorized()
        oauth = {}
        for part in header.removeprefix("OAuth ").split(","):
            name, _, value = part.strip().partition("=")
            oauth[unquote(name)] = unquote(value.strip('"'))
        signature = oauth.pop("oauth_signature", "")
        oauth.pop("realm", None)

        def enc(value: str) -> str:
            return quote(value, safe="~")

        params = sorted((enc(k), enc(v)) for k, v in [*request.query.items(), *form.items(), *oauth.items()])
        base = "&".join(
            [
                request.method,
                enc(f"{request.scheme}://{request.host}{request.path}"),
                enc("&".join(f"{k}={v}" for k, v in params)),
            ]
        )
        key = f"{enc(self.client_secret)}&{enc(token_secret)}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        if oauth.get("oauth_consumer_key") != self.client_id or not hmac.compare_digest(expected, signature):
            raise web.HTTPUnauthorized()
        return oauth

    async def _x_request_token(self, request: web.Request) -> web.Response:
        oauth = self._oauth1(request, {k: str(v) for k, v in (await request.post()).items()}, "")
        token = "rt-" + secrets.token_hex(8)
        self.x_requests[token] = oauth["oauth_callback"]
        body = {"oauth_token": token, "oauth_token_secret": "rts-" + token, "oauth_callback_confirmed": "true"}
        return web.Response(text=urlencode(body), content_type="application/x-www-form-urlencoded")

    async def _x_authenticate(self, request: web.Request) -> web.Response:
        token = request.query.get("oauth_token", "")
        callback = self.x_requests[token]
        if self.x_denies:
            back = {"denied": token}
        else:
            self.x_verifiers[token] = "v-" + secrets.token_hex(8)
            back = {"oauth_token": token, "oauth_verifier": self.x_verifiers[token]}
        return web.Response(status=302, headers={"Location": f"{callback}&{urlencode(back)}"})

    async def _facebook_or_x_token(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization", "").startswith("OAuth "):
            return await self._x_access_token(request)
        return await self._token(request)

    async def _x_access_token(self, request: web.Request) -> web.Response:
        oauth = self._oauth1(request, {k: str(v) for k, v in (await request.post()).items()}, "")
        if self.x_verifiers.pop(oauth.get("oauth_token", ""), None) != oauth.get("oauth_verifier"):
            raise web.HTTPUnauthorized()
        token, secret = "at-" + secrets.token_hex(8), "ats-" + secrets.token_hex(8)
        self.x_access[token] = secret
        body = {"oauth_token": token, "oauth_token_secret": secret, "user_id": "1180000", "screen_name": "ex"}
        return web.Response(text=urlencode(body), content_type="application/x-www-form-urlencoded")

    async def _x_verify_credentials(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").partition('oauth_token="')[2].partition('"')[0]
        self._oauth1(request, {}, self.x_access.get(unquote(token), "not issued"))
        user: dict[str, Any] = {
            "id": int(self.subject) if self.subject.isdigit() else 1180000,
            "id_str": self.subject,
            "name": "Ex Twitter",
            "screen_name": "ex",
            "url": "https://ex.example",
            "profile_image_url_https": "https://pbs.twimg.example/normal.jpg",
        }
        if request.query.get("include_email") == "true":
            user["email"] = self.email
        return web.json_response(user)
