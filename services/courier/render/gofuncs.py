"""The functions a Kratos courier template can call, and how Go prints a value.

Kratos gives its templates Go's built-in template functions and Sprig's hermetic set
(`sprig.HermeticTxtFuncMap()`: everything but the clock, randomness, the environment and DNS), and
its users' templates call them: `upper`, `default`, `trunc`, `printf`, `dict`, `toJson`… These are
the ones an email or SMS template has a use for, each written against JSON data (dicts, lists,
strings, numbers, booleans, None) and nothing else. A function not listed here is refused when the
template is loaded (`function "x" not defined`, Go's words), as Kratos refuses `now` or `env`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

from markupsafe import escape

from services.courier.errors import TemplateError


def go_string(value: Any, nested: bool = False) -> str:
    """`fmt.Sprint(value)`, for the values JSON has. A missing value prints as nothing (Go prints
    `<no value>`; the built-in templates print nothing, and so do these)."""
    if value is None:
        return "<nil>" if nested else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(value[k], True)}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v, True) for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's %v of a float64: the shortest digits, in exponent form below 1e-4 and from 1e21 on."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    number = Decimal(repr(value))
    if number == 0 or -4 <= number.adjusted() < 21:
        return format(number.normalize(), "f") if number else "0"
    sign, digits, _ = number.normalize().as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    exponent = number.adjusted()
    return f"{'-' if sign else ''}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def truth(value: Any) -> bool:
    """Go's `if`: false, 0, nil and empty strings, lists and maps are false."""
    return bool(value) if value is not None else False


def _int(value: Any) -> int:
    """Sprig's `toInt64`: numbers truncated, numeric strings parsed, anything else 0."""
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return 0
    return 0


def _float(value: Any) -> float:
    try:
        return float(value) if value is not None and not isinstance(value, (dict, list)) else 0.0
    except ValueError:
        return 0.0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else go_string(value)


def _sprint(*args: Any) -> str:
    """`fmt.Sprint`: a space between two operands when neither is a string."""
    out = ""
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out += " "
        out += go_string(arg, True)
    return out


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _printf(form: str, *args: Any) -> str:
    """`fmt.Sprintf` for the verbs a message needs: %v %s %q %d %f %e %g %x %t %c %%, with width,
    precision and the - + 0 flags."""
    remaining = list(args)

    def verb(match: re.Match[str]) -> str:
        flags, width, precision, kind = match.groups()
        if kind == "%":
            return "%"
        if not remaining:
            return f"%!{kind}(MISSING)"
        arg = remaining.pop(0)
        align = "<" if "-" in flags else ">"
        if kind in "dxXob" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            spec = ("+" if "+" in flags else "") + ("0" if "0" in flags and align == ">" else "") + (width or "")
            return format(int(arg), f"{'<' if align == '<' else ''}{spec}{'d' if kind == 'd' else kind}")
        if kind in "eEfFgG" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            if kind in "gG" and precision is None:
                text = _go_float(float(arg))
            else:
                text = format(float(arg), f"{'+' if '+' in flags else ''}.{precision or 6}{kind}")
            return format(text, f"{'0' if '0' in flags and align == '>' else ''}{align}{width or ''}")
        if kind == "q":
            text = json.dumps(_text(arg), ensure_ascii=False)
        elif kind == "t":
            text = go_string(arg)
        elif kind == "c" and isinstance(arg, int):
            text = chr(arg)
        elif kind in "xX" and isinstance(arg, str):
            text = arg.encode().hex()
            text = text.upper() if kind == "X" else text
        else:
            text = go_string(arg, True) if not isinstance(arg, str) else arg
            text = text[: int(precision)] if precision is not None and kind == "s" else text
        return format(text, f"{align}{width or ''}")

    return _VERB.sub(verb, form)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, b: Any) -> bool:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) or type(a) is type(b):
            return op(a, b)
        raise TemplateError("incompatible types for comparison")

    return compare


def _equal(a: Any, b: Any) -> bool:
    """Go's `eq`, except that values of different kinds are unequal rather than an error: a trait
    the identity lacks (`eq .Identity.traits.language "de"`) is not "de", and the mail goes out."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) ^ isinstance(b, bool):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, (list, str)) and isinstance(key, int):
            value = value[key] if 0 <= key < len(value) else _fail("index out of range")
        elif value is None:
            return None
        else:
            _fail(f"can't index item of type {type(value).__name__}")
    return value


def _fail(message: str) -> Any:
    raise TemplateError(message)


def _empty(value: Any) -> bool:
    return not truth(value)


def _default(fallback: Any, *given: Any) -> Any:
    return fallback if not given or _empty(given[0]) else given[0]


def _trunc(count: int, text: str) -> str:
    if count < 0:
        return text[count:] if len(text) + count > 0 else text
    return text[:count]


def _substr(start: int, end: int, text: str) -> str:
    if start < 0:
        return text[:end]
    if end < 0 or end > len(text):
        return text[start:]
    return text[start:end]


def _abbrev(width: int, text: str) -> str:
    return text if width < 4 or len(text) <= width else text[: width - 3] + "..."


def _title(text: str) -> str:
    return re.sub(r"(?<!\w)(\w)", lambda m: m.group(1).upper(), text)


def _untitle(text: str) -> str:
    return re.sub(r"(?<!\w)(\w)", lambda m: m.group(1).lower(), text)


def _dig(*args: Any) -> Any:
    *keys, fallback, value = args
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return fallback
        value = value[key]
    return value


def _dict(*pairs: Any) -> dict[str, Any]:
    values = list(pairs) + ([""] if len(pairs) % 2 else [])
    return {_text(values[i]): values[i + 1] for i in range(0, len(values), 2)}


def _json(value: Any, *, pretty: bool = False, raw: bool = False) -> str:
    text = json.dumps(
        value, ensure_ascii=False, indent=2 if pretty else None, separators=None if pretty else (",", ":")
    )
    if not raw:  # Go's json.Marshal escapes what could close a script tag
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _uniq(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go's built-in template functions (but `call`, which needs Go functions in the data).
    "and": lambda *a: next((v for v in a if not truth(v)), a[-1]),
    "or": lambda *a: next((v for v in a if truth(v)), a[-1]),
    "not": lambda a: not truth(a),
    "len": lambda a: len(a.encode()) if isinstance(a, str) else len(a),
    "index": _index,
    "slice": lambda a, *i: a[slice(*i)] if isinstance(a, (str, list)) else _fail("can't slice"),
    "print": _sprint,
    "printf": _printf,
    "println": lambda *a: " ".join(go_string(v, True) for v in a) + "\n",
    "html": lambda *a: str(escape(_sprint(*a))),
    "urlquery": lambda *a: quote_plus(_sprint(*a)),
    "eq": lambda a, *b: any(_equal(a, v) for v in b),
    "ne": lambda a, b: not _equal(a, b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    # Sprig: strings.
    "upper": lambda s: _text(s).upper(),
    "lower": lambda s: _text(s).lower(),
    "title": lambda s: _title(_text(s)),
    "untitle": lambda s: _untitle(_text(s)),
    "trim": lambda s: _text(s).strip(),
    "trimAll": lambda cut, s: _text(s).strip(cut),
    "trimPrefix": lambda p, s: _text(s).removeprefix(p),
    "trimSuffix": lambda p, s: _text(s).removesuffix(p),
    "trunc": lambda n, s: _trunc(_int(n), _text(s)),
    "abbrev": lambda n, s: _abbrev(_int(n), _text(s)),
    "substr": lambda a, b, s: _substr(_int(a), _int(b), _text(s)),
    "replace": lambda old, new, s: _text(s).replace(old, new),
    "repeat": lambda n, s: _text(s) * max(0, _int(n)),
    "contains": lambda sub, s: _text(sub) in _text(s),
    "hasPrefix": lambda p, s: _text(s).startswith(_text(p)),
    "hasSuffix": lambda p, s: _text(s).endswith(_text(p)),
    "quote": lambda *a: " ".join(json.dumps(_text(v), ensure_ascii=False) for v in a if v is not None),
    "squote": lambda *a: " ".join(f"'{_text(v)}'" for v in a if v is not None),
    "cat": lambda *a: " ".join(_text(v) for v in a if v is not None),
    "indent": lambda n, s: "\n".join(" " * _int(n) + line for line in _text(s).split("\n")),
    "nindent": lambda n, s: "\n" + "\n".join(" " * _int(n) + line for line in _text(s).split("\n")),
    "nospace": lambda s: re.sub(r"\s", "", _text(s)),
    "plural": lambda one, many, n: one if _int(n) == 1 else many,
    "initials": lambda s: "".join(word[0] for word in _text(s).split()),
    "splitList": lambda sep, s: _text(s).split(sep),
    "split": lambda sep, s: {f"_{i}": part for i, part in enumerate(_text(s).split(sep))},
    "join": lambda sep, v: sep.join(_text(x) for x in (v if isinstance(v, list) else [v]) if x is not None),
    "sortAlpha": lambda v: sorted(_text(x) for x in v),
    # Sprig's regex functions are left out: Go's RE2 runs in linear time, Python's `re` backtracks,
    # and a pattern of the operator's run over a user's traits could stall the courier.
    # Sprig: defaults, conversions, encodings.
    "default": _default,
    "empty": _empty,
    "coalesce": lambda *a: next((v for v in a if not _empty(v)), None),
    "ternary": lambda yes, no, cond: yes if truth(cond) else no,
    # Go returns the text as the error; it is left out here, as it may quote the data (a code).
    "fail": lambda _message: _fail("the template called fail"),
    "toString": _text,
    "toJson": _json,
    "toRawJson": lambda v: _json(v, raw=True),
    "toPrettyJson": lambda v: _json(v, pretty=True),
    "fromJson": lambda s: json.loads(s) if s else None,
    "atoi": _int,
    "int": _int,
    "int64": _int,
    "float64": _float,
    "b64enc": lambda s: base64.b64encode(_text(s).encode()).decode(),
    "b64dec": lambda s: base64.b64decode(_text(s)).decode(errors="replace"),
    "sha256sum": lambda s: hashlib.sha256(_text(s).encode()).hexdigest(),
    # Sprig: numbers.
    "add": lambda *n: sum(_int(v) for v in n),
    "add1": lambda n: _int(n) + 1,
    "sub": lambda a, b: _int(a) - _int(b),
    "mul": lambda *n: math.prod(_int(v) for v in n),
    "div": lambda a, b: int(_int(a) / _int(b)),  # Go's integer division truncates toward zero
    "mod": lambda a, b: int(math.fmod(_int(a), _int(b))),
    "max": lambda *n: max(_int(v) for v in n),
    "min": lambda *n: min(_int(v) for v in n),
    "floor": lambda n: float(math.floor(_float(n))),
    "ceil": lambda n: float(math.ceil(_float(n))),
    "round": lambda n, places=0: round(_float(n), _int(places)),
    # Sprig: lists and dicts.
    "list": lambda *a: list(a),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "rest": lambda v: list(v[1:]),
    "initial": lambda v: list(v[:-1]),
    "append": lambda v, x: [*v, x],
    "prepend": lambda v, x: [x, *v],
    "has": lambda needle, v: needle in (v or []),
    "uniq": _uniq,
    "reverse": lambda v: list(reversed(v)),
    "compact": lambda v: [x for x in v if not _empty(x)],
    "dict": _dict,
    "get": lambda d, k: d.get(k, "") if isinstance(d, dict) else "",
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "keys": lambda *ds: sorted(k for d in ds for k in d),
    "values": lambda d: [d[k] for k in sorted(d)],
    "pick": lambda d, *ks: {k: d[k] for k in ks if k in d},
    "omit": lambda d, *ks: {k: v for k, v in d.items() if k not in ks},
    "dig": _dig,
}
FUNCTIONS["push"] = FUNCTIONS["append"]
