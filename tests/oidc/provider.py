"""A real OpenID Provider for the social sign-in tests: panva's `oidc-provider` (certified by the
OpenID Foundation), installed from npm into tests/oidc/node_modules on first use and run with the
machine's node on a free loopback port; and a user agent that signs in at it the way a person does
(login form, consent form) until the provider redirects back to Warden."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import urllib3

from tests.conftest import free_port

HERE = Path(__file__).parent


def _fail_or_skip(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
    pytest.skip(message)


def ensure_installed() -> None:
    """`npm ci` from the committed lock file, once per checkout."""
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    if shutil.which("npm") is None or shutil.which("node") is None:
        _fail_or_skip("node and npm are needed to run the test OpenID provider")
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, capture_output=True, text=True
    )
    if done.returncode != 0:
        _fail_or_skip(f"npm ci failed in {HERE}: {done.stderr[-2000:]}")


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    client_id: str
    client_secret: str

    def jwks_requests(self) -> int:
        """How many times the provider's key set (`/jwks`) has been asked for since it started."""
        answer = urllib3.request("GET", f"{self.issuer}/test/jwks-requests")
        assert answer.status == 200, answer.data[:300]
        return int(answer.json()["count"])


@contextmanager
def openid_provider(
    redirect_uris: Sequence[str],
    *,
    client_id: str = "warden",
    secret: str | None = None,
    port: int | None = None,
    jwks: Mapping[str, Any] | None = None,
) -> Iterator[RunningProvider]:
    """`port` and `secret` to start one again where a stopped one was (its issuer stays the same);
    `jwks`: the private keys it signs with (the library's development key without)."""
    ensure_installed()
    port = port or free_port()
    secret = secret or "test-client-secret-" + os.urandom(8).hex()
    clients = [
        {
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": list(redirect_uris),
            "response_types": ["code"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_post",
        }
    ]
    process = subprocess.Popen(
        ["node", str(HERE / "op.mjs"), str(port), json.dumps(clients), *([json.dumps(jwks)] if jwks else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("ready "):
            process.kill()
            raise AssertionError(
                f"the OpenID provider did not start: {line}{process.stderr.read() if process.stderr else ''}"
            )
        yield RunningProvider(line.split()[1], client_id, secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append({"action": values.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value") or ""


class ProviderUser:
    """A person at the provider: follows its redirects with its cookies, fills in the login form with
    `login` (and any password), accepts the consent screen, and stops at the first redirect that
    leaves the provider (the callback to Warden, which the test then sends to Warden itself)."""

    def __init__(self, issuer: str) -> None:
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
        self.cookies: dict[str, str] = {}
        self._http = urllib3.PoolManager()

    def sign_in(self, authorize_url: str, login: str, *, deny: bool = False) -> str:
        url, method, body = authorize_url, "GET", None
        for _ in range(20):
            if not url.startswith(self.origin):
                return url
            response = self._send(method, url, body)
            if response.status in (302, 303):
                url, method, body = urljoin(url, response.headers["Location"]), "GET", None
                continue
            assert response.status == 200, (response.status, response.data[:500])
            page = response.data.decode()
            if "Sign-in" in page and 'name="login"' in page and deny:
                return self._abort(url)
            form = _form(page)
            fields = dict(form["fields"])
            if "login" in fields:
                fields.update(login=login, password="any password")
            url, method, body = urljoin(url, form["action"]), "POST", fields
        raise AssertionError("the provider never redirected back")

    def _abort(self, url: str) -> str:
        response = self._send("GET", url.rstrip("/") + "/abort", None)
        while response.status in (302, 303):
            location = urljoin(url, response.headers["Location"])
            if not location.startswith(self.origin):
                return location
            response = self._send("GET", location, None)
        raise AssertionError(f"abort did not redirect back: {response.status}")

    def _send(self, method: str, url: str, body: Mapping[str, str] | None) -> urllib3.BaseHTTPResponse:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        response = (
            self._http.request(method, url, fields=body, encode_multipart=False, headers=headers, redirect=False)
            if body is not None
            else self._http.request(method, url, headers=headers, redirect=False)
        )
        for header in response.headers.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response


def _form(page: str) -> dict[str, Any]:
    parser = _Forms()
    parser.feed(page)
    assert parser.forms, f"no form on the provider's page: {page[:300]}"
    return parser.forms[0]
