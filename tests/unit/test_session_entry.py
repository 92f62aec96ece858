"""whoami's cache entry (services/session/cache.py) keeps its format when no inactivity timeout is
set, so that every version reads what any other wrote; the last use is a sixth header field."""

from __future__ import annotations

from services.session.cache import CachedSession, decode

BODY = b'{"id":"s"}'


def test_without_an_inactivity_timeout_the_entry_is_the_five_field_one() -> None:
    entry = CachedSession("aal1", "aal1", 1_900_000_000.5, "identity", BODY)
    raw = entry.encode(b"7")
    assert raw.split(b"\n")[0].count(b"\t") == 4
    assert decode(raw) == (entry, b"7")


def test_the_last_use_rides_in_a_sixth_field_and_reads_back() -> None:
    entry = CachedSession("aal2", "aal2", 1_900_000_000.5, "identity", BODY, active_at=1_899_999_000.25)
    assert decode(entry.encode(b"7")) == (entry, b"7")


def test_an_entry_with_more_fields_than_any_version_writes_is_not_taken() -> None:
    assert decode(b"aal1\taal1\t1.0\tidentity\t7\t1.0\textra\n" + BODY) is None
