"""A web hook's `config.id` (Kratos: "used to identify the hook in logs and errors") names it in
Warden's logs, beside where it is configured; without one, where it is configured names it."""

from __future__ import annotations

from services.selfservice.hooks.web_hook_calls import WebHooks
from shared.config import Settings
from shared.http.egress import Egress, EgressPolicy
from shared.jsonnet_sandbox import JsonnetSandbox

NAMED = {"url": "https://hooks.example/crm", "id": "crm-sync"}
UNNAMED = {"url": "https://hooks.example/audit"}


async def test_a_hooks_id_names_it_in_logs() -> None:
    hooks = [{"hook": "web_hook", "config": NAMED}, {"hook": "web_hook", "config": UNNAMED}]
    raw = {"selfservice": {"flows": {"login": {"after": {"password": {"hooks": hooks}}}}}}
    egress = Egress(EgressPolicy())
    try:
        loaded = await WebHooks.load(Settings(dsn="memory", raw=raw), egress, JsonnetSandbox())
    finally:
        await egress.close()
    where = "selfservice.flows.login.after.password.hooks"
    assert loaded.spec_for(NAMED).name == f"'crm-sync' ({where}.0.config)"
    assert loaded.spec_for(UNNAMED).name == f"{where}.1.config"
