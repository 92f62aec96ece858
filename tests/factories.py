"""Builders for tests: configs on disk, and a real Warden process-in-a-thread on free ports."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from shared.config import Settings, load_settings
from tests.conftest import free_port

EMAIL_SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/default.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Person",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "title": "E-Mail",
                    "ory.sh/kratos": {
                        "credentials": {
                            "password": {"identifier": True},
                            "webauthn": {"identifier": True},
                            "totp": {"account_name": True},
                            "code": {"identifier": True, "via": "email"},
                        },
                        "verification": {"via": "email"},
                        "recovery": {"via": "email"},
                    },
                },
                "name": {"type": "object", "properties": {"first": {"type": "string"}, "last": {"type": "string"}}},
            },
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}

USERNAME_SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/username.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "username": {
                    "type": "string",
                    "minLength": 3,
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}},
                }
            },
            "required": ["username"],
        }
    },
}


def write_config(directory: Path, dsn: str, extra: Mapping[str, Any] | None = None) -> Path:
    (directory / "default.schema.json").write_text(json.dumps(EMAIL_SCHEMA))
    (directory / "username.schema.json").write_text(json.dumps(USERNAME_SCHEMA))
    config: dict[str, Any] = {
        "dsn": dsn,
        "serve": {
            "public": {"port": free_port(), "base_url": "http://127.0.0.1:4433/"},
            "admin": {"port": free_port()},
            "grpc": {"port": free_port()},
        },
        "identity": {
            "default_schema_id": "default",
            "schemas": [
                {"id": "default", "url": f"file://{directory}/default.schema.json"},
                {"id": "username", "url": f"file://{directory}/username.schema.json"},
            ],
        },
        "selfservice": {"default_browser_return_url": "http://127.0.0.1:4455/"},
        "hashers": {"algorithm": "bcrypt", "bcrypt": {"cost": 4}},
        # Tests make more flows from 127.0.0.1 than a client may; the rate-limit tests turn them on.
        "rate_limits": {"enabled": False},
        "log": {"level": "warning"},
        "services": {"courier": {"mail_dir": str(directory / "mail")}},
    }
    _merge(config, dict(extra or {}))
    path = directory / "kratos.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def settings_for(directory: Path, dsn: str, extra: Mapping[str, Any] | None = None) -> Settings:
    return load_settings([write_config(directory, dsn, extra)], {}, dev=True)


class ThreadedWarden:
    """The all-in-one process on its own event loop in a thread, so that synchronous clients (the
    Kratos SDK) can call it from the test."""

    def __init__(self, settings: Settings, services: Any = None) -> None:
        from warden.process import WardenProcess
        from warden.services import SERVICES

        self.process = WardenProcess(settings, list(services or SERVICES), migrate=True)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"not done within {timeout}s; the loop's tasks:\n{self._tasks_now()}") from None

    def _tasks_now(self) -> str:
        """Where every task on the process's loop is waiting, so that a hang names its cause."""
        lines = []
        for task in asyncio.all_tasks(self._loop):
            frames = task.get_stack(limit=6)
            where = " <- ".join(f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno}" for f in frames)
            lines.append(f"  {task.get_name()} {task.get_coro()!r:.80}: {where}")
        return "\n".join(sorted(lines))

    def start(self) -> ThreadedWarden:
        self._thread.start()
        self.run(self.process.start())
        return self

    def stop(self) -> None:
        try:
            self.run(self.process.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    @property
    def public_url(self) -> str:
        return self.process.url("public")

    @property
    def admin_url(self) -> str:
        return self.process.url("admin")


@contextmanager
def running_warden(settings: Settings, services: Any = None) -> Iterator[ThreadedWarden]:
    warden = ThreadedWarden(settings, services).start()
    try:
        yield warden
    finally:
        warden.stop()
