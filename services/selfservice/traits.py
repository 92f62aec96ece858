"""What the self-service flows need from identity schemas: trait input nodes for the UI, typed values
from form posts, and the identifier fields. Read from the config's schema files, their local `$ref`s
written out once, at start-up (`shared/schema_refs.py`), so a trait defined in `#/definitions` has
its type, title, format and `ory.sh/kratos` settings here too. The identity service validates; this
only describes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.ui import Node, input_node
from shared import errors, text
from shared.config import read_schema_document
from shared.errors import ConfigError
from shared.schema_refs import resolved

_INPUT_TYPES = {"email": "email", "tel": "tel", "uri": "url", "date": "date", "date-time": "datetime-local"}
_AUTOCOMPLETE = {"email": "email", "tel": "tel", "uri": "url"}


@dataclass(frozen=True)
class Field:
    path: str  # "email", "name.first"
    schema: dict[str, Any]
    required: bool

    @property
    def extension(self) -> dict[str, Any]:
        return self.schema.get("ory.sh/kratos") or {}

    def is_identifier(self, credential: str) -> bool:
        return self.marks(credential, "identifier")

    def marks(self, credential: str, flag: str) -> bool:
        """Whether the extension sets `credentials.<credential>.<flag>` (identifier, account_name…)."""
        return bool(((self.extension.get("credentials") or {}).get(credential) or {}).get(flag))


class TraitSchemas:
    def __init__(self, documents: dict[str, dict[str, Any]], default_id: str, selectable: Iterable[str] = ()) -> None:
        """`documents`: schema id -> schema, its references already written out (`from_settings`)."""
        self._fields = {schema_id: list(_fields(doc)) for schema_id, doc in documents.items()}
        self._protected = {schema_id: list(_protected_paths(doc)) for schema_id, doc in documents.items()}
        self.default_id = default_id
        # `selfservice_selectable: true`: a registration or login flow may be made for it (identity_schema.py).
        self.selectable = frozenset(selectable)

    def known(self, schema_id: str) -> bool:
        return schema_id in self._fields

    @property
    def self_service(self) -> list[str]:
        """The schemas a self-service registration may create identities of: the default, then the
        selectable ones."""
        return [self.default_id, *sorted(self.selectable - {self.default_id})]

    @classmethod
    def from_settings(cls, settings: Any) -> TraitSchemas:
        documents: dict[str, dict[str, Any]] = {}
        entries = settings.get("identity.schemas") or []
        for i, entry in enumerate(entries):
            document = read_schema_document(entry["url"], settings.config_dir)
            if document is None:
                raise ConfigError(
                    f"config: identity.schemas[{i}].url: remote identity schemas are not supported offline"
                )
            try:
                documents[entry["id"]] = resolved(document)
            except ConfigError as err:
                raise ConfigError(f"config: identity.schemas[{i}]: {err}") from None
        selectable = (entry["id"] for entry in entries if entry.get("selfservice_selectable"))
        return cls(documents, settings.get("identity.default_schema_id") or "default", selectable)

    def fields(self, schema_id: str | None = None) -> list[Field]:
        return self._fields.get(schema_id or self.default_id, [])

    def protected_paths(self, schema_id: str | None = None) -> list[str]:
        """The trait paths ("" for all the traits) whose values the identity extension reads: a change
        there may change a login identifier or an address, so it needs a privileged session."""
        return self._protected.get(schema_id or self.default_id, [""])

    def nodes(
        self, schema_id: str | None = None, group: str = "default", values: dict[str, Any] | None = None
    ) -> list[Node]:
        return [
            input_node(
                group,
                f"traits.{f.path}",
                _input_type(f.schema),
                required=f.required,
                value=_lookup(values, f.path),
                autocomplete=_AUTOCOMPLETE.get(f.schema.get("format", "")),
                label=_label(f),
            )
            for f in self.fields(schema_id)
        ]

    def identifier_fields(self, credential: str, schema_id: str | None = None) -> list[Field]:
        return [f for f in self.fields(schema_id) if f.is_identifier(credential)]

    def identifier_label(self, *credentials: str, schema_id: str | None = None) -> text.Message:
        """The login identifier's label (Kratos's GetIdentifierLabelFromSchema, on the flow's schema):
        the title when one identifier field of the first credential type that has any carries one,
        else "ID" (never the trait's path: Kratos counts only fields with a non-empty title)."""
        fields = next((found for c in credentials if (found := self.identifier_fields(c, schema_id))), [])
        titles = [t for f in fields if isinstance(t := f.schema.get("title"), str) and t]
        if len(titles) != 1:
            return text.label_id()
        return text.generated_label(titles[0], "identifier")

    def identifier_values(self, credential: str, traits: dict[str, Any], schema_id: str | None = None) -> list[str]:
        """The identifiers the traits give the credential, those of an array of them included (Kratos's
        multi-address schemas mark the array's `items`): the password is checked against each."""
        values = self.marked_values(credential, "identifier", traits, schema_id)
        for f in self.fields(schema_id):
            items = f.schema.get("items")
            if (
                f.schema.get("type") == "array"
                and isinstance(items, dict)
                and Field(f.path, items, False).is_identifier(credential)
            ):
                found = _lookup(traits, f.path)
                values += [v for v in found if isinstance(v, str) and v] if isinstance(found, list) else []
        return values

    def marked_values(
        self, credential: str, flag: str, traits: dict[str, Any], schema_id: str | None = None
    ) -> list[str]:
        found = (_lookup(traits, f.path) for f in self.fields(schema_id) if f.marks(credential, flag))
        return [v for v in found if isinstance(v, str) and v]

    def coerce(self, traits: Any, schema_id: str | None = None) -> Any:
        """Form posts carry strings; turn them into the types the schema asks for, as Kratos's decoder does."""
        if not isinstance(traits, dict):
            return traits
        result = _copy(traits)
        for f in self.fields(schema_id):
            value = _lookup(result, f.path)
            if isinstance(value, str):
                _store(result, f.path, _typed(value, f.schema.get("type")))
        return result


def _fields(document: dict[str, Any]) -> Iterator[Field]:
    traits = (document.get("properties") or {}).get("traits") or {}
    yield from _walk(traits, "")


def _walk(node: dict[str, Any], prefix: str) -> Iterator[Field]:
    required = _required(node)
    for name, schema in _declared(node).items():
        path = f"{prefix}{name}"
        if schema.get("type") == "object":
            yield from _walk(schema, f"{path}.")
        else:
            yield Field(path, schema, name in required)


# Where an object's properties may be declared besides its own `properties`: the branches Kratos's
# form builder lists too (`jsonschemax.ListPaths`). `if` and `not` are conditions, not declarations.
_BRANCHES = ("allOf", "anyOf", "oneOf", "then", "else")


def _declared(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Property name -> schema, in schema order: the node's own, then its branches'. A property
    declared twice is one field; its first declaration wins where both say something."""
    found: dict[str, dict[str, Any]] = {}
    for name, schema in (node.get("properties") or {}).items():
        if isinstance(schema, dict):
            found[name] = schema
    for branch in _branches(node):
        for name, schema in _declared(branch).items():
            found[name] = {**schema, **found[name]} if name in found else schema
    return found


def _branches(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for keyword in _BRANCHES:
        value = node.get(keyword)
        for branch in value if isinstance(value, list) else [value]:
            if isinstance(branch, dict):
                yield branch


def _required(node: dict[str, Any]) -> set[str]:
    """What the node requires, and what every `allOf` branch does (the others apply only sometimes)."""
    required = {name for name in node.get("required") or [] if isinstance(name, str)}
    for branch in node.get("allOf") or []:
        if isinstance(branch, dict):
            required |= _required(branch)
    return required


def _protected_paths(document: dict[str, Any]) -> Iterator[str]:
    traits = (document.get("properties") or {}).get("traits")
    yield from _protected_under(traits if isinstance(traits, dict) else {}, "")


def _protected_under(node: dict[str, Any], path: str) -> Iterator[str]:
    """An object's declared properties one by one; any other value (an array, a map, a composition)
    whole when the extension, or a reference that may lead to it, is anywhere in its schema: Kratos
    looks at what the identity would become, so the extension counts wherever it sits (`items`,
    `additionalProperties`, `oneOf`…)."""
    if _reaches_extension({k: v for k, v in node.items() if k != "properties"}):
        yield path
        return
    for name, schema in (node.get("properties") or {}).items():
        if isinstance(schema, dict):
            yield from _protected_under(schema, f"{path}.{name}" if path else name)


def _reaches_extension(schema: Any) -> bool:
    if isinstance(schema, dict):
        # A `$ref` still here is recursion below an array or a map, left as written: assume it does.
        if schema.get("ory.sh/kratos") or "$ref" in schema:
            return True
        return any(_reaches_extension(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_reaches_extension(v) for v in schema)
    return False


def _label(f: Field) -> text.Message | None:
    """The schema's `title`, as Kratos labels a trait (`NewInputFieldFromSchema`); none without one,
    as there (a UI falls back on what it likes: the built-in one on the field's own name)."""
    title = f.schema.get("title")
    return text.generated_label(title, f"traits.{f.path}") if title else None


def _input_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind in ("number", "integer"):
        return "number"
    if kind == "boolean":
        return "checkbox"
    return _INPUT_TYPES.get(schema.get("format", ""), "text")


def _typed(value: str, kind: Any) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value  # the identity service reports the type error with the field's pointer
    if kind == "boolean":
        return value.lower() in ("true", "on", "1")
    return value


def _lookup(values: dict[str, Any] | None, path: str) -> Any:
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _store(values: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        values = values.setdefault(part, {})
    values[last] = value


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def trait_errors(flow: Flow, error: errors.BadRequest) -> None:
    """The identity service's schema errors, shown on the trait nodes they name."""
    problems = (error.details or {}).get("errors") or []
    if not problems:
        flow.ui.messages.append(text.validation_failed(error.reason or error.message))
    for problem in problems:
        pointer = str(problem.get("instance_ptr", "#/traits")).removeprefix("#/").replace("/", ".")
        flow.ui.add_node_message(pointer, text.from_schema_error(problem))
