"""What the `ory.sh/kratos` extension makes of the traits: credential identifiers, code addresses,
verifiable and recovery addresses, and the checks Kratos's extensions add to plain validation.

Normalisation follows Kratos (`identity/extension_*.go`, `x/normalize.go`): traits are stored as
submitted; only what is derived from them is normalised. See `normalize` for the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.email_syntax import is_email

from .extension import Hit
from .messages import quote
from .normalize import e164, graceful, normalize_email, normalize_phone
from .pointers import join
from .problems import Problem

EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)
NO_FORMAT_FOR_SMS = (
    "no format specified. A format is required if verification is enabled. "
    'If this was intentional, please set "format" to "no-validate"'
)


@dataclass(frozen=True)
class Address:
    via: str  # "email" | "sms"
    value: str


def credential_identifiers(hits: Iterable[Hit]) -> dict[str, list[str]]:
    """Credential type -> identifiers, as Kratos's SchemaExtensionCredentials fills them."""
    found: dict[str, list[str]] = {}
    for hit in _filled(hits):
        for ctype in ("password", "webauthn"):
            if _setting(hit, "credentials", ctype, "identifier") is True:
                _add(found.setdefault(ctype, []), graceful(hit.value))
        address = _code_address(hit)
        if address is not None:
            _add(found.setdefault("code", []), address["address"])
    return found


def code_addresses(hits: Iterable[Hit]) -> list[dict[str, str]]:
    """The `code` credential's `addresses`, de-duplicated and sorted by address then channel, as Kratos
    stores them in the credential's config."""
    unique = {(a["address"], a["channel"]): a for hit in _filled(hits) if (a := _code_address(hit))}
    return [unique[key] for key in sorted(unique)]


def credential_labels(hits: Iterable[Hit]) -> dict[str, list[str]]:
    """Trait values a method shows but does not log in with: `totp` account names (the label in the
    authenticator app) and `passkey` display names. Kratos does not store them as identifiers."""
    found: dict[str, list[str]] = {}
    for hit in _filled(hits):
        for ctype, flag in (("totp", "account_name"), ("passkey", "display_name")):
            if _setting(hit, "credentials", ctype, flag) is True:
                _add(found.setdefault(ctype, []), hit.value.strip())
    return found


def verifiable_addresses(hits: Iterable[Hit]) -> list[Address]:
    found: list[Address] = []
    for hit in _filled(hits):
        via = _setting(hit, "verification", "via")
        if via == EMAIL:
            # Kratos lower-cases only when the field is (or defaults to) an email format.
            lower = hit.node.get("format", "") in ("", "email")
            _add(found, Address(EMAIL, normalize_email(hit.value) if lower else hit.value.strip()))
        elif via == SMS:
            # Kratos only trims here; Warden writes E.164 as for recovery and code addresses, so that
            # one phone number is one address whichever extension saw it.
            _add(found, Address(SMS, normalize_phone(hit.value)))
    return found


def recovery_addresses(hits: Iterable[Hit]) -> list[Address]:
    found: list[Address] = []
    for hit in _filled(hits):
        via = _setting(hit, "recovery", "via")
        if via == EMAIL:
            _add(found, Address(EMAIL, normalize_email(hit.value)))
        elif via == SMS:
            _add(found, Address(SMS, normalize_phone(hit.value)))
    return found


def extension_problems(hits: Iterable[Hit]) -> Iterator[Problem]:
    """The errors Kratos's extensions raise during validation, on top of the schema's own."""
    for hit in _strings(hits):
        yield from _verification_problems(hit)
        yield from _recovery_problems(hit)
        yield from _code_problems(hit)


def _verification_problems(hit: Hit) -> Iterator[Problem]:
    via = _setting(hit, "verification", "via")
    if via not in CHANNELS or hit.node.get("format"):
        return  # with a format, the schema's own format check has already spoken
    if via == SMS:
        yield _problem(hit, NO_FORMAT_FOR_SMS, {})
    elif not is_email(hit.value):
        yield _invalid(hit, EMAIL)


def _recovery_problems(hit: Hit) -> Iterator[Problem]:
    via = _setting(hit, "recovery", "via")
    if via == EMAIL and not is_email(hit.value):
        yield _invalid(hit, EMAIL)
    elif via == SMS and e164(hit.value) is None:
        yield _problem(hit, f'{quote(hit.value)} is not valid "tel" for "sms"', {"format": "tel", "value": hit.value})


def _code_problems(hit: Hit) -> Iterator[Problem]:
    if _setting(hit, "credentials", "code", "identifier") is not True:
        return
    via = _setting(hit, "credentials", "code", "via")
    if via not in CHANNELS:
        message = f"channel type {quote(via or '')} must be one of email, sms"
        schema_ptr = join(hit.schema_ptr, "ory.sh/kratos", "credentials", "code", "via")
        yield Problem(hit.instance_ptr, hit.instance_ptr, schema_ptr, "ory.sh/kratos", message, {})
    elif via == SMS and e164(hit.value) is None:
        yield _problem(hit, "the provided number is not a valid phone number", {"format": "tel", "value": hit.value})


def _code_address(hit: Hit) -> dict[str, str] | None:
    if _setting(hit, "credentials", "code", "identifier") is not True:
        return None
    via = _setting(hit, "credentials", "code", "via")
    if via == SMS:
        return {"channel": SMS, "address": normalize_phone(hit.value)}
    if via == EMAIL:
        # A non-email format (e.g. `no-validate`) gets Kratos's graceful normalisation instead.
        strict = hit.node.get("format", "") in ("", "email")
        return {"channel": EMAIL, "address": normalize_email(hit.value) if strict else graceful(hit.value)}
    return None


def _invalid(hit: Hit, expected: str) -> Problem:
    return _problem(hit, f"{quote(hit.value)} is not valid {quote(expected)}", {"format": expected, "value": hit.value})


def _problem(hit: Hit, message: str, context: dict[str, Any]) -> Problem:
    return Problem(hit.instance_ptr, hit.instance_ptr, join(hit.schema_ptr, "format"), "format", message, context)


def _setting(hit: Hit, *path: str) -> Any:
    node: Any = hit.config
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _strings(hits: Iterable[Hit]) -> Iterator[Hit]:
    """Extensions act on strings only: a number or object in an identifier field is the schema's
    business (a `type` error), not a value to normalise."""
    return (hit for hit in hits if isinstance(hit.value, str))


def _filled(hits: Iterable[Hit]) -> Iterator[Hit]:
    """Strings with something in them: an empty trait is no identifier or address (Kratos would store
    "" and then refuse a second identity with an empty username as a duplicate)."""
    return (hit for hit in _strings(hits) if hit.value.strip())


def _add(found: list[Any], item: Any) -> None:
    if item not in found:
        found.append(item)
