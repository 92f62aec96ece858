"""The README's quick start (and its partial config example), run as written, so the README cannot
drift from what Warden answers.

The `sh` blocks of its "Quick start" section run in order in one bash (their shell variables carry
from block to block) with real `curl` and `jq`, against a Warden started with the arguments of the
Makefile's `run` recipe (what `make run` starts), in an empty directory. The only change made to
the commands is the ports: 4433 and 4434 become free ones, so a Warden already running is left alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.warden_process import WardenProcess

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Quick start"
STEP = "@@ readme step done @@"


def quickstart_blocks(readme: str) -> list[str]:
    """The `sh` code blocks of the quick-start section, in order."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def make_run_arguments(makefile: str) -> list[str]:
    """The `warden` arguments of the Makefile's `run` recipe (`$(VENV)/bin/warden serve --dev`)."""
    recipe = makefile.split("\nrun:", 1)[1]
    command = next(line.strip() for line in recipe.splitlines() if line.startswith("\t"))
    program, *arguments = shlex.split(command)
    assert program.endswith("/bin/warden"), f"make run no longer runs warden: {command}"
    return arguments


def require_tool(name: str) -> None:
    """The quick start's tools; a machine without them skips, except under CI=true."""
    if shutil.which(name) is None:
        message = f"the README's quick start needs {name}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
        pytest.skip(message)


@pytest.fixture
def outputs(tmp_path: Path) -> list[str]:
    """What each quick-start block printed, run against a Warden started as `make run` starts it."""
    for tool in ("curl", "jq"):
        require_tool(tool)
    blocks = quickstart_blocks((ROOT / "README.md").read_text())
    assert len(blocks) == 5, "create, log in, whoami, list sessions, sign out"
    arguments = make_run_arguments((ROOT / "Makefile").read_text())
    warden = WardenProcess(arguments, env={}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
        script = f"\necho '{STEP}'\n".join(blocks) + f"\necho '{STEP}'\n"
        script = script.replace("127.0.0.1:4433", f"127.0.0.1:{warden.public_port}")
        script = script.replace("127.0.0.1:4434", f"127.0.0.1:{warden.admin_port}")
        done = subprocess.run(
            ["bash", "-e", "-u", "-o", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        warden.stop()
    assert done.returncode == 0, f"the quick start failed: {done.stderr}"
    return [part.strip() for part in done.stdout.split(STEP)[:-1]]


def test_the_readme_quickstart_runs_as_written(outputs: list[str]) -> None:
    created, token, whoami, sessions, signed_out = outputs
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", created)
    assert token.startswith("ory_st_") and len(token) > 20
    me = json.loads(whoami)
    assert me["identity"] == "ada@example.com" and me["aal"] == "aal1" and me["expires_at"]
    listed = json.loads(sessions)
    assert len(listed) == 1
    assert listed[0]["active"] is True and listed[0]["methods"] == ["password"]
    assert signed_out.splitlines() == ["204", "401"], "signed out, then whoami refuses the token"


def test_the_readme_partial_config_runs_with_dev(tmp_path: Path) -> None:
    """The configuration section's example file, as written: with `--dev` it needs nothing else (the
    development database, the built-in UI) and turns on what it names."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```yaml\n(# my\.yml: `warden serve --dev -c my\.yml`.*?)```", section, flags=re.DOTALL)
    assert example, "the README's partial config example"
    (tmp_path / "my.yml").write_text(example.group(1))
    warden = WardenProcess(["serve", "--dev", "-c", "my.yml"], env={}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
        public = warden.url("public")
        with urllib.request.urlopen(public + "/self-service/recovery/api", timeout=10) as answer:
            assert json.load(answer)["state"] == "choose_method", "recovery is on, as the file says"
        no_redirects = urllib.request.build_opener(NoRedirect())
        try:
            no_redirects.open(public + "/self-service/registration/browser", timeout=10)
            raise AssertionError("a browser registration redirects to its UI")
        except urllib.error.HTTPError as redirect:
            assert redirect.headers["Location"].startswith(public + "/ui/registration?flow=")
    finally:
        warden.stop()
    assert (tmp_path / "warden.sqlite").exists(), "the development database, as the README says"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
