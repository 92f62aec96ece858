"""Identities stored before Warden refused NaN and Infinity in request bodies (commit 54d9537) may
hold them in their traits, metadata or credential configs. Every identity answer is still JSON: such
a number comes out as `null`. On SQLite and on PostgreSQL, with the rows written behind Warden's back."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden, settings_for

BIG = 123456789012345678901234567890  # past 64 bits: the answer takes the standard library's encoder
# As the standard library wrote them: what an identity created or updated before 54d9537 could hold.
LEGACY_TRAITS = '{"username": "legacy", "score": NaN, "history": [1.5, Infinity]}'
LEGACY_PUBLIC = '{"ratio": -Infinity, "kept": "yes"}'
LEGACY_ADMIN = f'{{"floor": NaN, "big": {BIG}}}'
LEGACY_KEYS = '{"credentials": [{"id": "a2V5", "is_passwordless": false, "sign_count": NaN}], "user_handle": "aA"}'


@pytest.fixture
def dsn(any_dsn: str) -> str:
    return any_dsn  # the tests write to the database behind Warden's back


@pytest.fixture
def warden(tmp_path: Path, dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, dsn)) as running:
        yield running


def _strict(raw: bytes) -> Any:
    """A parser as strict as every SDK's: no NaN, Infinity or -Infinity."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw, parse_constant=refuse)


def _write_behind_warden(dsn: str, statements: list[tuple[str, list[Any]]]) -> None:
    if dsn.startswith("sqlite://"):
        with sqlite3.connect(dsn.removeprefix("sqlite://")) as db:
            for sql, params in statements:
                db.execute(re.sub(r"\$\d+", "?", sql), params)  # each $n is used once, in order
        return

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for sql, params in statements:
                await conn.execute(sql, *params)
        finally:
            await conn.close()

    asyncio.run(run())


def _legacy_identity(warden: ThreadedWarden, dsn: str) -> str:
    body = {
        "schema_id": "username",
        "traits": {"username": "legacy"},
        "external_id": "crm-legacy",
        "credentials": {
            "password": {"config": {"password": "a long enough password"}},
            "webauthn": {"config": {"credentials": [], "user_handle": "aA"}},
        },
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    identity_id = str(json.loads(created.data)["id"])
    _write_behind_warden(
        dsn,
        [
            (
                "UPDATE identity_identities SET traits = $1, metadata_public = $2, metadata_admin = $3 WHERE id = $4",
                [LEGACY_TRAITS, LEGACY_PUBLIC, LEGACY_ADMIN, identity_id],
            ),
            (
                "UPDATE identity_credentials SET config = $1 WHERE identity_id = $2 AND type = $3",
                [LEGACY_KEYS, identity_id, "webauthn"],
            ),
        ],
    )
    return identity_id


def _assert_nulls_in_place(identity: dict[str, Any]) -> None:
    assert identity["traits"] == {"username": "legacy", "score": None, "history": [1.5, None]}
    assert identity["metadata_public"] == {"ratio": None, "kept": "yes"}
    assert identity["metadata_admin"] == {"floor": None, "big": BIG}


def test_a_stored_nan_or_infinity_is_null_in_every_answer(warden: ThreadedWarden, dsn: str) -> None:
    identity_id = _legacy_identity(warden, dsn)
    admin = f"{warden.admin_url}/admin/identities"
    for url, fields in (
        (admin, {}),
        (admin, {"ids": identity_id}),
        (admin, {"credentials_identifier": "legacy"}),
    ):
        listed = urllib3.request("GET", url, fields=fields)
        assert listed.status == 200, listed.data
        [identity] = _strict(listed.data)
        _assert_nulls_in_place(identity)
    for url in (f"{admin}/{identity_id}", f"{admin}/by/external/crm-legacy"):
        fetched = urllib3.request("GET", url, fields={"include_credential": "webauthn"})
        assert fetched.status == 200, fetched.data
        identity = _strict(fetched.data)
        _assert_nulls_in_place(identity)
        assert identity["credentials"]["webauthn"]["config"]["credentials"][0]["sign_count"] is None


def test_an_identity_holding_them_can_still_be_changed(warden: ThreadedWarden, dsn: str) -> None:
    identity_id = _legacy_identity(warden, dsn)
    url = f"{warden.admin_url}/admin/identities/{identity_id}"
    patched = urllib3.request("PATCH", url, json=[{"op": "replace", "path": "/state", "value": "inactive"}])
    assert patched.status == 200, patched.data
    identity = _strict(patched.data)
    assert identity["state"] == "inactive"
    _assert_nulls_in_place(identity)
    _assert_nulls_in_place(_strict(urllib3.request("GET", url).data))
