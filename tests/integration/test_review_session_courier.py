"""What a review of the session and courier services found, each through the real ports.

- An email trait whose quoted local part held a bare carriage return (`"a\\<CR>X-Evil : 1"@…`, a
  quoted pair) or another control character passed the `email` format, which Kratos's (Go's
  net/mail) refuses: the address then went into the courier's commands, to be refused there (the
  courier's last line against header injection) and its mail never sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, database, selfservice_settings


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("review-session-courier")
    with database("sqlite", directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as w:
        yield w


def _register(warden: ThreadedWarden, email: str) -> urllib3.BaseHTTPResponse:
    public = warden.public_url.rstrip("/")
    flow = urllib3.request("GET", f"{public}/self-service/registration/api").json()
    body = {"method": "password", "password": PASSWORD, "traits": {"email": email}}
    return urllib3.request("POST", f"{public}/self-service/registration?flow={flow['id']}", json=body)


@pytest.mark.parametrize(
    "email",
    [
        '"a\\\rX-Evil : 1"@example.com',  # a quoted pair of a bare CR: a header line of its own
        '"a\\\x1b"@example.com',
        '"a\x01b"@example.com',
        '"a\x7fb"@example.com',
    ],
)
def test_an_email_trait_with_a_control_character_is_refused(warden: ThreadedWarden, email: str) -> None:
    answer = _register(warden, email)
    assert answer.status == 400, answer.data
    node = next(n for n in answer.json()["ui"]["nodes"] if n["attributes"].get("name") == "traits.email")
    assert node["messages"] and node["messages"][0]["type"] == "error"


def test_quoted_local_parts_kratos_accepts_still_pass(warden: ThreadedWarden) -> None:
    answer = _register(warden, '"odd\\" one\tx"@example.com')
    assert answer.status == 200, answer.data
