"""Structured logs carry the request id and never a secret."""

from __future__ import annotations

import io
import json
import logging

from shared.logging import _JsonFormatter, request_id


def _render(message: str, *args: object, **extra: object) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter("identity"))
    logger = logging.getLogger("test.structured")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(message, *args, extra=extra)
    return json.loads(stream.getvalue())


def test_json_line_has_service_level_and_request_id() -> None:
    token = request_id.set("req-42")
    try:
        entry = _render("identity %s created", "abc", identity_id="abc")
    finally:
        request_id.reset(token)
    assert entry["service"] == "identity"
    assert entry["level"] == "warning"
    assert entry["msg"] == "identity abc created"
    assert entry["request_id"] == "req-42"
    assert entry["identity_id"] == "abc"


def test_secrets_in_messages_and_fields_are_masked() -> None:
    entry = _render("issued %s", "ory_st_4n0th3rS3cr3t", dsn="postgres://warden:pa55w0rd@db:5432/warden")
    line = json.dumps(entry)
    assert "4n0th3rS3cr3t" not in line
    assert "pa55w0rd" not in line


def test_json_quoted_and_spaced_secrets_are_masked_whole() -> None:
    entry = _render('body {"password": "correct horse battery"} {"RecoveryCode": "123456"} input_value=\'hunter2\'')
    line = json.dumps(entry)
    for secret in ("correct horse battery", "horse", "battery", "123456", "hunter2"):
        assert secret not in line
