"""First run in a real browser (issue 18, "How it is shown"): `warden serve --dev` with no config file
(the `make run` setup, mail going to ./.warden/mail/), branded through the environment only, walked in
headless Chromium through the built-in UI: sign-up, verification by the mailed link (and the same
link in a fresh browser), sign-out, sign-in, recovery by the mailed code, and settings. Every page is
saved as a screenshot and checked with axe-core (no serious or critical violation), and the pages'
Content-Security-Policy refuses nothing they load.

The screenshots and axe's report go to `test-artifacts/first-run-ui/` (git-ignored; the
WARDEN_TEST_ARTIFACTS environment variable moves it); the test prints the folder's path."""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.axe import FAILING_IMPACTS, audit, summary
from tests.browser import chromium_page, follow
from tests.e2e.warden_process import WardenProcess
from tests.mail_folder import wait_for_mails
from tests.mail_helpers import code_in, link_in

REPO = Path(__file__).parents[2]
PASSWORD, NEW_PASSWORD = "Correct-Horse-Battery-9!", "Another-Staple-Horse-7?"
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="32" height="32" rx="8" '
    'fill="#0b6e4f"/><text x="40" y="23" font-family="sans-serif" font-size="18" fill="#1f2328">Acme</text></svg>'
)
BRAND = {
    "UI_BRAND_NAME": "Acme ID",
    "UI_BRAND_ACCENT_COLOR": "#0b6e4f",
    "UI_BRAND_LOGO_URL": "data:image/svg+xml;base64," + base64.b64encode(LOGO_SVG.encode()).decode(),
}


def artifacts() -> Path:
    folder = Path(os.environ.get("WARDEN_TEST_ARTIFACTS") or REPO / "test-artifacts") / "first-run-ui"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    return folder


class Walk:
    """The pages seen so far: each one's screenshot, axe's violations and the CSP refusals."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder = page, folder
        self.report: dict[str, list[dict[str, Any]]] = {}
        self.refused: list[str] = []
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.refused.append(message.text)

    def seen(self, name: str, page: Any | None = None) -> None:
        page = page or self.page
        page.wait_for_load_state()
        page.screenshot(path=str(self.folder / f"{len(self.report) + 1:02d}-{name}.png"), full_page=True)
        self.report[name] = audit(page)

    def finish(self) -> None:
        (self.folder / "axe-report.json").write_text(json.dumps(self.report, indent=2))
        lines = [f"{name}: {line}" for name, found in self.report.items() for line in summary(found)]
        print(f"\nfirst-run UI screenshots and axe report: {self.folder}")
        print("\n".join(lines) or "axe: no violations on any page")
        failing = [line for line in lines if line.split(": ", 2)[1] in FAILING_IMPACTS]
        assert not failing, "serious or critical accessibility violations:\n" + "\n".join(failing)
        assert not self.refused, f"the Content-Security-Policy refused: {self.refused}"


@pytest.fixture
def warden(tmp_path: Path) -> Any:
    process = WardenProcess(["serve", "--dev"], env=BRAND, cwd=tmp_path)
    try:
        process.wait_ready(timeout=60.0)
        yield process
    finally:
        assert process.stop() == 0


def test_first_run_journey_in_a_browser(warden: WardenProcess, tmp_path: Path) -> None:
    base, mail = warden.url("public"), tmp_path / ".warden" / "mail"
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    with chromium_page() as page:
        walk = Walk(page, artifacts())
        text = page.inner_text

        # Sign-up: the root URL leads to sign-in, which links to sign-up; a short password is refused.
        page.goto(base + "/")
        assert page.url.startswith(f"{base}/ui/login?flow=")
        assert page.get_by_role("img", name="Acme ID").is_visible() and page.title() == "Sign in · Acme ID"
        walk.seen("sign-in")
        follow(page, page.get_by_role("link", name="Create an account"))
        walk.seen("sign-up")
        page.get_by_label("E-Mail").fill(email)
        page.get_by_label("Password").fill("short")
        follow(page, page.get_by_role("button", name="Sign up"))
        walk.seen("sign-up-invalid")
        assert "at least 8 characters" in text("#password")
        assert page.evaluate("document.activeElement.name") == "password", "focus on the first invalid field"
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(f"{base}/ui/welcome")
        walk.seen("welcome")
        welcome = text("main")
        assert "E-Mail" in welcome and "Single-factor" in welcome and "aal1" not in welcome
        assert re.search(r"Signed in\s+(just now|\d+ seconds? ago|a second ago)", welcome), welcome
        assert page.get_by_role("link", name="Verify your email address").is_visible()

        # Verification: the mailed link fills in the code; the same link in a fresh browser explains itself.
        (sign_up_mail,) = wait_for_mails(mail, email)
        assert sign_up_mail.sender == "no-reply@warden.localhost"
        link = link_in(sign_up_mail, "verification")
        page.goto(link)
        assert page.get_by_label("Verification code").input_value() == code_in(sign_up_mail)
        walk.seen("verification-code-from-link")
        follow(page, page.get_by_role("button", name="Continue"))
        walk.seen("verified")
        assert "You successfully verified your email address." in text("main")
        fresh = page.context.browser.new_context().new_page()  # no cookies
        fresh.goto(link)
        walk.seen("verification-link-in-a-fresh-browser", fresh)
        shown = fresh.inner_text("main")
        assert "opened in another browser" in shown and fresh.get_by_role("link", name="Sign in").is_visible()
        fresh.context.close()
        page.goto(f"{base}/ui/welcome")
        assert page.get_by_role("link", name="Verify your email address").count() == 0

        # Sign-out, then sign-in (a wrong password first).
        follow(page, page.get_by_role("link", name="Log out"))
        walk.seen("signed-out")
        assert "You have signed out." in text("main")
        page.get_by_label("E-Mail").fill(email)
        page.get_by_label("Password").fill("Not-The-Password-1")
        follow(page, page.get_by_role("button", name="Sign in"))
        walk.seen("sign-in-invalid")
        assert "The provided credentials are invalid" in text("main")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/ui/welcome")

        # Recovery by the mailed code, which leads to settings to choose a new password.
        follow(page, page.get_by_role("link", name="Log out"))
        follow(page, page.get_by_role("link", name="Forgot password?"))
        walk.seen("recovery")
        page.get_by_label("Email").fill(email)
        follow(page, page.get_by_role("button", name="Continue"))
        walk.seen("recovery-code")
        page.get_by_label("Recovery code").fill(code_in(wait_for_mails(mail, email, count=2)[-1]))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{base}/ui/settings?flow=*")
        walk.seen("settings-after-recovery")
        assert re.search(r"within the next \d+ minutes\.", text("main")), "whole minutes"
        assert page.get_by_label("New password").count() == 1
        # With no config, the second factors are on: settings offers both to pair.
        for section in ("Authenticator app", "Backup recovery codes"):
            assert page.get_by_role("heading", name=section).count() == 1, section

        # Settings: a new password, then signing in with it.
        page.get_by_label("New password").fill(NEW_PASSWORD)
        follow(page, page.locator("#password").get_by_role("button", name="Save"))
        walk.seen("settings-saved")
        assert "Your changes have been saved!" in text("main")
        follow(page, page.get_by_role("link", name="Log out"))
        page.get_by_label("E-Mail").fill(email)
        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/ui/welcome")
        walk.seen("welcome-again")

        # An error page: a flow that does not exist, in words, with a way back.
        page.goto(f"{base}/self-service/verification?flow={uuid.uuid4()}&code=123456")
        assert page.url.startswith(f"{base}/ui/error?id=")
        walk.seen("error")
        assert "Something went wrong" in text("h1") and page.get_by_role("link", name="Back").is_visible()
        assert "Start again from the sign-in page." in text("main")
        walk.finish()
