"""Kratos's config schema, with Warden's keys added, and validation against it.

`kratos.config.schema.json` is Kratos's own schema, unchanged. `warden.config.schema.json` holds
Warden's extra sections (`bus`, `cache`, `services`, `webhooks`); its `properties` and `definitions` are added to
Kratos's at load time, so Kratos's top-level `additionalProperties: false` keeps rejecting unknown keys.
Its `nested` keys go inside Kratos's own sections (`serve.grpc`, `session.check`) the same way.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT7

from shared.config.secrets import is_sensitive
from shared.config.tree import MISSING, Key, format_path
from shared.errors import ConfigError

HERE = Path(__file__).parent
KRATOS_SCHEMA = HERE / "kratos.config.schema.json"
WARDEN_SCHEMA = HERE / "warden.config.schema.json"
# Kratos embeds its tracing schema from ory/x; no network here, so any object is accepted.
TRACING_REF = "ory://tracing-config"
PERMISSIVE: dict[str, Any] = {"type": "object"}
MAX_DEPTH = 10
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$")
# Key names whose values are credentials wherever they appear in Kratos's config.
SECRET_NAME = re.compile(r"(?i)password|secret|token|private|api_?key|credential|connection_uri|dsn|^key$|^value$")


@cache
def config_schema(kratos: Path = KRATOS_SCHEMA, warden: Path = WARDEN_SCHEMA) -> dict[str, Any]:
    """The merged schema. Cached and shared: treat it as read-only."""
    schema: dict[str, Any] = json.loads(kratos.read_text(encoding="utf-8"))
    extension = json.loads(warden.read_text(encoding="utf-8"))
    for section in ("properties", "definitions"):
        clash = schema[section].keys() & extension[section].keys()
        if clash:  # Kratos grew a key Warden also defines: a bug to fix here, not a user error.
            raise RuntimeError(f"warden.config.schema.json redefines Kratos {section}: {sorted(clash)}")
        schema[section].update(extension[section])
    for section, keys in extension.get("nested", {}).items():
        inside = schema
        for name in section.split("."):  # "serve.public": keys inside a Kratos object's object
            inside = inside["properties"][name]
        inside = inside["properties"]
        if inside.keys() & keys.keys():
            raise RuntimeError(
                f"warden.config.schema.json redefines Kratos keys under {section}: {sorted(inside.keys() & keys.keys())}"
            )
        inside.update(keys)
    return schema


@cache
def _validator() -> Draft7Validator:
    registry = Registry().with_resource(TRACING_REF, DRAFT7.create_resource(PERMISSIVE))
    return Draft7Validator(config_schema(), registry=registry, format_checker=_format_checker())


def _format_checker() -> FormatChecker:
    """The formats Kratos's validator enforces that matter for config, without optional packages."""
    checker = FormatChecker(formats=())
    checker.checks("uri")(lambda value: not isinstance(value, str) or bool(URI_SCHEME.match(value)))
    checker.checks("email")(lambda value: not isinstance(value, str) or "@" in value)
    return checker


# What to do about a missing key a first-time user meets: Kratos's required `dsn`.
MISSING_HINTS: dict[tuple[Key, ...], str] = {
    ("dsn",): " (a database URL: postgres://…, sqlite://…, or memory; --dev uses ./warden.sqlite)",
}


def validate(tree: dict[str, Any]) -> None:
    """Raise ConfigError naming the key path of the most relevant schema violation."""
    error = best_match(_validator().iter_errors(tree))
    if error is not None:
        raise ConfigError(describe(error))


def describe(error: ValidationError) -> str:
    path: list[Key] = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        unknown = _unknown_key(error)
        if unknown is not None:
            return f"config: {format_path([*path, unknown])}: unknown key"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((key for key in error.validator_value if key not in error.instance), None)
        if missing is not None:
            return f"config: {format_path([*path, missing])}: missing required key{MISSING_HINTS.get((*path, missing), '')}"
    if is_sensitive(tuple(path)):  # never echo a secret's value into logs
        detail = f"invalid value (fails {error.validator}: {error.validator_value!r})"
    elif _may_hold_a_secret(path, error.instance):
        detail = error.message.replace(repr(error.instance), "the value")
    else:
        detail = error.message
    return f"config: {format_path(path) or '(top level)'}: {_one_line(detail)}"


def _may_hold_a_secret(path: list[Key], instance: Any) -> bool:
    """Secrets live in more places than SECRET_PATHS names (an OIDC provider's client_secret, an
    HTTP call's basic-auth password or API key value): a whole section, or a value whose key is
    named like a credential, is described without being echoed."""
    if isinstance(instance, dict | list):
        return True
    name = next((part for part in reversed(path) if isinstance(part, str)), "")
    return bool(SECRET_NAME.search(name))


def _unknown_key(error: ValidationError) -> str | None:
    known = error.schema.get("properties", {})
    patterns = error.schema.get("patternProperties", {})
    for key in error.instance:
        if key not in known and not any(re.search(p, str(key)) for p in patterns):
            return str(key)
    return None


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s; the only remote one (tracing) counts as permissive."""
    for _ in range(MAX_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            break
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return PERMISSIVE
        node = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node if isinstance(node, dict) else {}


def children(nodes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Property name -> every subschema describing it, across `allOf`/`anyOf`/`oneOf` branches."""
    root = config_schema()
    found: dict[str, list[dict[str, Any]]] = {}
    stack = [_resolve(node, root) for node in nodes]
    while stack:
        node = stack.pop()
        for name, sub in node.get("properties", {}).items():
            found.setdefault(name, []).append(_resolve(sub, root))
        for keyword in ("allOf", "anyOf", "oneOf"):
            stack.extend(_resolve(branch, root) for branch in node.get(keyword, []))
    return found


def property_paths() -> Iterator[tuple[tuple[str, ...], list[dict[str, Any]]]]:
    """Every named-property path (not into arrays or patternProperties), depth-bounded, with its schemas."""

    def walk(nodes: list[dict[str, Any]], prefix: tuple[str, ...]) -> Iterator[Any]:
        if len(prefix) >= MAX_DEPTH:
            return
        for name, subs in children(nodes).items():
            yield prefix + (name,), subs
            yield from walk(subs, prefix + (name,))

    yield from walk([config_schema()], ())


def schema_default(path: tuple[str, ...]) -> Any:
    """The schema's `default` at `path`, or MISSING. A copy: callers may mutate it."""
    nodes = [config_schema()]
    for part in path:
        nodes = children(nodes).get(part, [])
        if not nodes:
            return MISSING
    for node in nodes:
        if "default" in node:
            return copy.deepcopy(node["default"])
    return MISSING
