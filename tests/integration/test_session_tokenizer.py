"""`whoami?tokenize_as=`: the session as a JWT signed with a key set from config and shaped by a
Jsonnet claims mapper (Kratos's `session.whoami.tokenizer.templates`), through Kratos's SDK, on
SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import ory_kratos_client as kratos
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from ory_kratos_client.api.frontend_api import FrontendApi

from services.session.tokenizer import Tokenizer
from shared.errors import ConfigError
from shared.jsonnet_sandbox import JsonnetSandbox
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, api_error, create_identity, database, selfservice_settings

TTL_SECONDS = 90
MAPPER = """
local session = std.extVar('session');
{ claims: { email: session.identity.traits.email, aal: session.authenticator_assurance_level, sub: 'not-this' } }
"""
SIGNING_KEY = ECKey.generate_key("P-256", private=True, parameters={"alg": "ES256", "kid": "warden-test"})


def _base64(value: str) -> str:
    return "base64://" + base64.b64encode(value.encode()).decode()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("tokenizer")
    (directory / "claims.jsonnet").write_text(MAPPER)
    jwks = _base64(json.dumps({"keys": [SIGNING_KEY.as_dict(private=True)]}))
    templates = {
        "mapped": {
            "jwks_url": jwks,
            "claims_mapper_url": f"file://{directory}/claims.jsonnet",
            "ttl": f"{TTL_SECONDS}s",
        },
        "by_external_id": {"jwks_url": jwks, "subject_source": "external_id"},
    }
    with (
        database(request.param, directory) as dsn,
        running_warden(
            selfservice_settings(directory, dsn, session={"whoami": {"tokenizer": {"templates": templates}}})
        ) as running,
    ):
        yield running


@pytest.fixture
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _signed_in(warden: ThreadedWarden, frontend: FrontendApi) -> tuple[str, str]:
    email = f"jwt-{uuid.uuid4().hex[:10]}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    flow = frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=PASSWORD)
    return identity_id, str(frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body)).session_token)


def test_tokenize_as_adds_a_jwt_signed_with_the_configured_key_and_mapped_claims(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    identity_id, token = _signed_in(warden, frontend)
    session = frontend.to_session(x_session_token=token, tokenize_as="mapped")
    verified = jwt.decode(session.tokenized, KeySet.import_key_set({"keys": [SIGNING_KEY.as_dict(private=False)]}))
    assert verified.header == {"alg": "ES256", "kid": "warden-test", "typ": "JWT"}
    claims = verified.claims
    assert claims["sub"] == identity_id  # the mapper's `sub` does not win
    assert claims["sid"] == session.id and claims["iss"] == "http://127.0.0.1:4433/"
    assert claims["email"] == session.identity.traits["email"] and claims["aal"] == "aal1"
    assert claims["exp"] - claims["iat"] == TTL_SECONDS and claims["nbf"] == claims["iat"]
    assert uuid.UUID(claims["jti"])
    assert frontend.to_session(x_session_token=token).tokenized is None  # only when asked


def test_a_jwt_signed_with_another_key_does_not_verify(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    _, token = _signed_in(warden, frontend)
    tokenized = frontend.to_session(x_session_token=token, tokenize_as="mapped").tokenized
    other = ECKey.generate_key("P-256", private=False, parameters={"kid": "warden-test"})
    with pytest.raises(Exception, match="signature"):
        jwt.decode(tokenized, KeySet.import_key_set({"keys": [other.as_dict()]}))


def test_an_unknown_template_is_a_400(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    _, token = _signed_in(warden, frontend)
    status, body = api_error(lambda: frontend.to_session(x_session_token=token, tokenize_as="nope"))
    assert status == 400 and body["error"]["reason"] == 'Unable to find tokenizer template "nope".'


def test_an_external_id_subject_needs_an_external_id(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    _, token = _signed_in(warden, frontend)
    status, body = api_error(lambda: frontend.to_session(x_session_token=token, tokenize_as="by_external_id"))
    assert status == 400 and "external ID" in body["error"]["reason"]


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": []},
        {"keys": [ECKey.generate_key("P-256", private=True).as_dict(private=True)]},  # no alg
        {"keys": [SIGNING_KEY.as_dict(private=False)]},  # no private part
    ],
)
def test_an_unusable_key_set_fails_at_start_up(tmp_path: Path, jwks: dict) -> None:
    settings = selfservice_settings(
        tmp_path,
        f"sqlite://{tmp_path}/db.sqlite",
        session={"whoami": {"tokenizer": {"templates": {"t": {"jwks_url": _base64(json.dumps(jwks))}}}}},
    )
    with pytest.raises(ConfigError, match="session.whoami.tokenizer.templates.t.jwks_url"):
        Tokenizer.from_settings(settings, JsonnetSandbox())
