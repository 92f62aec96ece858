"""axe-core, the accessibility rules engine, run inside the browser tests' pages: installed from npm
into tests/axe/node_modules (`npm ci` from the committed lock file) on first use, as tests/oidc/
installs its provider. Its source is evaluated through the DevTools protocol, which the pages'
Content-Security-Policy (script-src 'self') does not govern, so the pages are checked with their
real policy in force."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
# What the issue asks to be free of; "moderate" and "minor" are reported, not failed on.
FAILING_IMPACTS = frozenset({"serious", "critical"})


def _fail_or_skip(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
    pytest.skip(message)


@cache
def axe_source() -> str:
    """`npm ci` once per checkout, then the bundled script's text."""
    if not AXE.is_file():
        if shutil.which("npm") is None:
            _fail_or_skip("npm is needed to install axe-core for the accessibility check")
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, capture_output=True, text=True
        )
        if done.returncode != 0:
            _fail_or_skip(f"npm ci failed in {HERE}: {done.stderr[-2000:]}")
    return AXE.read_text(encoding="utf-8")


def audit(page: Any) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now: WCAG 2.0, 2.1 and 2.2 A and AA, and best practices."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", tags
    )
    return list(result["violations"])


def summary(violations: list[dict[str, Any]]) -> list[str]:
    """One line per violation: impact, rule, how many nodes, the first node's selector."""
    return [
        f"{v.get('impact')}: {v['id']} ({len(v['nodes'])} node(s), e.g. {v['nodes'][0]['target']}): {v['help']}"
        for v in violations
    ]
