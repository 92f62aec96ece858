"""The code method's settings as the sender reads them: lifespans (Warden's defaults unless the
config names one), tries per flow (`max_submissions`) and the notice to unknown identifiers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.strategies.code.sender import CodeLifespans, CodeSender
from services.selfservice.tables import selfservice_tables
from tests.factories import settings_for


def _sender(tmp_path: Path, code_config: dict[str, Any] | None = None) -> CodeSender:
    code: dict[str, Any] = {"enabled": True, "passwordless_enabled": True}
    if code_config is not None:
        code["config"] = code_config
    settings = settings_for(tmp_path, "memory", {"selfservice": {"methods": {"code": code}}})
    flows = FlowRepository(selfservice_tables(MetaData()))
    return CodeSender.from_settings(settings, uow=None, flows=flows, pepper="p", budget=None, limits=None)  # type: ignore[arg-type]


def test_without_a_lifespan_login_and_sms_codes_last_10_minutes_and_sign_up_mail_15(tmp_path: Path) -> None:
    sender = _sender(tmp_path)
    assert sender.lifespans == CodeLifespans(None)
    assert sender.lifespans.of("login", "email") == timedelta(minutes=10)
    assert sender.lifespans.of("registration", "sms") == timedelta(minutes=10)
    assert sender.lifespans.of("registration", "email") == timedelta(minutes=15)
    assert sender.codes.max_attempts == 5 and sender.notify_unknown is False
    assert sender.resend_after == timedelta(seconds=30)


def test_the_configured_lifespan_tries_and_notice_are_used(tmp_path: Path) -> None:
    sender = _sender(tmp_path, {"lifespan": "3m", "max_submissions": 3, "notify_unknown_recipients": True})
    assert {sender.lifespans.of(k, v) for k in ("login", "registration") for v in ("email", "sms")} == {
        timedelta(minutes=3)
    }
    assert sender.codes.max_attempts == 3 and sender.notify_unknown is True
