"""`return_to` is honoured only under an allowed URL: same scheme and host, and the allowed path or
below it, with nothing the browser would read differently from the check."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.selfservice.config import SelfserviceConfig


def _config() -> SelfserviceConfig:
    return SelfserviceConfig(
        public_base_url="http://127.0.0.1:4433/",
        default_return_url="http://127.0.0.1:4455/welcome",
        allowed_return_urls=("https://app.example.com/account",),
        error_ui_url="",
        logout_return_url=None,
        flows={},
        methods={},
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/account",
        "https://app.example.com/account/",
        "https://app.example.com/account/settings?x=1",
        "https://app.example.com/account/settings?next=%2Fhome%2F..%2Fx",
        "https://app.example.com/account/a%20b/.well-known",
        "http://127.0.0.1:4455/welcome",
        "http://127.0.0.1:4433/ui/login",
    ],
)
def test_allowed(url: str) -> None:
    assert _config().return_to_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/account-evil",
        "https://app.example.com/account/../admin",
        "https://app.example.com/account/%2e%2e/admin",
        "https://app.example.com/account/.%2E/admin",
        "https://app.example.com/account/./x",
        "https://app.example.com/attacker-area/..%2faccount",
        "https://app.example.com/attacker-area/..%2Faccount",
        "https://app.example.com/account%2f..%2f..%2fattacker-area",
        "https://app.example.com/account%5cx",
        "https://app.example.com.evil.com/account",
        "https://app.example.com@evil.com/account",
        "https://user:pw@app.example.com/account",
        "//app.example.com/account",
        "http://app.example.com/account",
        "javascript:alert(1)",
        "https://app.example.com/account\r\nSet-Cookie: x=y",
        "https://app.example.com/account\\@evil.com",
        "https://app.example.com/account\t",
        "http://[",
        "https://app.example.com\uff0f@evil.example/account",
    ],
)
def test_refused(url: str) -> None:
    assert not _config().return_to_allowed(url)


def test_finding_17_a_relative_return_to_is_resolved_on_the_default_return_url_as_kratos_does() -> None:
    config = _config()
    assert config.absolute_return_to("/welcome/next?x=1") == "http://127.0.0.1:4455/welcome/next?x=1"
    assert config.return_to_allowed(config.absolute_return_to("/welcome/next?x=1"))
    # Still checked: outside the allowed paths, or a host in disguise, it is refused.
    for url in ("/admin", "//evil.example/welcome", "/\\evil.example/welcome", "welcome", "/welcome/../admin"):
        assert not config.return_to_allowed(config.absolute_return_to(url)), url


# --- against a browser's URL parser ----------------------------------------------------------------
# Checklist IN-6, and the open-redirect half of ASVS 5.1.5: Hypothesis builds URLs from the pieces
# that parsers are known to read differently (backslashes, userinfo, dot segments plain and encoded,
# full-width dots, ports, fragments), and every one `return_to_allowed` lets through is parsed by
# Node's WHATWG URL, the algorithm browsers follow for a `Location`. Where the browser would go must
# be an allowed origin, under the allowed path, with no credentials in it. Our check reads URLs with
# Python's urllib; this is an oracle that does not.

ALLOWED = {  # origin: the path under which a return_to may lead ("" = anywhere on it)
    "https://app.example.com": "/account",
    "http://127.0.0.1:4455": "/welcome",
    "http://127.0.0.1:4433": "",
}
# Reads a JSON string per line, answers the URL as a browser parses it (or null where it cannot).
BROWSER = """
const lines = require('readline').createInterface({input: process.stdin});
lines.on('line', (line) => {
  let answer = null;
  try {
    const u = new URL(JSON.parse(line));
    answer = {origin: u.origin, pathname: u.pathname, username: u.username, password: u.password};
  } catch (e) {}
  process.stdout.write(JSON.stringify(answer) + '\\n');
});
"""

SCHEMES = st.sampled_from(["https", "http", "HTTPS", "hTTp", "javascript", "ftp", ""])
AFTER_SCHEME = st.sampled_from(["://", ":/", ":\\\\", ":///", ":", "://\\", ":\\/", "://@"])
USERINFO = st.sampled_from(["", "", "user@", "app.example.com@", "a:b@", "@", "127.0.0.1:4455@", "%40@"])
HOSTS = st.sampled_from(
    [
        "app.example.com",
        "APP.Example.COM",
        "app.example.com.",
        "app.example.com.evil.test",
        "evil.test",
        "app.example.com%2eevil.test",
        "app。example。com",
        "app．example．com",
        "127.0.0.1",
        "0x7f.0.0.1",
        "2130706433",
        "127.1",
        "[::1]",
        "app.example.com\\",
        "app.example.com%2f",
        "app.example.com%5c",
        "",
    ]
)
PORTS = st.sampled_from(["", "", ":443", ":4455", ":4433", ":", ":80", ":04455", ":4455.evil.test"])
SEGMENTS = st.sampled_from(
    [
        "account",
        "welcome",
        "ui",
        "..",
        ".",
        "%2e%2e",
        "%2E.",
        ".%2e",
        "%2e",
        "%2f",
        "%5c",
        "\\",
        "",
        "settings",
        "accountx",
        "ACCOUNT",
        "%61ccount",
        "account;x",
        "%00",
        "evil.test",
        "@evil.test",
        "//evil.test",
    ]
)
TAILS = st.sampled_from(["", "", "?x=1", "#frag", "#@evil.test", "?@evil.test", "?next=//evil.test", "#/.."])


@st.composite
def urls(draw: Any) -> str:
    if draw(st.integers(0, 9)) == 0:  # now and then anything at all
        return draw(st.text(max_size=40))
    path = "/".join(draw(st.lists(SEGMENTS, max_size=4)))
    lead = draw(st.sampled_from(["/", "/", "", "//", "/\\"]))
    if draw(st.integers(0, 4)) == 0:  # a relative return_to, resolved on the default return URL
        return lead + path + draw(TAILS)
    authority = draw(USERINFO) + draw(HOSTS) + draw(PORTS)
    return draw(SCHEMES) + draw(AFTER_SCHEME) + authority + lead + path + draw(TAILS)


@pytest.fixture(scope="module")
def browser() -> Iterator[subprocess.Popen[str]]:
    node = shutil.which("node")
    assert node, "Node.js (Debian's nodejs) is needed: its URL parser is the oracle"
    process = subprocess.Popen(
        [node, "-e", BROWSER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
    )
    yield process
    process.terminate()
    process.wait(timeout=5)


def _as_a_browser_reads(browser: subprocess.Popen[str], url: str) -> dict[str, str] | None:
    assert browser.stdin and browser.stdout
    browser.stdin.write(json.dumps(url) + "\n")
    browser.stdin.flush()
    return json.loads(browser.stdout.readline())


@settings(max_examples=3000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=urls())
def test_where_a_browser_goes_is_allowed_for_every_return_to_let_through(
    browser: subprocess.Popen[str], url: str
) -> None:
    absolute = _config().absolute_return_to(url)
    if not _config().return_to_allowed(absolute):
        return
    parsed = _as_a_browser_reads(browser, absolute)
    assert parsed is not None, f"{url!r} was let through as {absolute!r}, which a browser cannot parse"
    assert parsed["origin"] in ALLOWED, f"{url!r} leads a browser to {parsed['origin']}"
    assert not parsed["username"] and not parsed["password"], f"{url!r} carries credentials"
    prefix, path = ALLOWED[parsed["origin"]], unquote(parsed["pathname"])
    assert not prefix or path == prefix or path.startswith(prefix + "/"), f"{url!r} leads a browser to {path!r}"


def test_the_oracle_reads_urls_as_browsers_do(browser: subprocess.Popen[str]) -> None:
    """What the browser parser makes of the classic tricks, so that the check above is a real one."""
    assert _as_a_browser_reads(browser, "https:\\\\evil.test/x")["origin"] == "https://evil.test"  # type: ignore[index]
    assert _as_a_browser_reads(browser, "https://app.example.com/account/%2e%2e/admin")["pathname"] == "/admin"  # type: ignore[index]
    assert _as_a_browser_reads(browser, "https://app.example.com@evil.test/account")["origin"] == "https://evil.test"  # type: ignore[index]
    assert _as_a_browser_reads(browser, "not a url") is None
