"""A small, safe subset of Go's text/template, for the template overrides Kratos configs carry.

Kratos's templates are Go templates (`{{ .RecoveryCode }}`). Overrides are rendered here, not
translated into Jinja2: their literal text can never become template code, and nothing in them can
reach Python objects. The subset:

    {{ .Field }}  {{ .Field.sub.key }}          a value of the template data (missing: empty)
    {{ index .Identity.traits "first-name" }}   a key that is not a Go identifier
    {{ if PIPE }} … {{ else if PIPE }} … {{ else }} … {{ end }}
    PIPE: a value, or `not X`, `eq X Y…`, `ne X Y`, `and X Y…`, `or X Y…`, `len X`, `index X K…`
    literals: "strings", `raw strings`, numbers, true, false, nil
    {{/* comments */}}, and the trim markers `{{- ` and ` -}}`

Anything else (`range`, `with`, `define`/`template`, pipes `|`, variables, sprig functions) is
refused when the template is loaded, so a config that needs more fails at start-up, not at send
time. In HTML bodies every value is HTML-escaped, as Go's html/template would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape

from services.courier.errors import TemplateError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\S+')
_FIELD = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
FUNCTIONS = {"not", "eq", "ne", "and", "or", "len", "index"}


@dataclass
class _If:
    branches: list[tuple[list[str], list[Any]]] = field(default_factory=list)
    otherwise: list[Any] | None = None

    def body(self) -> list[Any]:
        return self.otherwise if self.otherwise is not None else self.branches[-1][1]


@dataclass(frozen=True)
class _Output:
    pipe: list[str]


class GoTemplate:
    def __init__(self, source: str, *, html: bool = False, name: str = "template") -> None:
        self._html = html
        self._name = name
        self._nodes = self._parse(source)

    def render(self, context: dict[str, Any]) -> str:
        return "".join(self._render(self._nodes, context))

    def _fail(self, problem: str) -> TemplateError:
        return TemplateError(f"{self._name}: {problem}")

    def _parse(self, source: str) -> list[Any]:
        root: list[Any] = []
        stack: list[_If] = []
        current = root
        position = 0
        trim_next = False
        for match in _ACTION.finditer(source):
            text = source[position : match.start()]
            text = text.lstrip() if trim_next else text
            current.append(text.rstrip() if match.group(1) else text)
            position, trim_next = match.end(), bool(match.group(3))
            action = match.group(2).strip()
            if action.startswith("/*") and action.endswith("*/"):
                continue
            words = _TOKEN.findall(action)
            if not words:
                raise self._fail("empty action {{}}")
            head = words[0]
            if head == "if":
                block = _If([(self._pipe(words[1:]), [])])
                current.append(block)
                stack.append(block)
                current = block.body()
            elif head == "else" and stack:
                block = stack[-1]
                if block.otherwise is not None:
                    raise self._fail("{{ else }} after {{ else }}")
                if words[1:2] == ["if"]:
                    block.branches.append((self._pipe(words[2:]), []))
                else:
                    block.otherwise = []
                current = block.body()
            elif head == "end" and stack:
                stack.pop()
                current = stack[-1].body() if stack else root
            else:
                current.append(_Output(self._pipe(words)))
        if stack:
            raise self._fail("{{ if }} without {{ end }}")
        tail = source[position:]
        root_tail = tail.lstrip() if trim_next else tail
        current.append(root_tail)
        return root

    def _pipe(self, words: list[str]) -> list[str]:
        if not words:
            raise self._fail("an action needs a value")
        if "|" in words or words[0] in ("range", "with", "define", "template", "block", "break", "continue"):
            raise self._fail(f"{' '.join(words)!r} is beyond the supported subset of Go templates")
        head, args = words[0], words[1:]
        if head in FUNCTIONS:
            if not args:
                raise self._fail(f"{head} needs arguments")
        elif args:
            raise self._fail(f"unknown function {head!r}")
        for word in words if head not in FUNCTIONS else args:
            if not self._is_term(word):
                raise self._fail(f"{word!r} is beyond the supported subset of Go templates")
        return words

    @staticmethod
    def _is_term(word: str) -> bool:
        return bool(_FIELD.fullmatch(word) or _NUMBER.fullmatch(word) or word[:1] in ('"', "`")) or word in (
            "true",
            "false",
            "nil",
        )

    def _render(self, nodes: list[Any], context: dict[str, Any]) -> Any:
        for node in nodes:
            if isinstance(node, str):
                yield node
            elif isinstance(node, _Output):
                text = _format(_evaluate(node.pipe, context))
                yield str(escape(text)) if self._html else text
            else:
                chosen = next((body for pipe, body in node.branches if _evaluate(pipe, context)), node.otherwise or [])
                yield from self._render(chosen, context)


def _evaluate(words: list[str], context: dict[str, Any]) -> Any:
    head, args = words[0], [_term(w, context) for w in words[1:]]
    if head not in FUNCTIONS:
        return _term(head, context)
    if head == "not":
        return not args[0]
    if head == "eq":
        return any(args[0] == other for other in args[1:])
    if head == "ne":
        return args[0] != args[1] if len(args) > 1 else False
    if head == "and":
        return next((a for a in args if not a), args[-1])
    if head == "or":
        return next((a for a in args if a), args[-1])
    if head == "len":
        return len(args[0]) if isinstance(args[0], (str, list, dict)) else 0
    value = args[0]  # index
    for key in args[1:]:
        value = _lookup(value, key)
    return value


def _term(word: str, context: dict[str, Any]) -> Any:
    if word.startswith("."):
        value: Any = context
        for name in word[1:].split("."):
            value = _lookup(value, name)
        return value
    if word[:1] == '"':
        return json.loads(word)
    if word[:1] == "`":
        return word[1:-1]
    if word in ("true", "false"):
        return word == "true"
    if word == "nil":
        return None
    return float(word) if "." in word else int(word)


def _lookup(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return value[key]
    return None


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
