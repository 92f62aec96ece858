"""One identity schema: validating traits and reading what the `ory.sh/kratos` extension derives."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft7Validator, validators
from jsonschema.protocols import Validator
from referencing import Registry

from . import derive, patterns
from .derive import Address
from .errors import TraitsInvalid
from .extension import Hit, extension_hits
from .formats import format_checker
from .problems import Problem, problems_from, reason


def compile_validator(document: dict[str, Any]) -> Validator:
    """A validator for the draft the document's `$schema` names (draft-07 when it names none).

    The registry is empty on purpose: only the document itself and the JSON Schema meta-schemas
    resolve, so validating never reaches the network. Patterns run on RE2 (`patterns.py`)."""
    cls = validators.extend(validators.validator_for(document, default=Draft7Validator), patterns.KEYWORDS)
    return cls(document, registry=Registry(), format_checker=format_checker())


def problems_in(validator: Validator, document: dict[str, Any], instance: Any) -> list[Problem]:
    """Every way `instance` fails `document` (compiled by `compile_validator`), one Problem per failing
    field, repeats dropped: what the identity service reports, for anything else checked the same way
    (the command line checks an identity file's create payload with it)."""
    return _unique([p for error in validator.iter_errors(instance) for p in problems_from(error, document)])


@dataclass(frozen=True)
class IdentitySchema:
    id: str
    url: str  # the location configured in `identity.schemas[].url`
    document: dict[str, Any] = field(hash=False, repr=False)
    _validator: Validator = field(init=False, hash=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_validator", compile_validator(self.document))

    def validate_traits(self, traits: Any) -> None:
        """Raise TraitsInvalid, naming every failing field, unless `traits` fit the schema and its
        extensions (an address to verify or recover must be a valid email or phone number)."""
        problems = self.problems(traits)
        if problems:
            raise TraitsInvalid(reason(problems, self.document), [p.detail() for p in problems])

    def problems(self, traits: Any) -> list[Problem]:
        """What `validate_traits` reports, as a list (empty when the traits are valid); pointers are
        from the identity's root (`#/traits/email`)."""
        found = problems_in(self._validator, self.document, {"traits": traits})
        return _unique([*found, *derive.extension_problems(self._hits(traits))])

    def credential_identifiers(self, traits: Any) -> dict[str, list[str]]:
        """`{"password": [...], "webauthn": [...], "code": [...]}`: normalised identifiers of the types the
        schema marks (types it does not mark are absent), de-duplicated, in schema order."""
        return derive.credential_identifiers(self._hits(traits))

    def credential_labels(self, traits: Any) -> dict[str, list[str]]:
        """`{"totp": [account names], "passkey": [display names]}`, trimmed: labels, not identifiers."""
        return derive.credential_labels(self._hits(traits))

    def code_addresses(self, traits: Any) -> list[dict[str, str]]:
        """`[{"channel": "email" | "sms", "address": ...}]` for the code method, sorted as Kratos stores them."""
        return derive.code_addresses(self._hits(traits))

    def verifiable_addresses(self, traits: Any) -> list[Address]:
        return derive.verifiable_addresses(self._hits(traits))

    def recovery_addresses(self, traits: Any) -> list[Address]:
        return derive.recovery_addresses(self._hits(traits))

    def normalise_traits(self, traits: Any) -> Any:
        """A deep copy of `traits`, unchanged, because Kratos stores traits exactly as submitted
        ("UpperCased@ory.sh" stays so in traits while its identifier and addresses are
        "uppercased@ory.sh"). Only identifiers and addresses are normalised, by the methods above."""
        return copy.deepcopy(traits)

    def _hits(self, traits: Any) -> list[Hit]:
        return extension_hits(self.document, traits, self._is_valid)

    def _is_valid(self, subschema: Any, value: Any) -> bool:
        return bool(self._validator.evolve(schema=subschema).is_valid(value))


def _unique(problems: list[Problem]) -> list[Problem]:
    """Drop repeats: a `recovery.via: email` field with `format: email` fails the same way twice."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.instance_ptr, problem.schema_ptr, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
