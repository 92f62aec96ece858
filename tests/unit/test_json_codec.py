"""The hot paths' JSON (shared/json_codec.py): orjson where it can, the standard library for what
orjson refuses, and answers with the headers `web.json_response` gives."""

from __future__ import annotations

import json
import math

import pytest

from shared import json_codec
from shared.errors import BadRequest
from shared.http.bodies import parse_json


def test_round_trips_what_flows_and_internal_calls_carry() -> None:
    value = {"id": "f", "ui": {"nodes": [{"attributes": {"value": "ａｌｉｃｅ"}}]}, "n": 1.5, "ok": True, "none": None}
    assert json_codec.loads(json_codec.dumps(value)) == value
    assert json.loads(json_codec.dumps(value)) == value


def test_what_orjson_refuses_the_standard_library_takes() -> None:
    big = {"n": 2**70, 1: "integer key"}
    assert json.loads(json_codec.dumps(big)) == {"n": 2**70, "1": "integer key"}
    assert json_codec.loads('{"x": NaN}')["x"] != json_codec.loads('{"x": NaN}')["x"]  # NaN, read back


def test_answers_are_json_in_utf8() -> None:
    response = json_codec.json_response({"a": "é"}, status=201)
    assert response.status == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.body) == {"a": "é"}  # type: ignore[arg-type]


def test_integers_past_64_bits_are_read_back_whole() -> None:
    """orjson reads them as floats; a trait such as `{"n": 2**70}` must cross a hop unchanged."""
    for n in (2**64, 2**70, -(2**63) - 1, -(2**70)):
        text = json.dumps({"n": n, "m": [n]})
        assert json_codec.loads(text) == {"n": n, "m": [n]}
        assert json_codec.loads(text.encode()) == {"n": n, "m": [n]}


def test_request_bodies_read_as_the_standard_library_reads_them() -> None:
    for raw in (b'{"a":1,"a":2}', b'{"n":-9223372036854775809}', b'{"t":"\\u00e9"}', b" [1.5e3, -0] ", b"1e308"):
        assert repr(parse_json(raw)) == repr(json.loads(raw))
    for raw in (b"[1,]", b'{"a":', b"\xff", b"[" * 5000 + b"]" * 5000):
        with pytest.raises((ValueError, RecursionError)) as standard:
            json.loads(raw)
        with pytest.raises(BadRequest) as refused:
            parse_json(raw)
        assert refused.value.reason == f"The request body is not valid JSON: {str(standard.value)[:200]}"


@pytest.mark.parametrize(
    "raw", [b"NaN", b'{"x":Infinity}', b"[-Infinity]", b"1e400", b"[-1e400, 12345678901234567890]"]
)
def test_request_bodies_refuse_nan_and_infinity_which_records_written_before_may_hold(raw: bytes) -> None:
    """JSON has neither; stored, they would be written back as `NaN` and break every answer."""
    with pytest.raises(BadRequest) as refused:
        parse_json(raw)
    assert refused.value.reason.startswith("The request body is not valid JSON: ")
    with pytest.raises(ValueError):
        json_codec.loads_standard(raw)
    assert repr(json_codec.loads(raw)) == repr(json.loads(raw))  # a stored record is still read


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_number_json_cannot_spell_is_written_as_null_by_either_encoder(number: float) -> None:
    """orjson writes null; the standard library, taking what orjson refuses, wrote `NaN`."""
    for value, expected in (
        ({"x": [number]}, {"x": [None]}),
        ({"x": [number], "big": 2**70}, {"x": [None], "big": 2**70}),
        ({1: (number, "NaN")}, {"1": [None, "NaN"]}),
    ):
        written = json_codec.dumps_bytes(value)
        assert json.loads(written, parse_constant=_refuse) == expected, written


def test_stored_records_are_read_with_nan_and_infinity_as_null() -> None:
    for raw in (
        '{"a": NaN, "b": [Infinity, -Infinity, 1e400, 1.5], "c": "NaN"}',
        '{"a": NaN, "n": 12345678901234567890}',
    ):
        stored = json_codec.loads_stored(raw)
        assert json.loads(json_codec.dumps(stored), parse_constant=_refuse) == stored
        assert stored["a"] is None
    assert json_codec.loads_stored('{"b": [Infinity, -Infinity, 1e400, 1.5], "c": "NaN"}') == {
        "b": [None, None, None, 1.5],
        "c": "NaN",
    }


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def test_json_nested_past_the_parsers_depth_is_refused_as_a_value_error() -> None:
    """Its callers (a WebAuthn answer, a web hook's or a social provider's answer) refuse what is not
    JSON by catching ValueError; a RecursionError went past them as a 500."""
    for raw in ("[" * 5000 + "]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        with pytest.raises(ValueError):
            json_codec.loads_standard(raw)
