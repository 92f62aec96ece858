"""The event catalogue (shared/bus/events.py) and the README's event table say the same: every
event and command, its kind, its source and its payload's fields, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.bus import events

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<name>[a-z_.]+)` \| (?P<kind>event|command) \| (?P<source>[a-z]+) \| (?P<data>.*) \|$")


def _readme_rows() -> dict[str, tuple[str, str, list[str]]]:
    section = README.read_text().split("## The event stream", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if match := ROW.match(line):
            fields = re.findall(r"`([a-z_]+)`", match["data"])
            rows[match["name"]] = (match["kind"], match["source"], fields)
    return rows


def test_the_readme_table_is_the_catalogue() -> None:
    catalogue = {
        e.name: ("command" if e.command else "event", e.source, list(e.payload.model_fields)) for e in events.CATALOGUE
    }
    assert _readme_rows() == catalogue


def test_every_event_type_of_the_module_is_in_the_catalogue() -> None:
    declared = {v.name for v in vars(events).values() if isinstance(v, events.EventType)}
    assert declared == {e.name for e in events.CATALOGUE}
    assert len(events.CATALOGUE) == len(declared)  # listed once each


def test_an_emitter_typo_is_refused_and_a_payload_round_trips() -> None:
    with pytest.raises(ValidationError):
        events.IdentityDeleted(identity_id="i", identiy_id="typo")  # type: ignore[call-arg]
    payload = events.LoginSucceeded(flow_id="f", flow_type="api", identity_id="i", method="password")
    data = events.LOGIN_SUCCEEDED.data(payload)
    assert data == {"flow_id": "f", "flow_type": "api", "identity_id": "i", "session_id": None, "method": "password"}
    assert events.LOGIN_SUCCEEDED.parse(data) == payload
