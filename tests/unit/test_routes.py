"""The route table and the nginx config generated from it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from shared.service import Route, ServiceDefinition
from shared.storage.migrations import MigrationSet
from tests.e2e.nginx import require_nginx
from warden.cli import main
from warden.routes import Upstream, nginx_config, parse_listen, parse_upstream, route_table
from warden.services import SERVICE_NAMES


def _service(name: str, *routes: tuple[str, str, str]) -> ServiceDefinition:
    async def build(_infra):  # type: ignore[no-untyped-def]
        raise AssertionError("never built")

    return ServiceDefinition(
        name, MigrationSet(name, Path(".")), [Route(p, m, path, lambda c: c) for p, m, path in routes], build
    )


SERVICES = [
    _service(
        "identity",
        ("admin", "GET", "/admin/identities"),
        ("admin", "GET", "/admin/identities/{id}"),
        ("public", "GET", "/schemas/{id}"),
        ("internal", "GET", "/internal/identity/info"),
    ),
    _service("session", ("admin", "GET", "/admin/identities/{id}/sessions"), ("public", "GET", "/sessions/whoami")),
    _service("selfservice", ("public", "GET", "/ui/{tail:.*}")),
]


def test_every_path_has_one_owner() -> None:
    owners = {(r.port, r.path): r.service for r in route_table(SERVICES)}
    assert owners[("admin", "/admin/identities/{id}/sessions")] == "session"
    assert owners[("admin", "/admin/identities/{id}")] == "identity"
    duplicate = [_service("a", ("public", "GET", "/x")), _service("b", ("public", "POST", "/x"))]
    with pytest.raises(ValueError, match="claimed by a and b"):
        route_table(duplicate)


def test_nginx_routes_each_path_to_its_owner_and_never_the_internal_api() -> None:
    conf = nginx_config(services=SERVICES)
    assert "location = /admin/identities { proxy_pass http://warden_identity_admin; }" in conf
    assert r"location ~ ^/admin/identities/[^/]+/sessions$ { proxy_pass http://warden_session_admin; }" in conf
    assert r"location ~ ^/admin/identities/[^/]+$ { proxy_pass http://warden_identity_admin; }" in conf
    assert r"location ~ ^/ui/.*$ { proxy_pass http://warden_selfservice_public; }" in conf
    assert "/internal/" not in conf
    # nginx tries regex locations in order: the longer, more literal path must come first.
    assert conf.index("/sessions$") < conf.index(r"^/admin/identities/[^/]+$")


# --- real addresses, replicas and a whole nginx.conf -------------------------------------------------


def _upstream_block(conf: str, name: str) -> str:
    (line,) = [line for line in conf.splitlines() if line.strip().startswith(f"upstream {name} ")]
    return line.strip()


def test_several_replicas_of_a_service_are_several_servers_of_its_upstreams() -> None:
    replicas = [Upstream("127.0.0.1", 4533, 4534), Upstream("127.0.0.1", 4633, 4634)]
    conf = nginx_config({"session": replicas, "identity": [Upstream("10.0.0.7", 5433, 5434)]}, SERVICES)
    assert _upstream_block(conf, "warden_session_public") == (
        "upstream warden_session_public { server 127.0.0.1:4533; server 127.0.0.1:4633; keepalive 32; }"
    )
    assert _upstream_block(conf, "warden_session_admin") == (
        "upstream warden_session_admin { server 127.0.0.1:4534; server 127.0.0.1:4634; keepalive 32; }"
    )
    assert (
        _upstream_block(conf, "warden_identity_admin")
        == "upstream warden_identity_admin { server 10.0.0.7:5434; keepalive 32; }"
    )
    # A service given no address keeps its docker-compose name and the default ports.
    assert _upstream_block(conf, "warden_selfservice_public") == (
        "upstream warden_selfservice_public { server selfservice:4433; keepalive 32; }"
    )


def test_upstreams_come_in_the_route_table_order_whatever_order_they_were_given_in() -> None:
    given = {"selfservice": [Upstream("c")], "identity": [Upstream("a")], "session": [Upstream("b")]}
    conf = nginx_config(given, SERVICES)
    assert (
        conf.index("warden_identity_public {")
        < conf.index("warden_session_public {")
        < conf.index("warden_selfservice_public {")
    )
    assert "location = /health/ready { proxy_pass http://warden_identity_public; }" in conf


def test_an_unknown_service_or_a_service_without_address_is_refused() -> None:
    with pytest.raises(ValueError, match="no such service: sesion"):
        nginx_config({"sesion": [Upstream("127.0.0.1")]}, SERVICES)
    with pytest.raises(ValueError, match="no address given for session"):
        nginx_config({"session": []}, SERVICES)


def test_listen_ports_are_the_servers_listen_directives() -> None:
    conf = nginx_config(services=SERVICES, listen_public=8080, listen_admin="127.0.0.1:8081")
    assert "    listen 8080;\n" in conf and "    listen 127.0.0.1:8081;\n" in conf
    assert "listen 4433" not in conf and "listen 4434" not in conf
    with pytest.raises(ValueError, match="PORT or HOST:PORT"):
        nginx_config(services=SERVICES, listen_public="8080; include /etc/passwd")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("session=127.0.0.1:4533:4534", ("session", Upstream("127.0.0.1", 4533, 4534))),
        ("identity=identity-2", ("identity", Upstream("identity-2", 4433, 4434))),
        ("courier=[::1]:5433:5434", ("courier", Upstream("[::1]", 5433, 5434))),
        ("session=10.0.0.2:5433:5434:5435", ("session", Upstream("10.0.0.2", 5433, 5434, 5435))),
    ],
)
def test_upstream_specs(spec: str, parsed: tuple[str, Upstream]) -> None:
    assert parse_upstream(spec) == parsed


@pytest.mark.parametrize(
    "spec",
    [
        "session",
        "=127.0.0.1",
        "session=",
        "session=h:4533",
        "session=h:0:4434",
        "session=h:1:99999",
        "session=h;x",
        "session=h:1:2:0",
        "session=h:1:2:3:4",
    ],
)
def test_bad_upstream_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="NAME=HOST"):
        parse_upstream(spec)


def test_listen_specs() -> None:
    assert parse_listen("8080") == "8080" and parse_listen("127.0.0.1:8080") == "127.0.0.1:8080"
    assert parse_listen("[::1]:8080") == "[::1]:8080"
    for bad in ("", "0", "65536", "host:", ":80", "80 default_server"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_full_config_wraps_the_snippet_and_writes_only_inside_the_prefix() -> None:
    snippet = nginx_config(services=SERVICES)
    full = nginx_config(services=SERVICES, full=True)
    assert (
        "daemon off;\n" in full
        and "\nevents { worker_connections " in full
        and "\nhttp {\n    access_log off;\n" in full
    )
    assert full.endswith("}\n") and full.count("{") == full.count("}")
    body = full[full.index("http {") :]
    # The snippet is inside `http {}` (indented), all but its own "generated" header line.
    for line in snippet.splitlines()[1:]:
        assert (f"    {line}" if line.strip() else line) in body.splitlines()
    for directive in (
        "pid",
        "error_log",
        "client_body_temp_path",
        "proxy_temp_path",
        "fastcgi_temp_path",
        "uwsgi_temp_path",
        "scgi_temp_path",
    ):
        (value,) = re.findall(rf"^\s*{directive} (\S+?)[ ;]", full, re.MULTILINE)
        assert not value.startswith("/"), f"{directive} must stay inside the -p prefix"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["routes", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_warden_routes_nginx_prints_the_generated_config_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, "--nginx") == (0, nginx_config(), "")
    code, out, _ = _cli(
        capsys,
        "--nginx",
        "--full",
        "--listen-public",
        "127.0.0.1:8080",
        "--listen-admin",
        "8081",
        "--upstream",
        "session=127.0.0.1:4533:4534",
        "--upstream",
        "session=127.0.0.1:4633:4634",
        "--upstream",
        "identity=127.0.0.1:4433:4434",
    )
    replicas = {
        "session": [Upstream("127.0.0.1", 4533, 4534), Upstream("127.0.0.1", 4633, 4634)],
        "identity": [Upstream("127.0.0.1", 4433, 4434)],
    }
    assert code == 0
    assert out == nginx_config(replicas, listen_public="127.0.0.1:8080", listen_admin="8081", full=True)


@pytest.mark.parametrize(
    "args",
    [
        ["--nginx", "--upstream", "session=h:4533"],
        ["--nginx", "--upstream", "nosuch=127.0.0.1"],
        ["--nginx", "--listen-public", "http"],
        ["--full"],
        ["--upstream", "session=127.0.0.1"],
    ],
)
def test_warden_routes_refuses_bad_options_in_one_line_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    try:
        code = main(["routes", *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("warden: ")


def test_nginx_accepts_the_full_config_run_from_a_prefix_directory(tmp_path: Path) -> None:
    """Uses the real route table: every location the services declare must be valid nginx. (Under
    CI=true a missing nginx fails this test rather than skipping it.)"""
    nginx = require_nginx()
    local = {name: [Upstream("127.0.0.1", 20000 + i, 21000 + i)] for i, name in enumerate(SERVICE_NAMES)}
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_config(local, listen_public="127.0.0.1:1", listen_admin="127.0.0.1:2", full=True))
    checked = subprocess.run(
        [str(nginx), "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_finding_15_generated_nginx_hides_its_version_and_is_sized_for_the_replicas() -> None:
    """Review finding 15: nginx's default 512 connections in one worker dropped 11.5k requests at 128
    clients, and its Server header named its version."""
    assert re.search(r"^server_tokens off;$", nginx_config(services=SERVICES), re.MULTILINE)
    one = nginx_config(services=SERVICES, full=True)
    many = nginx_config({"session": [Upstream(f"10.0.0.{i}") for i in range(8)]}, SERVICES, full=True)
    for full in (one, many):
        assert re.search(r"^worker_processes auto;$", full, re.MULTILINE)
        assert re.search(r"^\s+server_tokens off;$", full, re.MULTILINE)
        (connections,) = map(int, re.findall(r"^events \{ worker_connections (\d+); \}$", full, re.MULTILINE))
        (files,) = map(int, re.findall(r"^worker_rlimit_nofile (\d+);$", full, re.MULTILINE))
        # Two connections per proxied request for 128 clients on each replica, and the keep-alive pools.
        replicas = len(re.findall(r"server [\w.]+:4433;", full))
        assert connections >= 2 * 128 * replicas + 32 * 2 * replicas and files > connections
    assert worker_connections_of(many) > worker_connections_of(one)


def worker_connections_of(full: str) -> int:
    return int(re.findall(r"worker_connections (\d+);", full)[0])


def test_grpc_services_are_in_the_route_table_and_nginx_sends_each_to_its_owner() -> None:
    from warden.services import SERVICES as REAL

    grpc = {r.path: r.service for r in route_table(REAL) if r.port == "grpc"}
    assert grpc == {
        "/warden.session.v1.SessionService/": "session",
        "/envoy.service.auth.v3.Authorization/": "session",
        "/warden.identity.v1.IdentityService/": "identity",
    }
    conf = nginx_config({"session": [Upstream("10.0.0.2", 1, 2, 5435)]}, REAL, listen_grpc="127.0.0.1:9435")
    assert "upstream warden_session_grpc { server 10.0.0.2:5435; keepalive 32; }" in conf
    assert "upstream warden_identity_grpc { server identity:4435; keepalive 32; }" in conf
    assert "listen 127.0.0.1:9435 http2;" in conf
    for path, owner in grpc.items():
        assert f"location {path} {{ grpc_pass grpc://warden_{owner}_grpc; }}" in conf
    assert "location /grpc.health.v1.Health/ { grpc_pass grpc://warden_identity_grpc; }" in conf
    assert "warden_courier_grpc" not in conf and "warden_selfservice_grpc" not in conf
