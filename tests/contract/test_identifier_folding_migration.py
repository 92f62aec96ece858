"""Review finding 11, stored rows: migration identity_0004 folds identifiers and email addresses
written before folding existed, on both engines, and keeps look-alikes that would collide apart."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from shared.storage import migrations
from shared.storage.database import Database
from warden.services import SERVICES


@pytest.fixture
async def database(any_dsn: str):
    db = Database.from_dsn(any_dsn)
    yield db
    await db.dispose()


async def _insert_identity(conn, identity_id: str, identifier: str, email: str) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    await conn.execute(
        text(
            "INSERT INTO identity_identities (id, schema_id, state, traits, created_at, updated_at) "
            "VALUES (:id, 'default', 'active', '{}', :now, :now)"
        ),
        {"id": identity_id, "now": now},
    )
    await conn.execute(
        text(
            "INSERT INTO identity_credentials (id, identity_id, type, config, version, created_at, updated_at) "
            "VALUES (:id, :identity, 'password', '{}', 0, :now, :now)"
        ),
        {"id": f"c-{identity_id}", "identity": identity_id, "now": now},
    )
    await conn.execute(
        text(
            "INSERT INTO identity_credential_identifiers (id, identity_id, credential_id, type, identifier) "
            "VALUES (:id, :identity, :credential, 'password', :identifier)"
        ),
        {"id": f"i-{identity_id}", "identity": identity_id, "credential": f"c-{identity_id}", "identifier": identifier},
    )
    for table in ("identity_verifiable_addresses", "identity_recovery_addresses"):
        extra = (", verified, status", ", false, 'pending'") if "verifiable" in table else ("", "")
        await conn.execute(
            text(
                f"INSERT INTO {table} (id, identity_id, via, value{extra[0]}, created_at, updated_at) "  # noqa: S608 (the test's own names)
                f"VALUES (:id, :identity, 'email', :value{extra[1]}, :now, :now)"
            ),
            {"id": f"{table[9:12]}-{identity_id}", "identity": identity_id, "value": email, "now": now},
        )


async def test_finding_11_existing_identifiers_are_folded_by_a_migration(database: Database) -> None:
    mset = next(s.migrations for s in SERVICES if s.name == "identity")
    await migrations.upgrade(database, mset, "identity_0003")
    fullwidth, nfd = "ＡＬＩＣＥ", unicodedata.normalize("NFD", "josé")
    async with database.connect() as conn:
        await _insert_identity(conn, "a", fullwidth, "Ａlice@Example.com")
        await _insert_identity(conn, "b", nfd, "jo\u200bse@example.com")
        await _insert_identity(conn, "c", "bob", "bob@example.com")
        await _insert_identity(conn, "d", "b\u200bob", "b\u00adob@example.com")  # look-alike of c
        await conn.commit()
    await migrations.upgrade(database, mset)
    async with database.connect() as conn:
        identifiers = dict(
            (await conn.execute(text("SELECT identity_id, identifier FROM identity_credential_identifiers"))).all()
        )
        verifiable = dict(
            (await conn.execute(text("SELECT identity_id, value FROM identity_verifiable_addresses"))).all()
        )
        recovery = dict((await conn.execute(text("SELECT identity_id, value FROM identity_recovery_addresses"))).all())
    assert identifiers == {"a": "alice", "b": unicodedata.normalize("NFC", "josé"), "c": "bob", "d": "b\u200bob"}
    for addresses in (verifiable, recovery):
        assert addresses == {
            "a": "alice@example.com",
            "b": "jose@example.com",
            "c": "bob@example.com",
            "d": "b\u00adob@example.com",  # folding it would take c's address: kept, for the operator to sort out
        }


async def test_phone_identifiers_stored_folded_are_rewritten_in_e164_by_a_migration(database: Database) -> None:
    """identity_0008: before, a number typed with a fullwidth plus or digits was folded but not made
    E.164 ("＋49 30 1234567" stored as "+49 30 1234567"), so its plain spelling found nothing."""
    mset = next(s.migrations for s in SERVICES if s.name == "identity")
    await migrations.upgrade(database, mset, "identity_0007")
    async with database.connect() as conn:
        await _insert_identity(conn, "a", "+49 30 1234567", "a@example.com")  # folded, not E.164
        await _insert_identity(conn, "b", "+44 20 7946 0000", "b@example.com")
        await _insert_identity(conn, "c", "+442079460000", "c@example.com")  # what b would become: taken
        await _insert_identity(conn, "d", "+15551234567", "d@example.com")  # E.164 already
        await _insert_identity(conn, "e", "+not a number", "e@example.com")
        await conn.commit()
    await migrations.upgrade(database, mset)
    async with database.connect() as conn:
        identifiers = dict(
            (await conn.execute(text("SELECT identity_id, identifier FROM identity_credential_identifiers"))).all()
        )
    assert identifiers == {
        "a": "+49301234567",
        "b": "+44 20 7946 0000",  # its E.164 form is c's: kept, for the operator to sort out
        "c": "+442079460000",
        "d": "+15551234567",
        "e": "+not a number",
    }
