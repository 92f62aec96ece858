"""jsonschema's validation errors as Kratos reports them (ory/jsonschema's format).

ory/jsonschema prints an error as `I[<instance pointer>] S[<schema pointer>] <message>`; several
errors print under a `... validation failed` line, indented. Its messages are kept word for word
(`missing properties: "email"`, `expected string, but got number`, `length must be >= 3, but got 1`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema.exceptions import ValidationError

from .messages import describe, quote
from .pointers import ROOT, common_prefix, join, pointer, resolve_local, unescape


@dataclass(frozen=True)
class Problem:
    instance_ptr: str  # the failing field ("#/traits/email"; for `required`, the missing property)
    reported_at: str  # where ory/jsonschema reports it (for `required`, the object missing it)
    schema_ptr: str
    keyword: str
    message: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def detail(self) -> dict[str, Any]:
        """The entry in TraitsInvalid's `details["errors"]`."""
        return {
            "instance_ptr": self.instance_ptr,
            "schema_ptr": self.schema_ptr,
            "keyword": self.keyword,
            "message": self.message,
            "context": self.context,
        }


def problems_from(error: ValidationError, root: dict[str, Any]) -> list[Problem]:
    """One Problem per failing field: a `required` error becomes one per missing property."""
    at = pointer(error.absolute_path)
    schema_ptr = schema_pointer(root, list(error.absolute_schema_path))
    keyword = str(error.validator) if error.validator is not None else "false"
    if keyword == "required":
        return [
            Problem(join(at, name), at, schema_ptr, keyword, f"missing properties: {quote(name)}", {"property": name})
            for name in error.validator_value
            if isinstance(error.instance, dict) and name not in error.instance
        ]
    message, context = describe(keyword, error)
    return [Problem(at, at, schema_ptr, keyword, message, context)]


def schema_pointer(root: dict[str, Any], path: list[str | int]) -> str:
    """The pointer of the failing keyword. jsonschema's path steps through a `$ref` as if the target
    were inline; ory/jsonschema names the target (`#/definitions/email/format`), so follow the ref."""
    node: Any = root
    at = ROOT
    for token in path:
        if isinstance(node, dict) and token not in node and isinstance(node.get("$ref"), str):
            found = resolve_local(root, node["$ref"])
            if found is not None:
                node, at = found
        node = node[token] if isinstance(node, (dict, list)) and _has(node, token) else None  # type: ignore[index]
        at = join(at, token)
    return at


def reason(problems: list[Problem], root: dict[str, Any]) -> str:
    """The text Kratos puts in `error.reason`; several errors go under one `validation failed` line
    naming the deepest field (and its schema node) they all lie in."""
    lines = _grouped_lines(problems)
    if len(lines) == 1:
        return lines[0]
    at = common_prefix([p.reported_at for p in problems])
    header = f"I[{at}] S[{schema_node_for(root, at)}] validation failed"
    return "\n  ".join([header, *lines])


def schema_node_for(root: dict[str, Any], instance_ptr: str) -> str:
    """The pointer of the schema node describing the value at `instance_ptr`, through `properties`,
    `items` and local `$ref`s; the deepest one found when the path leaves them."""
    node: Any = root
    at = ROOT
    for raw in instance_ptr.split("/")[1:]:
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node, at = resolve_local(root, node["$ref"]) or (node, at)
        token = unescape(raw)
        properties = node.get("properties") if isinstance(node, dict) else None
        if isinstance(properties, dict) and token in properties:
            node, at = properties[token], join(at, "properties", token)
        elif isinstance(node, dict) and isinstance(node.get("items"), dict):
            node, at = node["items"], join(at, "items")
        else:
            break
    return at


def _grouped_lines(problems: list[Problem]) -> list[str]:
    """One line per error as ory/jsonschema reports them: all properties missing from one object
    share a line (`missing properties: "email", "phone"`)."""
    lines: dict[tuple[str, str, str], list[Problem]] = {}
    for problem in problems:
        same_line = problem.keyword if problem.keyword == "required" else problem.message
        key = (problem.reported_at, problem.schema_ptr, same_line)
        lines.setdefault(key, []).append(problem)
    rendered = []
    for (at, schema_ptr, _), group in lines.items():
        if group[0].keyword == "required":
            message = "missing properties: " + ", ".join(quote(p.context["property"]) for p in group)
        else:
            message = group[0].message
        rendered.append(f"I[{at}] S[{schema_ptr}] {message}")
    return rendered


def _has(node: dict[str, Any] | list[Any], token: str | int) -> bool:
    if isinstance(node, list):
        return isinstance(token, int) and token < len(node)
    return token in node
