"""A real nginx with `auth_request` to Warden's `/sessions/check` in front of a tiny application
(the example config, `deploy/nginx/auth-request-example.conf`, on this test's ports): signed-in
requests reach the application with the identity headers, others get 401, and a session revoked by
logout is refused at the very next request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3

from shared.cookies import CookieSigner
from tests.conftest import free_port
from tests.e2e.nginx import Nginx, require_nginx
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.gateway_helpers import COOKIE_SECRET, create_identity, gateway_config, log_out, sign_in
from warden.gateway_example import auth_request_example
from warden.routes import MIN_WORKER_CONNECTIONS, whole_nginx_conf


class _Echo(BaseHTTPRequestHandler):
    """The protected application: answers with the headers it was given."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def application() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def warden(tmp_path: Path) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", gateway_config())) as running:
        yield running


@pytest.fixture
def gateway(tmp_path: Path, warden: ThreadedWarden, application: int) -> Iterator[str]:
    listen = free_port()
    snippet = auth_request_example(
        warden=warden.public_url.removeprefix("http://"),
        upstream=f"127.0.0.1:{application}",
        listen=f"127.0.0.1:{listen}",
        trait_headers=("X-User-Email", "X-User-First-Name"),
    )
    nginx = Nginx(require_nginx(), tmp_path / "nginx", whole_nginx_conf(snippet, MIN_WORKER_CONNECTIONS))
    try:
        nginx.wait_listening(listen)
        yield f"http://127.0.0.1:{listen}"
    finally:
        assert nginx.stop() == 0, nginx.errors()


def test_signed_in_requests_pass_with_identity_headers_others_get_401_and_logout_is_immediate(
    warden: ThreadedWarden, gateway: str
) -> None:
    identity = create_identity(warden.admin_url, {"email": "grace@example.com"})
    token, session = sign_in(warden.admin_url, identity)
    cookie = f"ory_kratos_session={CookieSigner([COOKIE_SECRET]).sign(token)}"
    forged = {"X-Kratos-Authenticated-Identity-Id": "someone-else", "X-User-First-Name": "Mallory"}

    for credentials in ({"Authorization": f"Bearer {token}"}, {"Cookie": cookie}):
        response = urllib3.request("POST", f"{gateway}/orders?page=2", headers={**credentials, **forged}, body=b"{}")
        assert response.status == 200, response.data
        seen = json.loads(response.data)
        assert seen["x-kratos-authenticated-identity-id"] == identity
        assert seen["x-warden-session-id"] == session["id"]
        assert seen["x-warden-aal"] == "aal1"
        assert seen["x-user-email"] == "grace@example.com"
        assert "x-user-first-name" not in seen  # the identity has none: the forged one is dropped

    for headers in ({}, forged, {"Authorization": "Bearer ory_st_not-a-session"}, {"Cookie": f"{cookie}x"}):
        response = urllib3.request("GET", f"{gateway}/orders", headers=headers)
        assert response.status == 401, headers
        assert b"x-user-email" not in response.data

    log_out(warden.public_url, token)
    assert urllib3.request("GET", f"{gateway}/orders", headers={"Authorization": f"Bearer {token}"}).status == 401
