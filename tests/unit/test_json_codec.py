"""The hot paths' JSON (shared/json_codec.py): orjson where it can, the standard library for what
orjson refuses, and answers with the headers `web.json_response` gives."""

from __future__ import annotations

import json

from shared import json_codec


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
