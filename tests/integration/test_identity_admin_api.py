"""The identity admin API through Kratos's own Python SDK, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

from tests.factories import ThreadedWarden, running_warden, settings_for


@pytest.fixture
def warden(tmp_path: Path, any_dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, any_dsn)) as running:
        yield running


@pytest.fixture
def api(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client:
        yield IdentityApi(client)


def _create(api: IdentityApi, email: str = "Ada@Example.com", **body: Any):  # type: ignore[no-untyped-def]
    return api.create_identity(kratos.CreateIdentityBody(schema_id="default", traits={"email": email}, **body))


def _error(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["error"]


def test_create_returns_the_identity_with_derived_addresses_and_no_secrets(api: IdentityApi) -> None:
    created = _create(
        api,
        "Ada@Example.COM",
        credentials=kratos.IdentityWithCredentials(
            password=kratos.IdentityWithCredentialsPassword(
                config=kratos.IdentityWithCredentialsPasswordConfig(password="correct horse battery")
            )
        ),
    )
    assert created.schema_id == "default"
    assert created.schema_url == "http://127.0.0.1:4433/schemas/ZGVmYXVsdA"
    assert created.state == "active"
    assert [(a.value, a.via, a.verified, a.status) for a in created.verifiable_addresses] == [
        ("ada@example.com", "email", False, "pending")
    ]
    assert [(a.value, a.via) for a in created.recovery_addresses] == [("ada@example.com", "email")]
    assert created.credentials["password"].identifiers == ["ada@example.com"]
    fetched = api.get_identity(created.id, include_credential=["password"])
    raw = json.dumps(fetched.to_dict(), default=str)
    assert "hashed_password" not in raw and "correct horse" not in raw and "$2a$" not in raw


def test_get_unknown_identity_is_404(api: IdentityApi) -> None:
    status, error = _error(lambda: api.get_identity("9f4b4a62-35f5-4d0f-9a5a-2b0d1f0b8e11"))
    assert status == 404 and error["code"] == 404


def test_invalid_traits_are_400_naming_the_field(api: IdentityApi) -> None:
    status, error = _error(lambda: _create(api, "not-an-email"))
    assert status == 400
    assert "#/traits/email" in error["reason"]
    status, error = _error(lambda: api.create_identity(kratos.CreateIdentityBody(schema_id="default", traits={})))
    assert status == 400 and "email" in error["reason"]


def test_unknown_schema_is_400(api: IdentityApi) -> None:
    status, _ = _error(
        lambda: api.create_identity(kratos.CreateIdentityBody(schema_id="nope", traits={"email": "a@b.co"}))
    )
    assert status == 400


def test_duplicate_identifier_and_external_id_are_409(api: IdentityApi) -> None:
    _create(api, "grace@example.com", external_id="crm-1")
    status, error = _error(lambda: _create(api, "GRACE@example.com"))
    assert status == 409 and error["reason"] == "This identity conflicts with another identity that already exists."
    status, _ = _error(lambda: _create(api, "other@example.com", external_id="crm-1"))
    assert status == 409
    assert api.get_identity_by_external_id("crm-1").traits["email"] == "grace@example.com"


def test_malformed_json_is_400(warden: ThreadedWarden) -> None:
    response = urllib3.request(
        "POST", f"{warden.admin_url}/admin/identities", body=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert json.loads(response.data)["error"]["code"] == 400


def test_an_import_keeps_the_verified_addresses_its_traits_hold(warden: ThreadedWarden, api: IdentityApi) -> None:
    """Kratos's `createIdentityBody.verifiable_addresses`: a migration brings its users' verified
    addresses as verified (else `require_verified_address` would lock them out). What the traits do
    not hold is dropped; the ids are the server's."""
    foreign_id = "00000000-0000-4000-8000-00000000beef"
    body = {
        "schema_id": "default",
        "traits": {"email": "Mig@Example.com"},
        "verifiable_addresses": [
            {"id": foreign_id, "value": "Mig@Example.com", "via": "email", "verified": True, "status": "completed"},
            {"value": "elsewhere@example.com", "via": "email", "verified": True, "status": "completed"},
        ],
        "recovery_addresses": [{"id": foreign_id, "value": "mig@example.com", "via": "email"}],
    }
    response = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert response.status == 201, response.data
    created = api.get_identity(json.loads(response.data)["id"])
    [address] = created.verifiable_addresses
    assert (address.value, address.verified, address.status) == ("mig@example.com", True, "completed")
    assert address.verified_at is not None and address.id != foreign_id
    assert [(a.value, a.id != foreign_id) for a in created.recovery_addresses] == [("mig@example.com", True)]

    given_at = "2021-03-04T05:06:07Z"
    batch = api.batch_patch_identities(
        kratos.PatchIdentitiesBody(
            identities=[
                kratos.IdentityPatch(
                    create=kratos.CreateIdentityBody(
                        schema_id="default",
                        traits={"email": "batch@example.com"},
                        verifiable_addresses=[
                            kratos.VerifiableIdentityAddress(
                                value="batch@example.com",
                                via="email",
                                verified=True,
                                status="completed",
                                verified_at=given_at,
                            )
                        ],
                    )
                )
            ]
        )
    )
    [imported] = api.get_identity(batch.identities[0].identity).verifiable_addresses
    assert imported.verified is True and imported.verified_at.isoformat() == "2021-03-04T05:06:07+00:00"


@pytest.mark.parametrize(
    "address",
    [
        {"value": "x@example.com", "via": "email", "verified": "true", "status": "completed"},
        {"value": "x@example.com", "via": "pigeon", "verified": True, "status": "completed"},
        {"value": "x@example.com", "via": "email", "verified": True, "status": "done"},
        {"value": "x@example.com", "via": "email", "verified": True},
        {"value": "x@example.com", "via": "email", "verified": True, "status": "completed", "verified_at": "yesterday"},
    ],
    ids=["verified-a-string", "unknown-via", "unknown-status", "no-status", "bad-verified-at"],
)
def test_a_malformed_imported_address_is_a_400_and_nothing_is_created(
    warden: ThreadedWarden, api: IdentityApi, address: dict[str, Any]
) -> None:
    body = {"schema_id": "default", "traits": {"email": "x@example.com"}, "verifiable_addresses": [address]}
    response = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert response.status == 400, response.data
    assert "verifiable_addresses" in json.loads(response.data)["error"]["reason"]
    assert api.list_identities(credentials_identifier="x@example.com") == []


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        target, rel = part.split("; ")
        if rel == 'rel="next"':
            return target.strip("<>")
    return None


def test_list_pages_with_tokens_and_link_header(api: IdentityApi, warden: ThreadedWarden) -> None:
    made = {_create(api, f"user{i}@example.com").id for i in range(5)}
    seen: list[str] = []
    url = f"{warden.admin_url}/admin/identities?page_size=2"
    while url:
        response = urllib3.request("GET", url)
        seen += [i["id"] for i in json.loads(response.data)]
        following = _next_link(response.headers["Link"])
        url = f"{warden.admin_url}{following}" if following else ""
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert len(api.list_identities(page_size=2)) == 2


def test_per_page_alone_is_the_page_size_as_in_kratos(api: IdentityApi, warden: ThreadedWarden) -> None:
    """Kratos's ParseKeysetOrPagePagination: without `page_size` or `page_token` (or `page`), the
    deprecated `per_page` is the page size, and the pages go on by token."""
    made = {_create(api, f"per-page{i}@example.com").id for i in range(3)}
    first = urllib3.request("GET", f"{warden.admin_url}/admin/identities?per_page=2")
    assert first.status == 200 and len(json.loads(first.data)) == 2
    following = _next_link(first.headers["Link"])
    assert following is not None and "page_size=2" in following and "per_page" not in following
    rest = json.loads(urllib3.request("GET", f"{warden.admin_url}{following}").data)
    assert {i["id"] for i in json.loads(first.data) + rest} == made
    assert len(api.list_identities(per_page=1)) == 1


def _links(header: str) -> dict[str, str]:
    return {rel.split('"')[1]: target.strip("<>") for target, rel in (p.split("; ") for p in header.split(","))}


def test_page_numbers_still_page_as_in_kratos(api: IdentityApi, warden: ThreadedWarden) -> None:
    """Kratos's ParseKeysetOrPagePagination: `page` without `page_size` or `page_token` is the
    deprecated numbered pagination, pages from 0 with `X-Total-Count` and numbered links; a client
    that walks `page=0,1,2…` must not be served the first page again and again."""
    made = sorted(_create(api, f"numbered{i}@example.com").id for i in range(5))
    url = f"{warden.admin_url}/admin/identities"
    pages = [urllib3.request("GET", f"{url}?page={n}&per_page=2") for n in range(4)]
    assert [[i["id"] for i in json.loads(p.data)] for p in pages] == [made[0:2], made[2:4], made[4:], []]
    assert {p.headers["X-Total-Count"] for p in pages} == {"5"}
    first, middle, last = (_links(p.headers["Link"]) for p in pages[:3])
    assert first == {"next": "/admin/identities?page=1&per_page=2", "last": "/admin/identities?page=2&per_page=2"}
    assert set(middle) == {"first", "next", "prev", "last"} and middle["next"].endswith("page=2&per_page=2")
    assert set(last) == {"first", "prev"}
    assert [i.id for i in api.list_identities(page=1, per_page=2)] == made[2:4]
    assert "X-Total-Count" not in urllib3.request("GET", f"{url}?page_size=2").headers
    refused = urllib3.request("GET", f"{url}?page=3&per_page=500")
    assert refused.status == 400, refused.data
    assert "page_token and page_size" in json.loads(refused.data)["error"]["reason"]


def test_list_filters_by_identifier_and_ids(api: IdentityApi) -> None:
    first, second = _create(api, "one@example.com"), _create(api, "two@example.com")
    _create(api, "three@example.com")
    assert [i.id for i in api.list_identities(credentials_identifier="two@example.com")] == [second.id]
    assert sorted(i.id for i in api.list_identities(ids=[first.id, second.id])) == sorted([first.id, second.id])


def test_a_full_last_page_has_no_next_link(api: IdentityApi, warden: ThreadedWarden) -> None:
    """Kratos's keyset paginator reads one row more than the page: `next` only when another page
    follows, so a list of exactly `page_size` items is one page, not one and an empty one."""
    made = {_create(api, f"exact{i}@example.com").id for i in range(3)}
    response = urllib3.request("GET", f"{warden.admin_url}/admin/identities?page_size=3")
    assert {i["id"] for i in json.loads(response.data)} == made
    assert _next_link(response.headers["Link"]) is None, response.headers["Link"]
    two = urllib3.request("GET", f"{warden.admin_url}/admin/identities?page_size=2")
    following = _next_link(two.headers["Link"])
    assert following is not None
    last = urllib3.request("GET", f"{warden.admin_url}{following}")
    assert len(json.loads(last.data)) == 1 and _next_link(last.headers["Link"]) is None


def test_update_replaces_and_keeps_verification_of_unchanged_addresses(api: IdentityApi) -> None:
    created = _create(api, "lin@example.com")
    api.patch_identity(
        created.id,
        json_patch=[
            kratos.JsonPatch(op="replace", path="/verifiable_addresses/0/verified", value=True),
            kratos.JsonPatch(op="replace", path="/verifiable_addresses/0/status", value="completed"),
        ],
    )
    kept = api.update_identity(
        created.id,
        kratos.UpdateIdentityBody(
            schema_id="default",
            state="active",
            traits={"email": "lin@example.com", "name": {"first": "Lin"}},
            metadata_public={"plan": "pro"},
        ),
    )
    assert kept.verifiable_addresses[0].verified is True and kept.metadata_public == {"plan": "pro"}
    moved = api.update_identity(
        created.id,
        kratos.UpdateIdentityBody(schema_id="default", state="inactive", traits={"email": "lin@new.example"}),
    )
    assert [(a.value, a.verified) for a in moved.verifiable_addresses] == [("lin@new.example", False)]
    assert moved.state == "inactive" and moved.state_changed_at is not None
    assert moved.credentials["code"].identifiers == ["lin@new.example"]


def test_json_patch_that_breaks_the_schema_changes_nothing(api: IdentityApi) -> None:
    created = _create(api, "mo@example.com")
    status, error = _error(
        lambda: api.patch_identity(
            created.id, json_patch=[kratos.JsonPatch(op="replace", path="/traits/email", value="broken")]
        )
    )
    assert status == 400 and "#/traits/email" in error["reason"]
    status, _ = _error(
        lambda: api.patch_identity(created.id, json_patch=[kratos.JsonPatch(op="remove", path="/traits/nothing")])
    )
    assert status == 400
    status, _ = _error(
        lambda: api.patch_identity(created.id, json_patch=[kratos.JsonPatch(op="replace", path="/id", value="x")])
    )
    assert status == 400
    assert api.get_identity(created.id).traits == {"email": "mo@example.com"}
    patched = api.patch_identity(
        created.id, json_patch=[kratos.JsonPatch(op="add", path="/metadata_admin", value={"tier": 2})]
    )
    assert patched.metadata_admin == {"tier": 2}


def test_json_patch_values_of_the_wrong_type_are_refused_not_stored(api: IdentityApi, warden: ThreadedWarden) -> None:
    created = _create(api, "typed@example.com")
    url = f"{warden.admin_url}/admin/identities/{created.id}"
    for patch in (
        [{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": "false"}],  # a string, truthy
        [{"op": "replace", "path": "/verifiable_addresses/0/status", "value": {"x": 1}}],
        [{"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed-by-admin"}],
        [{"op": "add", "path": "/external_id", "value": 42}],
        [{"op": "add", "path": "/external_id", "value": "x" * 256}],
        [{"op": "replace", "path": "", "value": {"traits": {"email": "typed@example.com"}}}],  # the whole document
    ):
        answer = urllib3.request("PATCH", url, json=patch)
        assert answer.status == 400, (patch, answer.data)
        assert json.loads(answer.data)["error"]["code"] == 400
    unchanged = api.get_identity(created.id)
    assert [(a.verified, a.status) for a in unchanged.verifiable_addresses] == [(False, "pending")]
    assert unchanged.external_id is None
    verified = [{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": True}]
    assert urllib3.request("PATCH", url, json=verified).status == 200
    assert api.get_identity(created.id).verifiable_addresses[0].verified is True


def test_batch_import_answers_each_item_and_one_bad_item_does_not_stop_the_others(api: IdentityApi) -> None:
    _create(api, "taken@example.com")
    items = [
        kratos.IdentityPatch(
            patch_id="00000000-0000-4000-8000-000000000001",
            create=kratos.CreateIdentityBody(schema_id="default", traits={"email": "new1@example.com"}),
        ),
        kratos.IdentityPatch(
            patch_id="00000000-0000-4000-8000-000000000002",
            create=kratos.CreateIdentityBody(schema_id="default", traits={"email": "bad"}),
        ),
        kratos.IdentityPatch(
            patch_id="00000000-0000-4000-8000-000000000003",
            create=kratos.CreateIdentityBody(schema_id="default", traits={"email": "taken@example.com"}),
        ),
        kratos.IdentityPatch(
            patch_id="00000000-0000-4000-8000-000000000004",
            create=kratos.CreateIdentityBody(schema_id="default", traits={"email": "new2@example.com"}),
        ),
    ]
    results = api.batch_patch_identities(kratos.PatchIdentitiesBody(identities=items)).identities
    assert [r.action for r in results] == ["create", "error", "error", "create"]
    assert [r.patch_id for r in results] == [i.patch_id for i in items]
    assert results[2].error["code"] == 409 if isinstance(results[2].error, dict) else True
    assert api.get_identity(results[3].identity).traits["email"] == "new2@example.com"


def test_a_username_is_held_by_an_identity_without_a_password(api: IdentityApi) -> None:
    """Kratos's identity schema extension makes the identifier's credential even before a password
    is set: an identity made with a social sign-in only, or none, holds its username all the same."""
    social = kratos.IdentityWithCredentialsOidc(
        config=kratos.IdentityWithCredentialsOidcConfig(
            providers=[kratos.IdentityWithCredentialsOidcConfigProvider(provider="google", subject="c1")]
        )
    )
    first = api.create_identity(
        kratos.CreateIdentityBody(
            schema_id="username",
            traits={"username": "carol_demo"},
            credentials=kratos.IdentityWithCredentials(oidc=social),
        )
    )
    assert api.get_identity(first.id).credentials["password"].identifiers == ["carol_demo"]
    password = kratos.IdentityWithCredentials(
        password=kratos.IdentityWithCredentialsPassword(
            config=kratos.IdentityWithCredentialsPasswordConfig(password="a long enough password")
        )
    )
    for spelling, credentials in (("Carol_Demo", password), ("carol_demo", None)):
        body = kratos.CreateIdentityBody(schema_id="username", traits={"username": spelling}, credentials=credentials)
        status, _ = _error(lambda body=body: api.create_identity(body))
        assert status == 409, spelling
    found = api.list_identities(credentials_identifier="carol_demo")
    assert [i.id for i in found] == [first.id]


def test_delete_and_delete_credentials(api: IdentityApi) -> None:
    password = kratos.IdentityWithCredentials(
        password=kratos.IdentityWithCredentialsPassword(
            config=kratos.IdentityWithCredentialsPasswordConfig(password="a long enough password")
        )
    )
    lone = api.create_identity(
        kratos.CreateIdentityBody(schema_id="username", traits={"username": "solo"}, credentials=password)
    )
    status, error = _error(lambda: api.delete_identity_credentials(lone.id, "password"))
    assert status == 400 and error["reason"] == "You cannot remove the last first factor credential."
    # The login code every email identity has is no way in unless passwordless codes are on
    # (they are off here), so an email identity's only password is its last way in too.
    emailed = _create(api, "password-only@example.com", credentials=password)
    status, error = _error(lambda: api.delete_identity_credentials(emailed.id, "password"))
    assert status == 400 and error["reason"] == "You cannot remove the last first factor credential."
    social = kratos.IdentityWithCredentialsOidcConfigProvider(provider="google", subject="g-1")
    both = _create(
        api,
        "two-factors@example.com",
        credentials=kratos.IdentityWithCredentials(
            password=password.password,
            oidc=kratos.IdentityWithCredentialsOidc(
                config=kratos.IdentityWithCredentialsOidcConfig(providers=[social])
            ),
        ),
    )
    status, error = _error(lambda: api.delete_identity_credentials(both.id, "oidc"))  # which provider?
    assert status == 400 and error["reason"] == "You must provide an identifier to delete this credential."
    api.delete_identity_credentials(both.id, "oidc", identifier="google:g-1")
    assert "oidc" not in api.get_identity(both.id).credentials
    api.delete_identity(both.id)
    assert _error(lambda: api.get_identity(both.id))[0] == 404
    assert _error(lambda: api.delete_identity(both.id))[0] == 404


def test_schemas_are_served_on_the_public_port(warden: ThreadedWarden) -> None:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        api = IdentityApi(client)
        assert [s.id for s in api.list_identity_schemas()] == ["default", "username"]
        by_encoded = api.get_identity_schema("ZGVmYXVsdA")
        assert by_encoded["properties"]["traits"]["required"] == ["email"]
        assert api.get_identity_schema("username")["properties"]["traits"]["required"] == ["username"]
        with pytest.raises(ApiException) as caught:
            api.get_identity_schema("missing")
        assert caught.value.status == 404


def test_admin_paths_also_answer_without_the_admin_prefix(api: IdentityApi, warden: ThreadedWarden) -> None:
    created = _create(api, "prefix@example.com")
    response = urllib3.request("GET", f"{warden.admin_url}/identities/{created.id}")
    assert response.status == 200 and json.loads(response.data)["id"] == created.id
    # The admin API is never served on the public port: Kratos answers with a redirect to the admin port.
    on_public = urllib3.request("GET", f"{warden.public_url}/admin/identities", redirect=False)
    assert on_public.status == 307 and on_public.headers["Location"] == f"{warden.admin_url}/admin/identities"
    assert created.id.encode() not in on_public.data


# Python's decoder reads these (and a number past a double's range as infinity); stored, they made
# every answer carrying them invalid JSON. One case takes the path where orjson does not read first
# (a run of 19 digits or more).
NON_STANDARD_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "[NaN, 12345678901234567890]")


@pytest.mark.parametrize("number", NON_STANDARD_NUMBERS)
def test_nan_and_infinity_are_refused_as_malformed_json_everywhere(warden: ThreadedWarden, number: str) -> None:
    admin = f"{warden.admin_url}/admin/identities"
    created = urllib3.request("POST", admin, json={"schema_id": "default", "traits": {"email": "nan@example.com"}})
    identity = f"{admin}/{json.loads(created.data)['id']}"
    metadata = f'"metadata_public":{{"score":{number}}}'
    body = f'{{"schema_id":"default","state":"active","traits":{{"email":"nan@example.com"}},{metadata}}}'
    for method, url, raw in (
        ("POST", admin, body.replace("nan@", "other@")),
        ("PUT", identity, body),
        ("PATCH", identity, f'[{{"op":"add","path":"/metadata_public","value":{number}}}]'),
        ("PATCH", admin, f'{{"identities":[{{"create":{body.replace("nan@", "batch@")}}}]}}'),
    ):
        answer = urllib3.request(method, url, body=raw.encode(), headers={"Content-Type": "application/json"})
        assert answer.status == 400, (method, url, answer.data)
        error = json.loads(answer.data)["error"]
        assert error["code"] == 400 and error["reason"].startswith("The request body is not valid JSON"), error
    listed = urllib3.request("GET", admin)
    assert [i["metadata_public"] for i in json.loads(listed.data)] == [None]  # strict JSON: no NaN stored


def test_an_external_id_longer_than_its_column_is_a_400_naming_it(api: IdentityApi, warden: ThreadedWarden) -> None:
    # PostgreSQL refused it with a 500 (DataError); SQLite stored it.
    status, error = _error(lambda: _create(api, "long@example.com", external_id="x" * 256))
    assert status == 400 and "external_id" in error["reason"], error
    created = _create(api, "long@example.com", external_id="x" * 255)
    assert created.external_id == "x" * 255
    body = {
        "schema_id": "default",
        "state": "active",
        "traits": {"email": "long@example.com"},
        "external_id": "y" * 256,
    }
    answer = urllib3.request("PUT", f"{warden.admin_url}/admin/identities/{created.id}", json=body)
    assert answer.status == 400 and "external_id" in json.loads(answer.data)["error"]["reason"], answer.data
    assert api.get_identity(created.id).external_id == "x" * 255
    assert [i.id for i in api.list_identities()] == [created.id]


def test_a_batch_item_with_an_over_long_external_id_gets_its_own_400_and_the_others_are_stored(
    api: IdentityApi,
) -> None:
    items = [
        kratos.IdentityPatch(
            patch_id=f"00000000-0000-4000-8000-00000000000{n}",
            create=kratos.CreateIdentityBody(
                schema_id="default", traits={"email": f"batch{n}@example.com"}, external_id=external_id
            ),
        )
        for n, external_id in enumerate(["crm-1", "z" * 256, None])
    ]
    results = api.batch_patch_identities(kratos.PatchIdentitiesBody(identities=items)).identities
    assert [r.action for r in results] == ["create", "error", "create"]
    assert [r.patch_id for r in results] == [i.patch_id for i in items]
    error = results[1].error
    assert error["code"] == 400 and "external_id" in error["reason"], error
    assert api.get_identity(results[0].identity).external_id == "crm-1"
    assert api.get_identity(results[2].identity).traits["email"] == "batch2@example.com"
    assert len(api.list_identities()) == 2


@pytest.mark.parametrize(
    "token",
    [
        "AAAA",  # three NUL bytes: PostgreSQL refused the query with a 500
        "bm90LWEtdXVpZA",  # "not-a-uuid"
        "OUY0QjRBNjItMzVGNS00RDBGLTlBNUEtMkIwRDFGMEI4RTEx",  # a UUID, but upper-case: never one Warden gives
        "_w",  # not UTF-8
        "A",  # not base64
    ],
)
def test_a_crafted_page_token_is_kratos_s_400(api: IdentityApi, warden: ThreadedWarden, token: str) -> None:
    _create(api, "paged@example.com")
    answer = urllib3.request("GET", f"{warden.admin_url}/admin/identities", fields={"page_token": token})
    assert answer.status == 400, answer.data
    error = json.loads(answer.data)["error"]
    assert error["code"] == 400 and error["reason"] == "The page token is invalid, do not craft your own page tokens"


def _social(subject: str) -> kratos.IdentityWithCredentials:
    provider = kratos.IdentityWithCredentialsOidcConfigProvider(provider="google", subject=subject)
    return kratos.IdentityWithCredentials(
        oidc=kratos.IdentityWithCredentialsOidc(config=kratos.IdentityWithCredentialsOidcConfig(providers=[provider]))
    )


def test_credentials_identifier_is_searched_as_identifiers_are_stored(api: IdentityApi) -> None:
    password = kratos.IdentityWithCredentials(
        password=kratos.IdentityWithCredentialsPassword(
            config=kratos.IdentityWithCredentialsPasswordConfig(password="a long enough password")
        )
    )
    someone = _create(api, "someone@example.com", credentials=password)
    alice = api.create_identity(
        kratos.CreateIdentityBody(schema_id="username", traits={"username": "alice"}, credentials=password)
    )
    for searched, expected in (
        ("someone@example.com", someone.id),
        ("Someone@Example.com", someone.id),  # found nothing: only whitespace was stripped
        (" SOMEONE@EXAMPLE.COM ", someone.id),
        ("ALICE", alice.id),
        ("ａｌｉｃｅ", alice.id),  # fullwidth, folded by NFKC as the stored identifier was
    ):
        assert [i.id for i in api.list_identities(credentials_identifier=searched)] == [expected], searched
    # A social sign-in's provider:subject is matched as given (Kratos): subjects are case-sensitive.
    upper, lower = (
        _create(api, "upper@example.com", credentials=_social("Sub-A")),
        _create(api, "lower@example.com", credentials=_social("sub-a")),
    )
    assert [i.id for i in api.list_identities(credentials_identifier="google:Sub-A")] == [upper.id]
    assert [i.id for i in api.list_identities(credentials_identifier="google:sub-a")] == [lower.id]
    assert api.list_identities(credentials_identifier="google:SUB-A") == []


def test_an_empty_credentials_identifier_is_no_filter(api: IdentityApi, warden: ThreadedWarden) -> None:
    made = sorted(_create(api, f"empty{i}@example.com").id for i in range(3))
    url = f"{warden.admin_url}/admin/identities"
    listed = urllib3.request("GET", url, fields={"credentials_identifier": "", "page_size": "2"})
    assert listed.status == 200 and [i["id"] for i in json.loads(listed.data)] == made[:2]
    assert _next_link(listed.headers["Link"]), "a page of everything has a next page"
    both = urllib3.request("GET", url, fields=[("credentials_identifier", ""), ("ids", made[2])])
    assert both.status == 200 and [i["id"] for i in json.loads(both.data)] == [made[2]]


def _send(warden: ThreadedWarden, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = urllib3.request(method, f"{warden.admin_url}{path}", json=body)
    return response.status, json.loads(response.data) if response.data else {}


def test_unknown_top_level_fields_are_refused_as_kratos_s_strict_decoder_refuses_them(
    warden: ThreadedWarden, api: IdentityApi
) -> None:
    """A typo (`metadata_publc`) silently dropped would lose what the admin meant to store; and a
    whole identity sent back from a GET (its `id`, `created_at`, …) is not an update body."""
    body = {"schema_id": "default", "traits": {"email": "strict@example.com"}, "metadata_publc": {"plan": "pro"}}
    status, answer = _send(warden, "POST", "/admin/identities", body)
    assert status == 400 and answer["error"]["reason"] == 'json: unknown field "metadata_publc"', answer
    assert not [i for i in api.list_identities() if i.traits["email"] == "strict@example.com"]

    identity = _create(api, "strict@example.com")
    whole = json.loads(urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity.id}").data)
    status, answer = _send(warden, "PUT", f"/admin/identities/{identity.id}", whole)
    assert status == 400 and answer["error"]["reason"].startswith("json: unknown field"), answer
    batch = {"identities": [{"create": body}]}
    status, answer = _send(warden, "PATCH", "/admin/identities", batch)
    assert status == 400 and answer["error"]["reason"] == 'json: unknown field "metadata_publc"', answer


def test_list_filters_do_not_combine_the_organization_included(warden: ThreadedWarden) -> None:
    """Kratos's parseListIdentitiesParameters counts `organization_id` as one of the filters, none of
    which goes with another; its reasons name the parameter at fault."""
    organization, some_id = "6f3b1c54-2a4e-4f0d-9a43-1f2e3d4c5b6a", "9f4b4a62-35f5-4d0f-9a5a-2b0d1f0b8e11"
    for query in (
        f"organization_id={organization}&ids={some_id}",
        f"organization_id={organization}&credentials_identifier=a@example.com",
        "credentials_identifier=a@example.com&preview_credentials_identifier_similar=a",
    ):
        status, answer = _send(warden, "GET", f"/admin/identities?{query}", None)
        assert status == 400, (query, answer)
        assert answer["error"]["reason"] == "You cannot combine multiple filters in this API", answer
    status, answer = _send(warden, "GET", "/admin/identities?ids=nope", None)
    assert status == 400 and answer["error"]["reason"] == "Invalid UUID value `nope` for parameter `ids`.", answer


def test_a_create_keeps_its_organization_and_takes_a_region(warden: ThreadedWarden) -> None:
    organization = "6f3b1c54-2a4e-4f0d-9a43-1f2e3d4c5b6a"
    body = {
        "schema_id": "default",
        "traits": {"email": "org@example.com"},
        "organization_id": organization,
        "region": "eu-central",
    }
    status, created = _send(warden, "POST", "/admin/identities", body)
    assert status == 201 and created["organization_id"] == organization, created
    status, found = _send(warden, "GET", f"/admin/identities?organization_id={organization}", None)
    assert status == 200 and [i["id"] for i in found] == [created["id"]]
    status, answer = _send(warden, "POST", "/admin/identities", {**body, "organization_id": "not-a-uuid"})
    assert status == 400, answer
