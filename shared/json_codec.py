"""JSON on the hot paths, encoded and decoded with orjson.

The standard library's encoder and decoder took about 5% of the event loop of the selfservice and
session services under login load (flows stored and answered, internal calls between services).
orjson does the same work several times faster. What it refuses, the standard library still takes:
an integer past 64 bits or a dict with keys that are not strings (on the way out), NaN or Infinity
(on the way in, from a record written before); and the standard library reads what orjson would
read differently (an integer past 64 bits, which orjson makes a float). Request bodies and other
JSON from outside are read by `loads_standard` (`shared.http.bodies`), which refuses what JSON does
not have, and answer the standard library's error message when not JSON.

JSON has no NaN or Infinity, and no strict parser (every SDK's) reads them: `dumps` never writes
them. A float that is not finite is written as `null`, by either encoder (orjson's rule, and
JavaScript's `JSON.stringify`'s): an answer stays JSON, and the same value is spelled the same
whichever encoder wrote it. Records written before request bodies refused them (commit 54d9537) may
still hold them; `loads_stored` reads those as `null` too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

# orjson reads an integer past 64 bits as a float, dropping digits, where the standard library keeps
# it whole: JSON with a run of 19 digits or more (2**63 has 19) is the standard library's to read.
# Found by mapping digits to "0" and the rest to " " (a tenth of what a regular expression costs).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)  # writes a NaN or an infinity as null
    except TypeError:
        pass
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # a NaN or an infinity: null, as orjson writes it (rare: both encoders needed)
        return json.dumps(_finite_or_null(value), separators=(",", ":"), allow_nan=False).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(raw: str | bytes) -> Any:
    """What `json.loads` reads, and its errors (ValueError, RecursionError) for what it refuses."""
    return _read(raw, json.loads)


def loads_standard(raw: str | bytes) -> Any:
    """`loads` for JSON from outside (request bodies, answers of other servers): only what RFC 8259
    allows. The standard library also reads NaN, Infinity and -Infinity, and a number past a
    double's range (1e400) as infinity; stored, such a value is written back as `NaN` or `Infinity`,
    and every answer carrying it (a whole page of a list) is invalid JSON to every SDK. Refused with
    a ValueError, as Kratos's decoder refuses them (orjson refuses them too, so only the fallback
    needs telling). JSON nested deeper than the standard library reads is a ValueError too, so
    that no caller has to know it raises RecursionError then."""
    return _read(raw, _standard)


def loads_stored(raw: str | bytes) -> Any:
    """`loads` for what Warden stored itself, where a record written before request bodies refused
    them may hold NaN, Infinity or -Infinity: each is read as None, so that nothing read from storage
    carries a number JSON cannot spell (the answer that shows it, a schema check, an event)."""
    return _read(raw, _stored)


def _read(raw: str | bytes, fallback: Callable[[str | bytes], Any]) -> Any:
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _LONG_RUN not in text.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and says why
    return fallback(raw)


def _standard(raw: str | bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:  # nested past the parser's depth: refused as JSON, like the rest
        raise ValueError(str(exc)) from None


def _stored(raw: str | bytes) -> Any:
    return json.loads(raw, parse_constant=_null, parse_float=_float_or_null)


def _null(_name: str) -> None:
    return None


def _float_or_null(digits: str) -> float | None:
    value = float(digits)  # 1e400 is read as infinity
    return value if math.isfinite(value) else None


def _finite_or_null(value: Any) -> Any:
    """`value` with every float that is not finite replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise ValueError(f"the number {digits[:40]} is out of range")
    return value


def json_response(value: Any, *, status: int = 200) -> web.Response:
    """What `web.json_response` answers (application/json; charset=utf-8), encoded by orjson."""
    return web.Response(body=dumps_bytes(value), status=status, content_type="application/json", charset="utf-8")
