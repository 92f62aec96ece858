"""`whoami?tokenize_as=` under hostile traits, through real HTTP: a schema with a free-form field
lets a user sign up with nested arrays in their traits, and a claims mapper that passes the traits
on makes an output that grows with their depth times their size (160 kB nested 90 deep: 22 MB), on
every whoami that asks for the token. The mapper runs in the session service's sandbox
(shared/jsonnet_sandbox.py): that request is Kratos's 400 for a failing mapper, and the next
user's token is made."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from joserfc.jwk import ECKey

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings

MAPPER = "local session = std.extVar('session'); { claims: { traits: session.identity.traits } }"
SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/free-form.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}},
                },
                "profile": {"type": "object"},  # whatever the app keeps there
            },
            "required": ["email"],
        }
    },
}
GUARD = urllib3.Timeout(total=60)  # only so that a blocked Warden fails the test instead of hanging it


def _base64(value: str) -> str:
    return "base64://" + base64.b64encode(value.encode()).decode()


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("tokenizer-jsonnet")
    key = ECKey.generate_key("P-256", private=True, parameters={"alg": "ES256"})
    templates = {
        "echo": {
            "jwks_url": _base64(json.dumps({"keys": [key.as_dict(private=True)]})),
            "claims_mapper_url": _base64(MAPPER),
        }
    }
    settings = selfservice_settings(
        directory,
        f"sqlite://{directory}/warden.sqlite",
        identity={"default_schema_id": "free", "schemas": [{"id": "free", "url": _base64(json.dumps(SCHEMA))}]},
        session={"whoami": {"tokenizer": {"templates": templates}}},
    )
    with running_warden(settings) as running:
        yield running


def _sign_up(warden: ThreadedWarden, profile: Any) -> str:
    """A new user with this profile in their traits, signed up by themselves: their session token."""
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api", timeout=GUARD).json()
    traits = {"email": f"tok-{uuid.uuid4().hex[:10]}@example.com", "profile": profile}
    done = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        json={"method": "password", "traits": traits, "password": PASSWORD},
        timeout=GUARD,
    )
    assert done.status == 200, done.data[:500]
    return str(done.json()["session_token"])


def _tokenized(warden: ThreadedWarden, token: str) -> urllib3.BaseHTTPResponse:
    url = f"{warden.public_url}/sessions/whoami?tokenize_as=echo"
    return urllib3.request("GET", url, headers={"X-Session-Token": token}, timeout=GUARD)


def test_traits_that_blow_up_the_claims_mapper_fail_that_whoami_and_the_next_token_is_made(
    warden: ThreadedWarden,
) -> None:
    depth, leaves = 90, 80_000
    bomb = json.loads("[" * depth + ",".join(["1"] * leaves) + "]" * depth)
    token = _sign_up(warden, {"bomb": bomb})
    refused = _tokenized(warden, token)
    assert refused.status == 400, refused.data[:500]
    assert refused.json()["error"]["reason"] == "Unable to execute tokenizer JsonNet."
    fine = _tokenized(warden, _sign_up(warden, {"plan": "pro"}))
    assert fine.status == 200, fine.data[:500]
    assert fine.json()["tokenized"]
