"""`warden serve` with `serve.<port>.tls`, as an operator starts it: both ports answer over HTTPS on
the loop `warden serve` runs (uvloop), the console names the https:// addresses, and a key that does
not fit stops start-up with one line that names the setting and shows nothing of the key."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import yaml

from tests.certificates import self_signed_pair, trusting
from tests.e2e.warden_process import WardenProcess, run_cli


def test_both_ports_answer_over_https_and_the_console_says_so(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    tls = {"cert": {"path": str(pair.cert_path)}, "key": {"path": str(pair.key_path)}}
    config = tmp_path / "warden.yml"
    config.write_text(yaml.safe_dump({"serve": {"public": {"tls": tls}, "admin": {"tls": tls}}}))
    warden = WardenProcess(
        ["serve", "--dev", "-c", str(config)], env={"DSN": "memory"}, cwd=tmp_path, tls=trusting(pair)
    )
    try:
        warden.wait_ready(timeout=60.0)
        request = urllib.request.Request(
            warden.url("admin") + "/admin/identities", headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10, context=warden.tls) as response:
            assert response.status == 200 and json.loads(response.read()) == []
    finally:
        assert warden.stop() == 0
    console = warden.proc.stderr.read()  # type: ignore[union-attr]
    assert f"https://127.0.0.1:{warden.admin_port}/admin/" in console
    assert f"https://127.0.0.1:{warden.public_port}/ui/login" in console


def test_a_key_that_does_not_fit_stops_start_up_in_one_line_without_the_key(tmp_path: Path) -> None:
    ours, other = self_signed_pair(tmp_path, "ours"), self_signed_pair(tmp_path, "other")
    inline_key = base64.b64encode(other.key_pem).decode()
    env = {
        "DSN": "memory",
        "SERVE_PUBLIC_TLS_CERT_PATH": str(ours.cert_path),
        "SERVE_PUBLIC_TLS_KEY_BASE64": inline_key,
    }
    result = run_cli(["serve", "--dev"], env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warden: config: serve.public.tls: the key does not belong"), lines
    key_material = [line for line in other.key_pem.decode().splitlines() if not line.startswith("-----")]
    assert not any(part in result.stderr for part in [*key_material, inline_key[:24], "PRIVATE KEY"])
