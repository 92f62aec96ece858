"""`serve.<port>.tls`: the public and admin ports speak HTTPS with the configured certificate and key
(as files or inline in base64), a browser signs in over it, plain HTTP on those ports gets nowhere,
and the internal API of a split deployment (on the admin port) is called over HTTPS too."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.certificates import ServerPair, self_signed_pair
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    INTERNAL_TOKEN,
    PASSWORD,
    RETURN_URL,
    UI,
    Browser,
    node,
    query_param,
    selfservice_settings,
    sqlite_selfservice_settings,
)
from warden.services import by_name

SESSION_COOKIE = "ory_kratos_session"


def _files(pair: ServerPair) -> dict[str, Any]:
    return {"cert": {"path": str(pair.cert_path)}, "key": {"path": str(pair.key_path)}}


def _inline(pair: ServerPair) -> dict[str, Any]:
    return {"cert": {"base64": base64.b64encode(pair.cert_pem).decode()}, "key": {"base64": _b64(pair.key_pem)}}


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


def _trusting(pair: ServerPair) -> urllib3.PoolManager:
    return urllib3.PoolManager(ca_certs=str(pair.cert_path), retries=False)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> ServerPair:
    return self_signed_pair(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, pair: ServerPair) -> Iterator[ThreadedWarden]:
    """Both ports on HTTPS from PEM files, outside dev mode (cookies are Secure)."""
    directory = tmp_path_factory.mktemp("https")
    serve = {"public": {"tls": _files(pair)}, "admin": {"tls": _files(pair)}}
    settings = selfservice_settings(directory, f"sqlite://{directory}/warden.sqlite", dev=False, serve=serve)
    with running_warden(settings) as running:
        yield running


def test_a_browser_signs_in_over_https_and_the_admin_api_answers_over_it(
    warden: ThreadedWarden, pair: ServerPair
) -> None:
    assert warden.public_url.startswith("https://") and warden.admin_url.startswith("https://")
    http = _trusting(pair)
    email = f"tls-{uuid.uuid4().hex[:10]}@example.com"
    created = http.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        },
    )
    assert created.status == 201, created.data
    identity_id = json.loads(created.data)["id"]

    browser = Browser(warden.public_url, http=http)
    started = browser.get("/self-service/login/browser")
    assert started.status == 303 and started.location.startswith(f"{UI}/login?flow="), started
    flow = browser.get(f"/self-service/login/flows?id={query_param(started.location, 'flow')}", as_json=True).json()
    form = {
        "identifier": email,
        "password": PASSWORD,
        "method": "password",
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
    }
    signed_in = browser.post(flow["ui"]["action"], form)
    assert signed_in.status == 303 and signed_in.location == RETURN_URL, signed_in
    assert signed_in.set_cookies[SESSION_COOKIE]["secure"] is True
    whoami = browser.get("/sessions/whoami", as_json=True)
    assert whoami.status == 200 and whoami.json()["identity"]["id"] == identity_id

    fetched = http.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}")
    assert fetched.status == 200 and json.loads(fetched.data)["traits"]["email"] == email


@pytest.mark.parametrize("port", ["public", "admin"])
def test_plain_http_on_an_https_port_gets_no_answer(warden: ThreadedWarden, port: str) -> None:
    url = (warden.public_url if port == "public" else warden.admin_url).replace("https://", "http://")
    with pytest.raises(urllib3.exceptions.ProtocolError):
        urllib3.request("GET", f"{url}/health/alive", retries=False, timeout=10)


def test_tls_1_2_is_the_oldest_version_served(warden: ThreadedWarden, pair: ServerPair) -> None:
    host, port = warden.public_url.removeprefix("https://").split(":")

    def version(oldest: ssl.TLSVersion, newest: ssl.TLSVersion) -> str | None:
        client = ssl.create_default_context(cafile=str(pair.cert_path))
        client.set_ciphers("DEFAULT:@SECLEVEL=0")  # lets this client really offer TLS 1.1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is deprecated: that is the point
            client.minimum_version, client.maximum_version = oldest, newest
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with client.wrap_socket(raw, server_hostname="localhost") as tls:
                return tls.version()

    assert version(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED) == "TLSv1.3"
    assert version(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    # The server ends the handshake (an alert, or the connection closed before one is read).
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|EOF"):
        version(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)


def test_a_pair_given_in_base64_or_half_and_half_serves_too(tmp_path: Path, pair: ServerPair) -> None:
    mixed = {"cert": {"path": str(pair.cert_path)}, "key": {"base64": _b64(pair.key_pem)}}
    serve = {"public": {"tls": _inline(pair)}, "admin": {"tls": mixed}}
    with running_warden(sqlite_selfservice_settings(tmp_path, serve=serve)) as warden:
        http = _trusting(pair)
        for url in (warden.public_url, warden.admin_url):
            assert url.startswith("https://")
            assert http.request("GET", f"{url}/health/ready").status == 200


def test_split_services_call_each_other_s_internal_api_over_https(
    tmp_path: Path, pg_dsn: str, pair: ServerPair
) -> None:
    """The internal API lives on the admin port, so it is HTTPS when that port is: the selfservice
    process reaches the identity process at an `https://` internal URL, trusting the certificate
    their shared config serves (self-signed here: no CA would vouch for it)."""
    (tmp_path / "identity").mkdir()
    (tmp_path / "rest").mkdir()
    serve = {"admin": {"tls": _files(pair)}}
    identity_settings = selfservice_settings(tmp_path / "identity", pg_dsn, serve=serve)
    with running_warden(identity_settings, [by_name("identity")]) as identity:
        assert identity.admin_url.startswith("https://")
        services = {"internal_token": INTERNAL_TOKEN, "identity": {"internal_url": identity.admin_url}}
        others = [by_name("session"), by_name("selfservice"), by_name("courier")]
        rest_settings = selfservice_settings(tmp_path / "rest", pg_dsn, serve=serve, services=services)
        with running_warden(rest_settings, others) as rest:
            flow = json.loads(urllib3.request("GET", f"{rest.public_url}/self-service/registration/api").data)
            email = f"split-{uuid.uuid4().hex[:10]}@example.com"
            registered = urllib3.request(
                "POST",
                f"{rest.public_url}/self-service/registration?flow={flow['id']}",
                json={"method": "password", "password": PASSWORD, "traits": {"email": email}},
            )
            assert registered.status == 200, registered.data
            identity_id = json.loads(registered.data)["identity"]["id"]
        fetched = _trusting(pair).request("GET", f"{identity.admin_url}/admin/identities/{identity_id}")
        assert fetched.status == 200 and json.loads(fetched.data)["traits"]["email"] == email
