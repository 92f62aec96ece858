"""Warden's `serve.admin.api_keys` (security checklist AD-2), through a whole Warden and Kratos's own
Python SDK: without keys the admin API is open, as Kratos's; with them, a call without a key or with
an unknown one is a 401, a read key cannot write, and the access log says whose key acted, never the
key. Probes, scrapers and the internal API need no admin key."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

from shared.clients.http import INTERNAL_TOKEN_HEADER
from shared.errors import ConfigError
from tests.factories import ThreadedWarden, running_warden, settings_for
from warden.services import IDENTITY

WRITER = "w" * 8 + "-writer-key-0123456789abcdefghij"
READER = "r" * 8 + "-reader-key-0123456789abcdefghij"
DIGESTED = "d" * 8 + "-digest-key-0123456789abcdefghij"
INTERNAL = "internal-token-of-this-test-0123456789"
KEYS = [
    {"name": "backoffice", "key": WRITER, "scope": "write"},
    {"name": "reports", "key": READER, "scope": "read"},
    {"name": "vault", "key_sha256": hashlib.sha256(DIGESTED.encode()).hexdigest(), "scope": "write"},
]


def _warden(tmp_path: Path, keys: list[dict[str, Any]] | None, services: Any = None) -> Iterator[ThreadedWarden]:
    extra: dict[str, Any] = {"services": {"internal_token": INTERNAL}}
    if keys is not None:
        extra["serve"] = {"admin": {"api_keys": keys}}
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.db", extra), services) as running:
        yield running


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[ThreadedWarden]:
    yield from _warden(tmp_path, KEYS)


def _sdk(warden: ThreadedWarden, key: str | None, prefix: str | None = "Bearer") -> IdentityApi:
    configuration = kratos.Configuration(host=warden.admin_url)
    if key is not None:  # how an SDK user gives the SDK a key for Kratos's `oryAccessToken` scheme
        configuration.api_key["oryAccessToken"] = key
        if prefix is not None:
            configuration.api_key_prefix["oryAccessToken"] = prefix
    return IdentityApi(kratos.ApiClient(configuration))


def _create(api: IdentityApi, email: str) -> str:
    return api.create_identity(kratos.CreateIdentityBody(schema_id="default", traits={"email": email})).id


def _refused(call: Any) -> tuple[int, dict[str, Any], Any]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["error"], caught.value.headers


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET", body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_without_keys_the_admin_api_is_open_as_kratos(tmp_path: Path) -> None:
    for warden in _warden(tmp_path, None):
        api = _sdk(warden, None)
        created = _create(api, "open@example.com")
        assert api.get_identity(created).traits["email"] == "open@example.com"


def test_a_call_without_a_key_or_with_a_wrong_one_is_401(guarded: ThreadedWarden) -> None:
    for key in (None, "not-a-key-of-this-warden-0123456789", WRITER + "x", WRITER[:-1]):
        status, error, headers = _refused(lambda key=key: _sdk(guarded, key).list_identities())
        assert status == 401, key
        assert error["code"] == 401 and error["status"] == "Unauthorized"
        assert headers["WWW-Authenticate"].startswith("Bearer")
    # A key sent under another scheme is not presented; a header of bytes that are not UTF-8 is no key.
    for header in (f"Basic {WRITER}", "Bearer ", f"Bearer {WRITER} {WRITER}", f"{WRITER}x"):
        assert _get(guarded.admin_url + "/admin/identities", {"Authorization": header}) == 401, header
    connection = http.client.HTTPConnection(guarded.admin_url.removeprefix("http://"), timeout=5)
    connection.request("GET", "/admin/identities", headers={"Authorization": "Bearer \xff\xfe"})  # sent as latin-1
    assert connection.getresponse().status == 401
    connection.close()


def test_the_key_alone_works_as_the_sdk_sends_it_without_a_prefix(guarded: ThreadedWarden) -> None:
    created = _create(_sdk(guarded, WRITER, prefix=None), "raw@example.com")
    assert _sdk(guarded, READER, prefix=None).get_identity(created).id == created


def test_kratos_unprefixed_admin_paths_are_guarded_too(guarded: ThreadedWarden) -> None:
    created = _create(_sdk(guarded, WRITER), "unprefixed@example.com")
    for path in ("/identities", f"/identities/{created}", f"/identities/{created}/sessions", "/courier/messages"):
        assert _get(guarded.admin_url + path) == 401, path
        assert _get(guarded.admin_url + path, {"Authorization": f"Bearer {READER}"}) == 200, path
    assert _get(guarded.admin_url + f"/identities/{created}", {"Authorization": READER}, "DELETE") == 403
    assert _sdk(guarded, READER).get_identity(created).id == created


def test_a_read_key_cannot_write_by_any_method(guarded: ThreadedWarden) -> None:
    created = _create(_sdk(guarded, WRITER), "methods@example.com")
    reader = {"Authorization": f"Bearer {READER}"}
    identity = guarded.admin_url + f"/admin/identities/{created}"
    replacement = {"schema_id": "default", "traits": {"email": "changed@example.com"}, "state": "active"}
    assert _get(identity, reader, "PUT", replacement) == 403
    assert (
        _get(identity, reader, "PATCH", [{"op": "replace", "path": "/traits/email", "value": "x@example.com"}]) == 403
    )
    batch = {"identities": [{"create": {"schema_id": "default", "traits": {"email": "batch@example.com"}}}]}
    assert _get(guarded.admin_url + "/admin/identities", reader, "PATCH", batch) == 403
    assert _get(identity, reader, "OPTIONS") == 403
    assert [i.traits["email"] for i in _sdk(guarded, READER).list_identities()] == ["methods@example.com"]


def test_a_read_key_does_not_read_social_sign_in_tokens(guarded: ThreadedWarden) -> None:
    created = _create(_sdk(guarded, WRITER), "tokens@example.com")
    for included in ("oidc", "saml"):
        status, error, _ = _refused(
            lambda i=included: _sdk(guarded, READER).get_identity(created, include_credential=[i])
        )
        assert status == 403 and "social sign-in" in error["reason"], included
        assert _sdk(guarded, WRITER).get_identity(created, include_credential=[included]).id == created
    assert _sdk(guarded, READER).get_identity(created, include_credential=["password"]).id == created


def _json(url: str, key: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_a_read_key_does_not_read_the_codes_the_courier_sends(tmp_path: Path) -> None:
    """A recovery anyone can start, and its code read back with a key that may only read, would be a
    sign-in as anyone: a read key sees each message but not its subject and body."""
    extra: dict[str, Any] = {
        "services": {"internal_token": INTERNAL},
        "serve": {"admin": {"api_keys": KEYS}},
        "selfservice": {
            "methods": {"code": {"enabled": True}},
            "flows": {"recovery": {"enabled": True, "use": "code"}},
        },
    }
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.db", extra)) as warden:
        _create(_sdk(warden, WRITER), "mailed@example.com")
        with urllib.request.urlopen(warden.public_url + "/self-service/recovery/api", timeout=5) as answer:
            flow = json.loads(answer.read())
        action = flow["ui"]["action"].replace("http://127.0.0.1:4433", warden.public_url.rstrip("/"))
        assert _get(action, body={"method": "code", "email": "mailed@example.com"}, method="POST") == 200
        listing = warden.admin_url + "/admin/courier/messages?recipient=mailed@example.com"
        deadline = time.monotonic() + 10
        while not (written := _json(listing, WRITER)):
            assert time.monotonic() < deadline, "no recovery mail"
            time.sleep(0.05)
        code = re.search(r"\b\d{6}\b", written[0]["body"])
        assert code is not None, written[0]["body"]
        message = warden.admin_url + f"/admin/courier/messages/{written[0]['id']}"
        assert code.group() in json.dumps(_json(message, WRITER))
        for read in (
            _json(listing, READER),
            [_json(message, READER)],
            _json(warden.admin_url + "/courier/messages", READER),
        ):
            assert [m["id"] for m in read] == [written[0]["id"]]
            assert code.group() not in json.dumps(read)
            assert read[0]["subject"] == read[0]["body"] == "[redacted]"
            assert read[0]["recipient"] == "mailed@example.com" and read[0]["template_type"] == "recovery_code_valid"


def test_a_service_alone_in_its_process_guards_its_admin_api(tmp_path: Path) -> None:
    for warden in _warden(tmp_path, KEYS, services=[IDENTITY]):
        assert _get(warden.admin_url + "/admin/identities") == 401
        assert _get(warden.admin_url + "/admin/identities", {"Authorization": f"Bearer {READER}"}) == 200


def test_a_refused_write_changes_nothing(guarded: ThreadedWarden) -> None:
    writer = _sdk(guarded, WRITER)
    created = _create(writer, "kept@example.com")
    status, _, _ = _refused(lambda: _sdk(guarded, None).delete_identity(created))
    assert status == 401
    status, error, _ = _refused(lambda: _sdk(guarded, READER).delete_identity(created))
    assert status == 403 and error["status"] == "Forbidden" and "reports" in error["reason"]
    status, _, _ = _refused(lambda: _create(_sdk(guarded, READER), "new@example.com"))
    assert status == 403
    assert [i.traits["email"] for i in writer.list_identities()] == ["kept@example.com"]


def test_a_read_key_reads_and_a_write_key_writes(guarded: ThreadedWarden) -> None:
    created = _create(_sdk(guarded, WRITER), "ada@example.com")
    assert _sdk(guarded, READER).get_identity(created).traits["email"] == "ada@example.com"
    _sdk(guarded, DIGESTED).delete_identity(created)  # a key configured by its SHA-256 alone
    status, _, _ = _refused(lambda: _sdk(guarded, READER).get_identity(created))
    assert status == 404


def test_probes_scrapers_and_the_internal_api_need_no_admin_key(guarded: ThreadedWarden) -> None:
    for path in ("/health/alive", "/health/ready", "/version", "/metrics/prometheus"):
        assert _get(guarded.admin_url + path) == 200, path
    # The internal API answers its own token, and an admin key is no substitute for it.
    internal = guarded.admin_url + "/internal/identity/identities/9f4b4a62-35f5-4d0f-9a5a-2b0d1f0b8e11"
    assert _get(internal, {INTERNAL_TOKEN_HEADER: INTERNAL}) == 404
    assert _get(internal, {"Authorization": f"Bearer {WRITER}"}) == 401
    # The public port is not the admin API's business.
    assert _get(guarded.public_url + "/self-service/login/api") == 200


def test_the_access_log_names_the_key_and_never_shows_it(
    guarded: ThreadedWarden, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="warden.http"):
        _create(_sdk(guarded, WRITER), "logged@example.com")
        _refused(
            lambda: _sdk(guarded, READER).create_identity(
                kratos.CreateIdentityBody(schema_id="default", traits={"email": "x@example.com"})
            )
        )
        _refused(lambda: _sdk(guarded, "unknown-key-of-nobody-0123456789abcdef").list_identities())
    lines = [(r.getMessage(), r.__dict__.get("api_key_name")) for r in caplog.records if r.name == "warden.http"]
    assert lines == [
        ("POST /admin/identities 201", "backoffice"),
        ("POST /admin/identities 403", "reports"),
        ("GET /admin/identities 401", None),
    ]
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert WRITER not in logged and READER not in logged and "unknown-key-of-nobody" not in logged


def test_bad_keys_stop_the_start(tmp_path: Path) -> None:
    for keys, complaint in (
        ([{"name": "a", "key": "too-short", "scope": "write"}], "minLength"),
        ([{"name": "a", "key": WRITER[:20] + " " + WRITER[20:], "scope": "write"}], "pattern"),
        ([{"name": "a", "key": WRITER, "scope": "admin"}], "scope"),
        ([{"name": "a", "scope": "read"}], "oneOf"),
        ([{"name": "a", "key": WRITER, "scope": "read"}, {"name": "b", "key": WRITER, "scope": "write"}], "same key"),
        ([{"name": "a", "key": WRITER, "scope": "read"}, {"name": "a", "key": READER, "scope": "write"}], "same name"),
    ):
        with pytest.raises(ConfigError) as refused:
            next(_warden(tmp_path, keys))
        assert complaint in str(refused.value), keys
        for key in keys:
            assert str(key.get("key"))[:16] not in str(refused.value), keys
