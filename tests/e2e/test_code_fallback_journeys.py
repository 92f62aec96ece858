"""The code login's missing-credential fallback, end to end
(`selfservice.methods.code.config.missing_credential_fallback_enabled`): an account imported with
only a password, under a schema that marks no address for the code method, signs in by a code
mailed (aiosmtpd) to its email address when the flag is on, and is an unknown identifier when it is
off. Either way an unknown address gets a known one's answer, byte for byte, and no mail. SQLite
and PostgreSQL.

Reference: Kratos's `findIdentityByIdentifier` / `findIdentityForIdentifier`
(`selfservice/strategy/code/strategy_login.go`); Warden's reading in
`services/selfservice/strategies/code/fallback.py`."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.code_helpers import CodeStack, SmsSink, code_warden
from tests.factories import EMAIL_SCHEMA
from tests.selfservice_helpers import PASSWORD, Response, database
from tests.smtp import SmtpServer

# The default test schema without the code method: email is a password identifier, verifiable and
# recoverable, but no code credential is derived from it.
PASSWORD_ONLY_SCHEMA: dict[str, Any] = copy.deepcopy(EMAIL_SCHEMA)
del PASSWORD_ONLY_SCHEMA["properties"]["traits"]["properties"]["email"]["ory.sh/kratos"]["credentials"]["code"]

_VOLATILE = re.compile(
    rb'"(id|csrf_token|expires_at|issued_at|created_at|updated_at|request_url|action|value)": ?"[^"]*"'
)


def _stack(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink, on: bool
) -> Iterator[CodeStack]:
    directory = factory.mktemp(f"code-fallback-{'on' if on else 'off'}-{request.param}")
    config = {"missing_credential_fallback_enabled": True} if on else None
    with (
        database(request.param, directory) as dsn,
        code_warden(directory, dsn, smtp, sms, schema=PASSWORD_ONLY_SCHEMA, code_config=config) as running,
    ):
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def on(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink
) -> Iterator[CodeStack]:
    yield from _stack(request, tmp_path_factory, smtp, sms, on=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def off(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink
) -> Iterator[CodeStack]:
    yield from _stack(request, tmp_path_factory, smtp, sms, on=False)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _import(stack: CodeStack, email: str) -> str:
    """An identity imported through the admin API with only a password; its id."""
    response = urllib3.request(
        "POST",
        f"{stack.warden.admin_url}/admin/identities",
        json={
            "schema_id": "custom",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        },
    )
    assert response.status == 201, response.data
    identity = response.json()
    assert sorted(identity["credentials"]) == ["password"]
    [address] = identity["verifiable_addresses"]
    assert (address["value"], address["verified"]) == (email, False)
    return str(identity["id"])


def _ask_login_code(stack: CodeStack, identifier: str) -> tuple[dict[str, Any], Response]:
    flow = stack.native.get("/self-service/login/api").json()
    return flow, _submit(stack, flow["id"], {"method": "code", "identifier": identifier})


def _submit(stack: CodeStack, flow_id: str, body: dict[str, Any]) -> Response:
    return stack.native.post(f"/self-service/login?flow={flow_id}", body)


def _scrubbed(response: Response, identifier: str) -> bytes:
    return _VOLATILE.sub(rb'"\1": "<volatile>"', response.data.replace(identifier.encode(), b"<identifier>"))


def _message_ids(flow: dict[str, Any]) -> list[int]:
    return [m["id"] for m in flow["ui"].get("messages") or []]


def test_an_imported_password_account_signs_in_by_a_mailed_code_when_the_fallback_is_on(on: CodeStack) -> None:
    email = _email("imported")
    identity_id = _import(on, email)
    flow, sent = _ask_login_code(on, email.upper())  # typed with caps lock: the same account
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent
    assert _message_ids(sent.json()) == [1010014]
    code = on.mailed_code(email)
    done = _submit(on, flow["id"], {"method": "code", "code": code, "identifier": email})
    assert done.status == 200, done
    session = done.json()["session"]
    assert session["identity"]["id"] == identity_id
    assert session["authentication_methods"][0]["method"] == "code"
    assert session["identity"]["verifiable_addresses"][0]["verified"] is True, "the code proved the address"

    stored = urllib3.request("GET", f"{on.warden.admin_url}/admin/identities/{identity_id}").json()
    assert sorted(stored["credentials"]) == ["password"], "as in Kratos, no code credential is written"
    assert stored["verifiable_addresses"][0]["status"] == "completed"


def test_with_the_fallback_on_an_unknown_address_gets_the_imported_accounts_answer_and_no_mail(
    on: CodeStack,
) -> None:
    known, unknown = _email("imported-known"), _email("nobody")
    _import(on, known)
    _, for_known = _ask_login_code(on, known)
    _, for_unknown = _ask_login_code(on, unknown)
    assert (for_known.status, for_unknown.status) == (400, 400)
    assert _scrubbed(for_known, known) == _scrubbed(for_unknown, unknown)
    on.mailed_code(known)
    assert on.smtp.to(unknown) == []


def test_with_the_fallback_off_an_imported_password_account_is_an_unknown_identifier(off: CodeStack) -> None:
    imported, unknown = _email("imported-off"), _email("nobody-off")
    _import(off, imported)
    flow, for_imported = _ask_login_code(off, imported)
    _, for_unknown = _ask_login_code(off, unknown)
    assert (for_imported.status, for_unknown.status) == (400, 400)
    assert _scrubbed(for_imported, imported) == _scrubbed(for_unknown, unknown)
    guessed = _submit(off, flow["id"], {"method": "code", "code": "123456", "identifier": imported})
    assert guessed.status == 400 and _message_ids(guessed.json()) == [4010008]
