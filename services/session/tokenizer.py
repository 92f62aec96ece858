"""`GET /sessions/whoami?tokenize_as=<template>`: the session, also as a signed JWT (Kratos's
`session/tokenizer.go`).

Each template of `session.whoami.tokenizer.templates` names a JSON Web Key Set (`jwks_url`) whose
first key signs (its `alg` decides how), an optional Jsonnet claims mapper (`claims_mapper_url`: the
program reads `std.extVar('session')` and `std.extVar('claims')` and returns `{claims: {...}}`), a
`ttl` (default 1m) and the subject's source (`id` or `external_id`). Keys and mappers are read when
the service starts, from `file://` or `base64://` locations, so a broken template fails start-up
instead of every request. Signing is joserfc's (the JOSE library of authlib's authors), never ours.

A mapper reads the session, whose identity's traits are the user's own (validated by a schema that
may leave a field free-form): it is evaluated in the session service's Jsonnet sandbox
(shared/jsonnet_sandbox.py), bounded in memory and time, as nested arrays there make an output
that grows with their depth times their size, on every `whoami` that asks for the token.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.config.locations import BASE64, FILE, resolve_schema_location
from shared.errors import BadRequest, ConfigError
from shared.jsonnet import JsonnetError, JsonnetProgram
from shared.jsonnet_sandbox import JsonnetSandbox
from shared.units import parse_duration

TEMPLATES_KEY = "session.whoami.tokenizer.templates"
SUBJECT_SOURCES = ("id", "external_id")
MAPPER_SECONDS = 5.0  # a claims mapper's evaluation; past it the request is Kratos's 400 for a failing mapper


@dataclass(frozen=True)
class TokenTemplate:
    key: Any  # a joserfc private key, with its `alg`
    ttl: timedelta
    mapper: JsonnetProgram | None
    subject_source: str


class Tokenizer:
    def __init__(
        self,
        templates: Mapping[str, TokenTemplate],
        issuer: str,
        sandbox: JsonnetSandbox,
        clock: Callable[[], float] = time.time,
    ):
        self._templates = dict(templates)
        self._issuer = issuer
        self._sandbox = sandbox  # the service's, closed by it
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Any, sandbox: JsonnetSandbox) -> Tokenizer:
        raw = settings.get(TEMPLATES_KEY) or {}
        templates = {
            name: _template(f"{TEMPLATES_KEY}.{name}", spec, settings.config_dir) for name, spec in raw.items()
        }
        return cls(templates, settings.serve.public.base_url, sandbox)

    async def tokenize(self, template_name: str, session: dict[str, Any]) -> str:
        """A JWT for the session JSON (as whoami sends it). BadRequest (Kratos's 400s) for an unknown
        template, a failing mapper, or a subject the identity does not have."""
        template = self._templates.get(template_name)
        if template is None:
            raise BadRequest(f'Unable to find tokenizer template "{template_name}".')
        now = int(self._clock())
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "iss": self._issuer,
            "exp": now + int(template.ttl.total_seconds()),
            "sid": session["id"],
            "nbf": now,
            "iat": now,
        }
        claims["sub"] = _subject(session, template.subject_source)
        if template.mapper is not None:
            claims.update(await self._mapped_claims(template.mapper, session, claims))
            claims["sub"] = _subject(session, template.subject_source)  # the mapper cannot change who it is about
        header = {"alg": template.key.alg, "typ": "JWT"}
        if template.key.kid:
            header["kid"] = template.key.kid
        return jwt.encode(header, claims, template.key, algorithms=[template.key.alg])

    async def _mapped_claims(
        self, mapper: JsonnetProgram, session: dict[str, Any], claims: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            text = await self._sandbox.evaluate(
                mapper, timeout=MAPPER_SECONDS, ext={"session": session, "claims": claims}
            )
        except JsonnetError as error:
            raise BadRequest("Unable to execute tokenizer JsonNet.") from error
        evaluated = json.loads(text)
        mapped = evaluated.get("claims") if isinstance(evaluated, dict) else None
        if not isinstance(mapped, dict):
            raise BadRequest("Expected tokenizer JsonNet to return a claims object but it did not.")
        return mapped


def _subject(session: dict[str, Any], source: str) -> str:
    if source == "external_id":
        external_id = (session.get("identity") or {}).get("external_id")
        if not external_id:
            raise BadRequest(
                "The session's identity does not have an external ID set, but it is required for the subject claim."
            )
        return str(external_id)
    return str(session["identity"]["id"])


def _template(key: str, spec: dict[str, Any], config_dir: Path) -> TokenTemplate:
    source = spec.get("subject_source") or "id"
    if source not in SUBJECT_SOURCES:
        raise ConfigError(f"config: {key}.subject_source: one of {', '.join(SUBJECT_SOURCES)}")
    mapper_url = spec.get("claims_mapper_url")
    mapper = (
        JsonnetProgram(_read(f"{key}.claims_mapper_url", mapper_url, config_dir), mapper_url) if mapper_url else None
    )
    return TokenTemplate(
        key=_signing_key(key, spec.get("jwks_url", ""), config_dir),
        ttl=parse_duration(spec.get("ttl") or "1m"),
        mapper=mapper,
        subject_source=source,
    )


def _signing_key(key: str, url: str, config_dir: Path) -> Any:
    try:
        keys = KeySet.import_key_set(json.loads(_read(f"{key}.jwks_url", url, config_dir)))
    except (ValueError, TypeError, KeyError, JoseError) as error:
        raise ConfigError(f"config: {key}.jwks_url: not a JSON Web Key Set with private keys ({error})") from None
    if not keys.keys:
        raise ConfigError(f"config: {key}.jwks_url: the key set is empty")
    first = keys.keys[0]  # Kratos signs with the set's first key
    if not first.alg or not first.is_private:
        raise ConfigError(f'config: {key}.jwks_url: the first key needs an "alg" and its private part')
    return first


def _read(key: str, url: str, config_dir: Path) -> str:
    """The text at a `file://` or `base64://` location (remote ones are not fetched at start-up)."""
    if not url.startswith((FILE, BASE64)):
        raise ConfigError(f"config: {key}: only file:// and base64:// locations are supported")
    try:
        location = resolve_schema_location(url, config_dir)
        return Path(location).read_text(encoding="utf-8") if url.startswith(FILE) else location
    except (ConfigError, OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"config: {key}: {error}") from None
