"""The `IdentityClient` contract every adapter keeps: the internal-HTTP one (another process's view),
the in-process one (the all-in-one's), both against one running Warden on SQLite, and the in-memory
fake the unit tests use (tests/fakes.py). Only the calls the
self-service methods lean on for credentials: find an identity by (credential type, identifier) for
any type, read and write one credential, and set the metadata a settings web hook gives."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared import errors
from shared.clients.http import InternalHttp
from shared.clients.identity import HttpIdentityClient
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.fakes import FakeIdentityClient

TOKEN = "identity-client-contract-token"


class Sync:
    """Runs each call of an async client on the Warden's loop, synchronously, for the test."""

    def __init__(self, warden: ThreadedWarden, client: Any) -> None:
        self._warden, self._client = warden, client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: self._warden.run(method(*args, **kwargs))


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("identity-client")
    settings = settings_for(directory, f"sqlite://{directory}/w.sqlite", {"services": {"internal_token": TOKEN}})
    with running_warden(settings) as running:
        yield running


@pytest.fixture(params=["http", "in_process", "fake"])
def client(request: pytest.FixtureRequest, warden: ThreadedWarden) -> Iterator[Sync]:
    if request.param == "fake":
        yield Sync(warden, FakeIdentityClient())
        return
    if request.param == "in_process":
        yield Sync(warden, warden.process.internal_api("identity"))
        return

    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = warden.run(open_session())
    try:
        yield Sync(warden, HttpIdentityClient(InternalHttp(warden.admin_url, TOKEN, session, retries=0)))
    finally:
        warden.run(session.close())


def _email(client: Sync, name: str) -> str:
    return f"{name}-{uuid.uuid4().hex}@example.org"


def test_finds_a_password_holder_by_its_identifier(client: Sync) -> None:
    email = _email(client, "pw")
    created = client.create_identity(
        {
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": "x" * 12}}},
        }
    )
    assert client.find_by_credential_identifier("password", email)["id"] == created["id"]
    assert client.find_by_credential_identifier("password", "nobody@example.org") is None
    assert client.find_by_credential_identifier("oidc", email) is None  # the type is part of the key


def test_finds_an_oidc_identity_by_provider_and_subject(client: Sync) -> None:
    subject = f"subject-{uuid.uuid4().hex}"
    providers = [{"provider": "github", "subject": subject}]
    created = client.create_identity(
        {
            "schema_id": "default",
            "traits": {"email": _email(client, "oidc")},
            "credentials": {"oidc": {"config": {"providers": providers}}},
        }
    )
    assert client.find_by_credential_identifier("oidc", f"github:{subject}")["id"] == created["id"]
    assert client.find_by_credential_identifier("oidc", f"google:{subject}") is None


def test_writes_and_reads_one_credential_with_given_identifiers(client: Sync) -> None:
    created = client.create_identity({"schema_id": "default", "traits": {"email": _email(client, "pk")}})
    handle = f"user-handle-{uuid.uuid4().hex}"
    config = {"credentials": [{"id": "a2V5", "public_key": "cHVi"}], "user_handle": handle}
    updated = client.update_credential(created["id"], "passkey", config, [handle])
    assert updated["id"] == created["id"]
    stored = client.get_credential(created["id"], "passkey")
    assert stored["config"] == config and stored["identifiers"] == [handle]
    assert client.find_by_credential_identifier("passkey", handle)["id"] == created["id"]
    # Rewriting the config without identifiers keeps them.
    client.update_credential(created["id"], "passkey", {**config, "credentials": []})
    assert client.get_credential(created["id"], "passkey")["identifiers"] == [handle]


def test_finds_an_identity_by_its_security_keys_user_handle(client: Sync) -> None:
    """Kratos's FindIdentityByWebauthnUserHandle: the `webauthn` config's handle (standard base64 as
    Kratos exports it), asked for as base64url; a passkey's or a password's identifier is no match."""
    handle = bytes([251, 255]) + uuid.uuid4().bytes
    config = {"credentials": [{"id": "a2V5", "public_key": "cHVi"}], "user_handle": base64.b64encode(handle).decode()}
    body = {
        "schema_id": "default",
        "traits": {"email": _email(client, "wa")},
        "credentials": {"webauthn": {"config": config}},
    }
    created = client.create_identity(body)
    encoded = base64.urlsafe_b64encode(handle).rstrip(b"=").decode()
    assert client.find_by_webauthn_user_handle(encoded)["id"] == created["id"]
    assert client.find_by_webauthn_user_handle(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()) is None
    assert client.find_by_webauthn_user_handle("") is None


def test_its_owner_removes_a_passkey_credential_while_another_way_in_is_left(client: Sync) -> None:
    """Self-service drops the passkey credential with its last key (Kratos's passkey settings); the
    admin API may not delete it (tests/integration/test_passkey_native.py)."""
    password = {"password": {"config": {"password": f"pw-{uuid.uuid4().hex}"}}}
    body = {"schema_id": "default", "traits": {"email": _email(client, "pk-drop")}, "credentials": password}
    created = client.create_identity(body)
    handle = f"user-handle-{uuid.uuid4().hex}"
    client.update_credential(
        created["id"], "passkey", {"credentials": [{"id": "a2V5"}], "user_handle": handle}, [handle]
    )
    updated = client.remove_credential(created["id"], "passkey")
    assert "passkey" not in updated["credentials"] and client.get_credential(created["id"], "passkey") is None
    assert client.find_by_credential_identifier("passkey", handle) is None


def test_derived_identifiers_cannot_be_given(client: Sync) -> None:
    email = _email(client, "derived")
    created = client.create_identity({"schema_id": "default", "traits": {"email": email}})
    with pytest.raises(errors.BadRequest):
        client.update_credential(created["id"], "password", {"password": "y" * 12}, ["someone-else@example.org"])
    assert client.find_by_credential_identifier("password", "someone-else@example.org") is None


def test_deletes_one_provider_of_a_social_sign_in_credential(client: Sync) -> None:
    subject = f"subject-{uuid.uuid4().hex}"
    providers = [{"provider": "github", "subject": subject}, {"provider": "google", "subject": subject}]
    created = client.create_identity(
        {
            "schema_id": "default",
            "traits": {"email": _email(client, "unlink")},
            "credentials": {"oidc": {"config": {"providers": providers}}},
        }
    )
    client.remove_credential(created["id"], "oidc", f"github:{subject}")
    assert client.find_by_credential_identifier("oidc", f"github:{subject}") is None
    assert client.find_by_credential_identifier("oidc", f"google:{subject}")["id"] == created["id"]
    with pytest.raises(errors.NotFound):
        client.remove_credential(created["id"], "oidc", f"github:{subject}")  # gone already


def test_a_write_saves_the_metadata_a_settings_web_hook_gave_and_keeps_what_it_did_not(client: Sync) -> None:
    created = client.create_identity(
        {"schema_id": "default", "traits": {"email": _email(client, "meta")}, "metadata_admin": {"tier": 1}}
    )
    traits = {"email": _email(client, "meta-new")}
    updated = client.update_traits(created["id"], traits, {"metadata_public": {"plan": "pro", "seats": [1, 2]}})
    assert updated["traits"] == traits
    assert (updated["metadata_public"], updated["metadata_admin"]) == ({"plan": "pro", "seats": [1, 2]}, {"tier": 1})
    client.update_credential(
        created["id"], "password", {"password": "a long new password"}, None, {"metadata_admin": None}
    )
    stored = client.get_identity(created["id"])
    assert (stored["metadata_public"], stored["metadata_admin"]) == ({"plan": "pro", "seats": [1, 2]}, None)
    assert stored["traits"] == traits
    client.update_credential(
        created["id"], "totp", {"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}
    )
    client.remove_credential(created["id"], "totp", None, {"metadata_public": {"plan": "free"}})
    stored = client.get_identity(created["id"])
    assert stored["metadata_public"] == {"plan": "free"} and client.get_credential(created["id"], "totp") is None
    with pytest.raises(errors.NotFound):
        client.update_traits(str(uuid.uuid4()), traits, {"metadata_public": {}})


def test_metadata_is_not_saved_when_its_write_is_refused(client: Sync) -> None:
    def with_password(name: str) -> dict[str, Any]:
        email = _email(client, name)
        password = {"config": {"password": "a long enough password"}}
        return client.create_identity(
            {"schema_id": "default", "traits": {"email": email}, "credentials": {"password": password}}
        )

    created, taken = with_password("refused"), with_password("taken")
    with pytest.raises(errors.Conflict):  # the address is another identity's sign-in identifier
        client.update_traits(created["id"], taken["traits"], {"metadata_public": {"plan": "pro"}})
    assert client.get_identity(created["id"])["metadata_public"] is None


def test_an_address_is_marked_verified_only_on_the_identity_named(client: Sync) -> None:
    """A flow proves an address for one account: named, the mark is refused (None) when another
    identity holds the address, and that identity's address stays unverified."""
    email = _email(client, "mark")
    holder = client.create_identity({"schema_id": "default", "traits": {"email": email}})
    other = client.create_identity({"schema_id": "default", "traits": {"email": _email(client, "other")}})
    assert client.mark_address_verified("email", email, identity_id=other["id"]) is None
    assert client.get_identity(holder["id"])["verifiable_addresses"][0]["verified"] is False
    marked = client.mark_address_verified("email", email, identity_id=holder["id"])
    assert marked["id"] == holder["id"] and marked["verifiable_addresses"][0]["verified"] is True


# A set of backup codes as a self-service of before the KDF writes it: keyed hashes only.
KEYED_SET = {"salt": "0f" * 16, "recovery_codes": [{"hash": f"{i:064x}", "used_at": None} for i in range(12)]}


def test_a_keyed_hash_set_of_backup_codes_is_read_and_written_as_it_is(client: Sync) -> None:
    """A self-service of before the KDF (shared.backup_codes), during a rolling upgrade, confirms new
    codes as keyed hashes and checks only those: unless asked to seal, the identity service stores
    and hands back such a set as it is."""
    created = client.create_identity({"schema_id": "default", "traits": {"email": _email(client, "codes")}})
    client.update_credential(created["id"], "lookup_secret", KEYED_SET)
    assert client.get_credential(created["id"], "lookup_secret")["config"] == KEYED_SET
    assert client.get_credential(created["id"], "lookup_secret")["config"] == KEYED_SET


@pytest.mark.parametrize("adapter", ["http", "in_process"])
def test_a_keyed_hash_set_is_sealed_when_the_reader_asks(warden: ThreadedWarden, adapter: str) -> None:
    """A self-service that checks codes under the KDF asks for the set sealed: it comes back, and
    stays, under argon2id, with no keyed hash left."""
    session = warden.run(_open_session())
    try:
        inner = (
            warden.process.internal_api("identity")
            if adapter == "in_process"
            else HttpIdentityClient(InternalHttp(warden.admin_url, TOKEN, session, retries=0))
        )
        client = Sync(warden, inner)
        created = client.create_identity({"schema_id": "default", "traits": {"email": _email(client, "seal")}})
        client.update_credential(created["id"], "lookup_secret", KEYED_SET)
        sealed = client.get_credential(created["id"], "lookup_secret", seal_backup_codes=True)["config"]
        assert sealed["kdf"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert not {e["hash"] for e in KEYED_SET["recovery_codes"]} & {e["hash"] for e in sealed["recovery_codes"]}
        assert client.get_credential(created["id"], "lookup_secret")["config"] == sealed
    finally:
        warden.run(session.close())


async def _open_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()
