"""Passkeys and a security key in a real browser: headless Chromium drives the built-in UI with the
DevTools protocol's virtual authenticator (WebAuthn domain). It signs up with a passkey, signs out,
signs in with the passkey, adds a security key and a password in settings, signs out, signs in with
the password and passes the aal2 step with the key.
The only JavaScript is the project's own /.well-known/ory/webauthn.js."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.browser import chromium_page
from tests.conftest import free_port
from tests.factories import running_warden, settings_for
from tests.selfservice_helpers import COOKIE_SECRET, PASSWORD


def test_passkey_and_security_key_through_the_built_in_ui(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://localhost:{port}/"  # a secure context with a valid RP id (an IP address is not one)
    rp = {"id": "localhost", "origins": [base.rstrip("/")], "display_name": "Warden browser test"}
    flows = {k: {"ui_url": f"{base}ui/{k}"} for k in ("login", "registration", "settings", "error")}
    flows["registration"]["after"] = {"passkey": {"hooks": [{"hook": "session"}]}}
    config = {
        "serve": {"public": {"port": port, "base_url": base}},
        "secrets": {"cookie": [COOKIE_SECRET]},
        "selfservice": {
            "default_browser_return_url": f"{base}ui/welcome",
            "allowed_return_urls": [base],
            "flows": flows,
            "methods": {
                "password": {"enabled": True},
                "passkey": {"enabled": True, "config": {"rp": rp}},
                "webauthn": {"enabled": True, "config": {"rp": rp}},
            },
        },
    }
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    settings = settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", config)
    with running_warden(settings), chromium_page() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]

        page.goto(f"{base}ui/registration")
        page.fill('#passkey input[name="traits.email"]', email)
        page.get_by_role("button", name="Sign up with passkey").click()
        page.wait_for_url(f"{base}ui/welcome**")
        assert email in page.content()
        assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

        # Signed out, the sign-in page asks the browser for a passkey to offer in the identifier's
        # autofill (conditional mediation); the virtual authenticator picks the one it holds at once.
        page.context.clear_cookies()
        page.goto(f"{base}ui/login")
        page.wait_for_url(f"{base}ui/welcome**")
        assert email in page.content()

        # The button, while the autofill's request waits (no passkey picked from it): the click ends
        # that request and signs in through its own.
        page.context.clear_cookies()
        presence(cdp, authenticator, False)
        page.goto(f"{base}ui/login")
        page.locator("[data-ory-onload]").wait_for(state="attached")
        presence(cdp, authenticator, True)  # for requests made from now on
        page.get_by_role("button", name="Sign in with passkey").click()
        page.wait_for_url(f"{base}ui/welcome**")
        assert email in page.content()

        page.goto(f"{base}ui/settings")
        page.fill('input[name="webauthn_register_displayname"]', "Desk key")
        page.get_by_role("button", name="Add security key").click()
        page.get_by_role("button", name='Remove security key "Desk key"').wait_for()

        # A password too, then sign out, sign in with it (aal1) and step up with the key.
        page.goto(f"{base}ui/settings")
        page.fill('#password input[name="password"]', PASSWORD)
        page.click('#password button[name="method"]')
        page.wait_for_load_state()
        page.context.clear_cookies()
        presence(cdp, authenticator, False)  # no passkey picked from the autofill this time
        page.goto(f"{base}ui/login")
        page.fill('#password input[name="identifier"]', email)
        page.fill('#password input[name="password"]', PASSWORD)
        page.click('#password button[name="method"]')
        page.wait_for_url(f"{base}ui/login?flow=**")  # the identity has a second factor: the aal2 step
        assert "Please complete the second authentication challenge." in page.content()
        presence(cdp, authenticator, True)
        page.get_by_role("button", name="Sign in with hardware key").click()
        page.wait_for_url(f"{base}ui/welcome**")
        page.goto(f"{base}sessions/whoami")
        session = json.loads(page.locator("body").inner_text())
        assert session["authenticator_assurance_level"] == "aal2"
        assert [m["method"] for m in session["authentication_methods"]][-1] == "webauthn"


def presence(cdp: Any, authenticator: str, present: bool) -> None:
    """Whether the virtual authenticator answers a request by itself, as a person touching it would."""
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": authenticator, "enabled": present})
