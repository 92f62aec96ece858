"""Social sign-in once in a real browser: headless Chromium opens the built-in UI, presses the
provider's button, signs in at a real OpenID provider's own pages, consents, and lands on the
welcome page signed in; then signs out and back in the same way."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from tests.browser import chromium_page
from tests.conftest import free_port
from tests.factories import running_warden, settings_for
from tests.oidc.provider import openid_provider
from tests.selfservice_helpers import COOKIE_SECRET

MAPPER = "base64://" + base64.b64encode(b"{identity: {traits: {email: std.extVar('claims').email}}}").decode()


def test_sign_up_and_in_with_a_provider_through_the_built_in_ui(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    flows = {k: {"ui_url": f"{base}ui/{k}"} for k in ("login", "registration", "settings", "error")}
    flows["registration"]["after"] = {"oidc": {"hooks": [{"hook": "session"}]}}
    login = f"browser-{uuid.uuid4().hex[:8]}"
    with openid_provider([f"{base}self-service/methods/oidc/callback/op"]) as op:
        provider = {
            "id": "op",
            "provider": "generic",
            "label": "Test OP",
            "client_id": op.client_id,
            "client_secret": op.client_secret,
            "issuer_url": op.issuer,
            "mapper_url": MAPPER,
            "scope": ["openid", "email"],
        }
        config = {
            "serve": {"public": {"port": port, "base_url": base}},
            "secrets": {"cookie": [COOKIE_SECRET]},
            "selfservice": {
                "default_browser_return_url": f"{base}ui/welcome",
                "allowed_return_urls": [base],
                "flows": flows,
                "methods": {"oidc": {"enabled": True, "config": {"providers": [provider]}}},
            },
        }
        settings = settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", config)
        with running_warden(settings), chromium_page() as page:
            for start in ("registration", "login"):
                page.goto(f"{base}ui/{start}")
                page.get_by_role("button", name="Test OP").click()
                page.wait_for_url(f"{op.issuer}/**")
                if page.locator("input[name=login]").count():
                    page.fill("input[name=login]", login)
                    page.fill("input[name=password]", "any password")
                    page.click("button[type=submit]")
                if page.locator("input[name=prompt][value=consent]").count():
                    page.click("button[type=submit]")
                page.wait_for_url(f"{base}ui/welcome**")
                assert f"{login}@example.com" in page.content()
                page.context.clear_cookies()  # signed out; the provider remembers nothing either
