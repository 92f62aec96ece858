"""What a browser posts back from navigator.credentials: parsed before anything is checked, because
Kratos answers the two failures differently. A body that is no WebAuthn response at all (not JSON,
fields missing or not base64url, clientDataJSON, authenticator data or the attestation's CBOR
unreadable) is `Malformed`: Kratos's "Unable to parse WebAuthn response." (400, 4000001). One that
parses but does not verify is `Refused`: a wrong key, signature, origin, RP id or challenge."""

from __future__ import annotations

import binascii
from typing import Any

from webauthn.helpers import (
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException

from shared import json_codec, text

# RecursionError: a clientDataJSON nested past the standard library's depth (py_webauthn reads it
# with `json.loads`), a few kilobytes that are no answer, not a server error.
_PARSE_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError, binascii.Error, RecursionError)


class Refused(Exception):  # noqa: N818 - the answer is refused, nothing is stored
    """A registration or assertion that does not verify (forged, replayed, wrong origin or RP id,
    an unknown key, a spent challenge)."""


class Malformed(Refused):
    """A body that is not a WebAuthn response: nothing in it could be checked."""


def parse(raw: Any) -> dict[str, Any]:
    """The browser's credential as the script posts it: a JSON string (or, from an app, an object)."""
    if isinstance(raw, str):
        try:
            raw = json_codec.loads_standard(raw)
        except ValueError:
            raise Malformed("the credential is not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("rawId"), str):
        raise Malformed("the credential is not a PublicKeyCredential")
    return raw


def parse_assertion(raw: Any) -> dict[str, Any]:
    """An answer to navigator.credentials.get(), every part of it readable (Kratos's
    ParseCredentialRequestResponseBody)."""
    credential = parse(raw)
    try:
        parsed = parse_authentication_credential_json(credential)
        parse_client_data_json(parsed.response.client_data_json)
        parse_authenticator_data(parsed.response.authenticator_data)
    except _PARSE_ERRORS as exc:
        raise Malformed(str(exc)) from None
    return credential


def parse_attestation(raw: Any) -> dict[str, Any]:
    """An answer to navigator.credentials.create(), every part of it readable (Kratos's
    ParseCredentialCreationResponseBody, which also reads the attestation object's CBOR)."""
    credential = parse(raw)
    try:
        parsed = parse_registration_credential_json(credential)
        parse_client_data_json(parsed.response.client_data_json)
        parse_attestation_object(parsed.response.attestation_object)
    except _PARSE_ERRORS as exc:
        raise Malformed(str(exc)) from None
    return credential


def login_refusal(refused: Refused) -> text.Message:
    """Kratos's message for a refused sign-in: 4000001 for a body it could not parse, else
    NewWebAuthnVerifierWrongError, which reuses the TOTP text (4000008) for every assertion that
    does not verify."""
    if isinstance(refused, Malformed):
        return text.validation_failed("Unable to parse WebAuthn response.")
    return text.totp_code_invalid()


def registration_refusal(refused: Refused) -> text.Message:
    """A refused new key: 4000001 with the reason for a body Kratos could not parse. Kratos answers
    one that parses but does not verify with a 500 ("Unable to create WebAuthn credential"); a
    client's wrong answer is no server error, so Warden keeps 400 with 4000006."""
    if isinstance(refused, Malformed):
        return text.validation_failed(f"Unable to parse WebAuthn response: {refused}")
    return text.invalid_credentials()
