"""Headless Chromium for the tests that need a real browser (JavaScript, WebAuthn, redirects across
sites): Debian's `chromium` driven by Playwright's Python package with `executable_path`, never a
browser Playwright downloads. Under CI (`CI=true`) a missing Chromium fails the test; elsewhere it
skips it. `.ci/run` installs Debian's package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# What this machine's closed network needs: no background fetches, no component updates, no QUIC.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing browser is a failure)")
    pytest.skip(message)


@contextmanager
def chromium_page(**context: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and a page in it; `context` goes to `new_context`."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_context(**context).new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def follow(page: Any, control: Any) -> None:
    """Clicks a link or a form's button and waits for the page it leads to. Without the wait, the
    next step's locators may match the page being left (a sign-in page has an "E-Mail" field too),
    which only shows on a busy machine."""
    with page.expect_navigation():
        control.click()
