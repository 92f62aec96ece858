"""Go's text/template language, for the template overrides Kratos configs carry.

Kratos renders its courier templates with Go's text/template (html/template for HTML bodies) and
Sprig's hermetic functions (`courier/template/load_template.go`), and its users write templates to
match: `{{ upper .Identity.traits.firstName }}`, `{{ .Identity.traits.name | default "there" }}`,
`{{ range }}`, `{{ with }}`, variables, and i18n through `{{ define }}` / `{{ template }}` across the
files of one override folder. All of that is parsed and executed here, not translated into Jinja2:
the template's text can never become template code, and nothing in it reaches a Python object (the
data is JSON: dicts, lists, strings, numbers, booleans, None; the functions are `gofuncs.FUNCTIONS`).

A template that does not parse, or calls a function Warden does not have, is refused when it is
loaded, so a config that needs more fails at start-up, not at send time. Where Go would stop at run
time on a missing field (a key the data lacks, a field of nothing), the value is empty instead, as the
built-in templates treat it. In HTML bodies every value printed is HTML-escaped, as html/template does
in text and attribute positions; inside a URL attribute (`href`, `src`, ...) it is first treated as
html/template treats it there (`html_url`), so that a value a client chose (a trait, the flow's
`transient_payload`) cannot make a mail's link a `javascript:` one or add parameters to a link, and
in an unquoted attribute value its spaces and `=` are escaped, so that it cannot add an attribute.
A pipeline that ends in `html` gets the same treatment there (html/template puts its URL filter
before that `html`), only not escaped twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from markupsafe import escape

from services.courier.errors import TemplateError
from services.courier.render.gofuncs import FUNCTIONS, go_string, truth
from services.courier.render.html_url import VALUE, in_tag

_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<char>'(?:[^'\\]|\\.)+')
    |(?P<declare>:=)|(?P<punct>[|(),=])|(?P<var>\$[A-Za-z0-9_]*)|(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
    |(?P<dot>\.)|(?P<number>[-+]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)""",
    re.VERBOSE,
)
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
MAX_DEPTH = 100  # nested {{ template }} calls: a template that includes itself must not loop forever


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    glued: bool  # no space before it: `(…).Field`, `$x.Field`


@dataclass
class _Operand:
    kind: str  # field | var | literal | func | pipe | dot
    value: Any = None
    chain: tuple[str, ...] = ()


@dataclass
class _Pipe:
    commands: list[list[_Operand]]
    declare: list[str] = field(default_factory=list)
    assign: bool = False  # `$x = …` (an existing variable) rather than `$x := …`


@dataclass
class _Block:
    kind: str  # if | range | with
    pipe: _Pipe
    body: list[Any] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class _Call:
    name: str
    pipe: _Pipe | None


@dataclass(frozen=True)
class _Jump:
    kind: str  # break | continue


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class GoTemplate:
    """One template, with the templates it may call: those its own text defines and, for a file of
    an override folder, those of its sibling files (Kratos parses `email.body*` as one set)."""

    def __init__(
        self, source: str, *, html: bool = False, name: str = "template", associated: dict[str, str] | None = None
    ) -> None:
        self._html = html
        self._name = name
        self._templates: dict[str, list[Any]] = {}
        for file_name, text in (associated or {}).items():
            self._templates[file_name] = _Parser(text, file_name, self._templates).parse()
        self._nodes = _Parser(source, name, self._templates).parse()
        for called in self._calls(self._nodes, set()):
            if called not in self._templates:
                raise TemplateError(f"{name}: no such template {called!r}")

    def render(self, context: dict[str, Any]) -> str:
        run = _Run(self._templates, self._html, context)
        written: list[str] = []
        for chunk in run.nodes(self._nodes, context, 0):
            written.append(chunk)
            run.context.append(VALUE if isinstance(chunk, _Printed) else chunk)
        return "".join(written)

    def _calls(self, nodes: list[Any], seen: set[int]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, _Call):
                yield node.name
                body = self._templates.get(node.name)
                if body is not None and id(body) not in seen:
                    seen.add(id(body))
                    yield from self._calls(body, seen)
            elif isinstance(node, _Block):
                yield from self._calls(node.body, seen)
                yield from self._calls(node.otherwise, seen)


class _Parser:
    def __init__(self, source: str, name: str, templates: dict[str, list[Any]]) -> None:
        self._source = source
        self._name = name
        self._templates = templates
        self._depth_in_range = 0
        self._vars = ["$"]  # the variables in scope, checked as Go's parser checks them

    def fail(self, problem: str) -> TemplateError:
        return TemplateError(f"{self._name}: {problem}")

    def parse(self) -> list[Any]:
        self._items = list(self._lex())
        self._at = 0
        nodes, ending = self._list()
        if ending is not None:
            raise self.fail(f"unexpected {{{{ {ending[0]} }}}}")
        return nodes

    def _lex(self) -> Iterator[tuple[str, Any]]:
        """Text and actions, with the trim markers applied to the text around them."""
        position, trim_next = 0, False
        for match in _ACTION.finditer(self._source):
            text = self._source[position : match.start()]
            text = text.lstrip(" \t\r\n") if trim_next else text
            text = text.rstrip(" \t\r\n") if match.group(1) else text
            if text:
                yield "text", text
            position, trim_next = match.end(), bool(match.group(3))
            body = match.group(2)
            if body.strip().startswith("/*"):
                if not body.strip().endswith("*/"):
                    raise self.fail("unclosed comment")
                continue
            yield "action", self._tokens(body)
        tail = self._source[position:]
        tail = tail.lstrip(" \t\r\n") if trim_next else tail
        if "{{" in tail:
            raise self.fail("unclosed action")
        if tail:
            yield "text", tail

    def _tokens(self, body: str) -> list[_Token]:
        tokens: list[_Token] = []
        position, glued = 0, False
        while position < len(body):
            match = _TOKEN.match(body, position)
            if match is None:
                raise self.fail(f"unexpected {body[position]!r} in action")
            kind = match.lastgroup or ""
            if kind == "space":
                glued = False
            else:
                tokens.append(_Token(kind, match.group(), glued))
                glued = True
            position = match.end()
        if not tokens:
            raise self.fail("missing value for command")
        return tokens

    def _list(self) -> tuple[list[Any], list[_Token] | None]:
        """Nodes up to an `{{ end }}` or `{{ else … }}` (returned, to the block that asked) or the end."""
        nodes: list[Any] = []
        while self._at < len(self._items):
            kind, item = self._items[self._at]
            self._at += 1
            if kind == "text":
                nodes.append(item)
                continue
            head = item[0].text if item[0].kind == "ident" else ""
            if head in ("end", "else"):
                return nodes, item
            if head in ("if", "range", "with"):
                nodes.append(self._block(head, item[1:]))
            elif head in ("define", "block"):
                name, rest = self._template_name(item)
                if head == "define" and rest:
                    raise self.fail("define takes only a name")
                outer, self._vars = self._vars, ["$"]
                self._templates[name] = self._body("define")
                self._vars = outer
                if head == "block":
                    nodes.append(_Call(name, self._pipe(rest) if rest else None))
            elif head == "template":
                name, rest = self._template_name(item)
                nodes.append(_Call(name, self._pipe(rest) if rest else None))
            elif head in ("break", "continue"):
                if len(item) > 1 or not self._depth_in_range:
                    raise self.fail(f"{head} outside a range")
                nodes.append(_Jump(head))
            else:
                nodes.append(self._pipe(item))
        return nodes, None

    def _template_name(self, item: list[_Token]) -> tuple[str, list[_Token]]:
        if len(item) < 2 or item[1].kind not in ("string", "raw"):
            raise self.fail(f"{item[0].text} needs a template name in quotes")
        return str(_literal(item[1])), item[2:]

    def _body(self, kind: str) -> list[Any]:
        nodes, ending = self._list()
        if ending is None or ending[0].text != "end" or len(ending) > 1:
            raise self.fail(f"{{{{ {kind} }}}} without {{{{ end }}}}")
        return nodes

    def _block(self, kind: str, tokens: list[_Token]) -> _Block:
        mark = len(self._vars)  # what the block declares ends with it
        block = _Block(kind, self._pipe(tokens, declare_two=kind == "range"))
        self._depth_in_range += kind == "range"
        block.body, ending = self._list()
        self._depth_in_range -= kind == "range"
        if ending is None:
            raise self.fail(f"{{{{ {kind} }}}} without {{{{ end }}}}")
        if ending[0].text == "else":
            rest = ending[1:]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                block.otherwise = [self._block(rest[0].text, rest[1:])]  # its {{ end }} closes both
            elif rest:
                raise self.fail(f"unexpected {rest[0].text!r} after else")
            else:
                block.otherwise = self._body(kind)
        elif len(ending) > 1:
            raise self.fail("end takes nothing")
        del self._vars[mark:]
        return block

    def _pipe(self, tokens: list[_Token], declare_two: bool = False) -> _Pipe:
        pipe = _Pipe([])
        declared = _declaration(tokens, declare_two)
        if declared:
            pipe.declare, pipe.assign, tokens = declared
        if not tokens:
            raise self.fail("missing value for command")
        at = 0
        command: list[_Operand] = []
        while at < len(tokens):
            token = tokens[at]
            if token.text == "|" and token.kind == "punct":
                if not command:
                    raise self.fail("missing command before |")
                pipe.commands.append(command)
                command = []
                at += 1
                continue
            operand, at = self._operand(tokens, at)
            command.append(operand)
        if not command:
            raise self.fail("missing command after |")
        pipe.commands.append(command)
        for name in pipe.declare:
            if pipe.assign and name not in self._vars:
                raise self.fail(f"undefined variable: {name}")
            self._vars.append(name)
        for index, cmd in enumerate(pipe.commands):
            if cmd[0].kind != "func" and (len(cmd) > 1 or index > 0):
                raise self.fail("can't give argument to non-function")
        return pipe

    def _operand(self, tokens: list[_Token], at: int) -> tuple[_Operand, int]:
        token = tokens[at]
        at += 1
        if token.kind == "punct" and token.text == "(":
            depth, end = 1, at
            while end < len(tokens) and depth:
                depth += {"(": 1, ")": -1}.get(tokens[end].text if tokens[end].kind == "punct" else "", 0)
                end += 1
            if depth:
                raise self.fail("unclosed left paren")
            operand = _Operand("pipe", self._pipe(tokens[at : end - 1]))
            at = end
        elif token.kind == "field":
            return _Operand("field", chain=tuple(token.text[1:].split("."))), at
        elif token.kind == "dot":
            return _Operand("dot"), at
        elif token.kind == "var":
            if token.text not in self._vars:
                raise self.fail(f'undefined variable "{token.text}"')
            operand = _Operand("var", token.text)
        elif token.kind == "ident":
            if token.text in ("true", "false", "nil"):
                return _Operand("literal", {"true": True, "false": False, "nil": None}[token.text]), at
            if token.text in _KEYWORDS:
                raise self.fail(f"unexpected {token.text!r} in command")
            if token.text not in FUNCTIONS:
                raise self.fail(f'function "{token.text}" not defined')
            return _Operand("func", token.text), at
        elif token.kind in ("string", "raw", "char", "number"):
            try:
                return _Operand("literal", _literal(token)), at
            except ValueError:
                raise self.fail(f"bad literal {token.text}") from None
        else:
            raise self.fail(f"unexpected {token.text!r} in command")
        if at < len(tokens) and tokens[at].kind == "field" and tokens[at].glued:  # `(…).Field`, `$x.Field`
            operand.chain = tuple(tokens[at].text[1:].split("."))
            at += 1
        return operand, at


def _declaration(tokens: list[_Token], two: bool) -> tuple[list[str], bool, list[_Token]] | None:
    """`$x := …`, `$x = …`, and in a range `$i, $v := …`."""
    if len(tokens) >= 3 and tokens[0].kind == "var" and tokens[1].kind in ("declare", "punct"):
        if tokens[1].kind == "declare" or tokens[1].text == "=":
            return [tokens[0].text], tokens[1].text == "=", tokens[2:]
        if two and tokens[1].text == "," and len(tokens) >= 5 and tokens[2].kind == "var":
            if tokens[3].kind == "declare" or tokens[3].text == "=":
                return [tokens[0].text, tokens[2].text], tokens[3].text == "=", tokens[4:]
    return None


def _literal(token: _Token) -> Any:
    text = token.text
    if token.kind == "raw":
        return text[1:-1]
    if token.kind == "string":
        return json.loads(text)  # Go's escapes, but for the rare \x and \a
    if token.kind == "char":
        value = json.loads('"' + text[1:-1].replace('"', '\\"').replace("\\'", "'") + '"')
        if len(value) != 1:
            raise ValueError(text)
        return ord(value)
    text = text.replace("_", "")
    if text.lower().lstrip("+-").startswith("0x"):
        return int(text, 16)
    return float(text) if any(c in text for c in ".eE") else int(text)


class _Printed(str):
    """A value printed, as `render` receives it: the context is read off the template's text alone."""

    __slots__ = ()


def _ends_escaped(pipe: _Pipe) -> bool:
    """`{{ .X | html }}`: Go's html/template takes a pipeline that ends in the `html` escaper as its
    own escaping, and does not escape it again (`<` stays `&lt;`, not `&amp;lt;`)."""
    last = pipe.commands[-1] if pipe.commands else []
    return bool(last) and last[0].kind == "func" and last[0].value == "html"


class _Run:
    def __init__(self, templates: dict[str, list[Any]], html: bool, root: Any) -> None:
        self._templates = templates
        self._html = html
        self._vars: list[tuple[str, Any]] = [("$", root)]
        # The template's text `render` has taken so far, each value printed as VALUE: where in the
        # HTML a value goes, read off the template as html/template reads it, never off the values.
        self.context: list[str] = []

    def nodes(self, nodes: list[Any], dot: Any, depth: int) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, str):
                yield node
            elif isinstance(node, _Jump):
                raise _Break if node.kind == "break" else _Continue
            elif isinstance(node, _Pipe):
                value = self.pipe(node, dot)
                if not node.declare:
                    text = go_string(value)
                    yield _Printed(self._escaped(text, _ends_escaped(node)) if self._html else text)
            elif isinstance(node, _Block):
                yield from self.block(node, dot, depth)
            else:
                if depth >= MAX_DEPTH:
                    raise TemplateError(f"template {node.name!r} calls itself too deeply")
                argument = self.pipe(node.pipe, dot) if node.pipe else None
                saved, self._vars = self._vars, [("$", argument)]
                try:
                    yield from self.nodes(self._templates[node.name], argument, depth + 1)
                finally:
                    self._vars = saved

    def _escaped(self, text: str, escaped: bool) -> str:
        """`text` escaped where it lands; `escaped`: by the pipeline's own `html` already (undone
        inside a tag, where more than HTML escaping is due, as html/template moves that `html` after
        its own escapers there)."""
        escaper = in_tag(self.context)
        if escaper is None:
            return text if escaped else str(escape(text))
        return escaper(unescape(text) if escaped else text)

    def block(self, block: _Block, dot: Any, depth: int) -> Iterator[str]:
        mark = len(self._vars)
        try:
            if block.kind == "range":
                yield from self._range(block, dot, depth)
                return
            value = self.pipe(block.pipe, dot)
            if truth(value):
                yield from self.nodes(block.body, value if block.kind == "with" else dot, depth)
            else:
                yield from self.nodes(block.otherwise, dot, depth)
        finally:
            del self._vars[mark:]

    def _range(self, block: _Block, dot: Any, depth: int) -> Iterator[str]:
        value = self.pipe(_Pipe(block.pipe.commands), dot)
        if isinstance(value, dict):
            items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over a {type(value).__name__}")  # not the value: a code
        if not items:
            yield from self.nodes(block.otherwise, dot, depth)
            return
        names = block.pipe.declare
        for key, element in items:
            mark = len(self._vars)
            if len(names) == 1:
                self._set(names[0], element, block.pipe.assign)
            elif names:
                self._set(names[0], key, block.pipe.assign)
                self._set(names[1], element, block.pipe.assign)
            try:
                yield from self.nodes(block.body, element, depth)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                if not block.pipe.assign:
                    del self._vars[mark:]

    def pipe(self, pipe: _Pipe, dot: Any) -> Any:
        value: Any = None
        for index, command in enumerate(pipe.commands):
            value = self._command(command, dot, value, index > 0)
        for name in pipe.declare:
            self._set(name, value, pipe.assign)
        return value

    def _set(self, name: str, value: Any, assign: bool) -> None:
        if assign:
            for index in range(len(self._vars) - 1, -1, -1):
                if self._vars[index][0] == name:
                    self._vars[index] = (name, value)
                    return
            raise TemplateError(f"undefined variable: {name}")
        self._vars.append((name, value))

    def _command(self, command: list[_Operand], dot: Any, piped: Any, has_piped: bool) -> Any:
        head = command[0]
        if head.kind != "func":
            return self._operand(head, dot)
        args = [self._operand(operand, dot) for operand in command[1:]]
        if has_piped:
            args.append(piped)
        try:
            return FUNCTIONS[head.value](*args)
        except TemplateError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, OverflowError) as exc:
            raise TemplateError(f"error calling {head.value}: {type(exc).__name__}") from None

    def _operand(self, operand: _Operand, dot: Any) -> Any:
        if operand.kind == "literal":
            return operand.value
        if operand.kind == "dot":
            return dot
        if operand.kind == "field":
            value = dot
        elif operand.kind == "var":
            value = next((v for n, v in reversed(self._vars) if n == operand.value), _UNDEFINED)
            if value is _UNDEFINED:
                raise TemplateError(f"undefined variable: {operand.value}")
        else:
            value = self.pipe(operand.value, dot)
        for name in operand.chain:
            value = value.get(name) if isinstance(value, dict) else None
        return value


_UNDEFINED = object()
