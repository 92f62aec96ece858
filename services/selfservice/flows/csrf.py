"""CSRF protection for browser flows (Kratos's double-submit pattern): a random token in an HttpOnly
cookie named after the public base URL, the same token in the flow and in its `csrf_token` node;
a submission must carry it (body `csrf_token` or `X-CSRF-Token`) and it must match both."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from shared import errors, text
from shared.cookies import request_cookie

MAX_AGE_SECONDS = 365 * 24 * 3600  # nosurf's default


class CsrfViolation(errors.Forbidden):
    error_id = text.SECURITY_CSRF_VIOLATION

    def __init__(self, hint: str) -> None:
        super().__init__(
            "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from "
            "Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and "
            "other serious security issues.",
            message="the request was rejected to protect you from Cross-Site-Request-Forgery",
            details={"docs": "https://www.ory.sh/kratos/docs/debug/csrf", "hint": hint},
        )


class Csrf:
    def __init__(
        self, public_base_url: str, *, secure: bool, same_site: str = "Lax", path: str = "/", domain: str | None = None
    ):
        self.cookie_name = "csrf_token_" + hashlib.sha256(public_base_url.encode()).hexdigest()
        self._secure, self._same_site, self._path, self._domain = secure, same_site, path, domain

    def token_for(self, request: web.Request) -> str:
        """The browser's token if it has a well-formed one, else a new one."""
        existing = request_cookie(request, self.cookie_name) or ""
        return existing if 32 <= len(existing) <= 128 else self.new_token()

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            self.cookie_name,
            token,
            max_age=MAX_AGE_SECONDS,
            path=self._path,
            domain=self._domain,
            secure=self._secure,
            httponly=True,
            samesite=self._same_site,
        )

    def check_cookie(self, request: web.Request, flow_token: str) -> None:
        cookie = request_cookie(request, self.cookie_name) or ""
        if not cookie or not hmac.compare_digest(cookie.encode(), flow_token.encode()):
            raise CsrfViolation("The anti-CSRF cookie was not sent with the request or does not match the flow.")

    def check_submission(self, request: web.Request, body: dict[str, object], flow_token: str) -> None:
        self.check_cookie(request, flow_token)
        submitted = str(body.get("csrf_token") or request.headers.get("X-CSRF-Token") or "")
        if not submitted or not hmac.compare_digest(submitted.encode(), flow_token.encode()):
            raise CsrfViolation("The anti-CSRF token in the request body does not match the one in the cookie.")
