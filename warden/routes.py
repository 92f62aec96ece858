"""The route table (which service owns which path) and what is generated from it: a readable
listing, and the nginx config that routes the distributed setup (docker-compose's service names by
default; real addresses and several replicas per service when given). Paths are listed only where
their handlers are; this module only reads them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.service import ServiceDefinition
from warden.services import SERVICES
from warden.table import table

PUBLIC_PORT, ADMIN_PORT, GRPC_PORT = 4433, 4434, 4435
# Served by every process with a gRPC port; nginx sends them to the first service that has one.
GRPC_SHARED = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)
KEEPALIVE = 32  # idle connections each nginx worker keeps to each upstream
CLIENTS_PER_REPLICA = 1024  # concurrent clients the generated config is sized for, per replica
MIN_WORKER_CONNECTIONS = 4096
_PARAM = re.compile(r"\{[^}:]+(?::([^}]+))?\}")


@dataclass(frozen=True)
class Upstream:
    host: str
    public_port: int = PUBLIC_PORT
    admin_port: int = ADMIN_PORT
    grpc_port: int = GRPC_PORT


@dataclass(frozen=True)
class OwnedPath:
    port: str
    path: str
    methods: tuple[str, ...]
    service: str


# A host name, IPv4 address or bracketed IPv6 address: nothing that could end an nginx directive.
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)"
_UPSTREAM_SPEC = re.compile(
    rf"(?P<name>[a-z_]+)=(?P<host>{_HOST})(?::(?P<public>\d+):(?P<admin>\d+)(?::(?P<grpc>\d+))?)?"
)
_LISTEN_SPEC = re.compile(rf"(?:{_HOST}:)?(?P<port>\d+)")


def parse_upstream(spec: str) -> tuple[str, Upstream]:
    """`NAME=HOST` or `NAME=HOST:PUBLIC_PORT:ADMIN_PORT[:GRPC_PORT]`, as `warden routes --nginx
    --upstream` takes."""
    match = _UPSTREAM_SPEC.fullmatch(spec)
    ports = [match["public"], match["admin"]] if match and match["public"] else [str(PUBLIC_PORT), str(ADMIN_PORT)]
    ports.append(match["grpc"] if match and match["grpc"] else str(GRPC_PORT))
    if not match or not all(_is_port(p) for p in ports):
        raise ValueError(f"{spec!r} is not NAME=HOST[:PUBLIC_PORT:ADMIN_PORT[:GRPC_PORT]]")
    return match["name"], Upstream(match["host"], int(ports[0]), int(ports[1]), int(ports[2]))


def parse_listen(value: str) -> str:
    """What the generated `listen` directives take: `PORT` or `HOST:PORT`."""
    match = _LISTEN_SPEC.fullmatch(value)
    if not match or not _is_port(match["port"]):
        raise ValueError(f"{value!r} is not PORT or HOST:PORT")
    return value


def _is_port(value: str) -> bool:
    return value.isdigit() and 0 < int(value) < 65536


def route_table(services: Sequence[ServiceDefinition] = SERVICES) -> list[OwnedPath]:
    owners: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for service in services:
        for route in service.routes:
            port = "admin" if route.port == "internal" else route.port
            for path in route.paths:
                owner, methods = owners.setdefault((port, path), (service.name, []))
                if owner != service.name:
                    raise ValueError(f"{port} path {path} is claimed by {owner} and {service.name}")
                methods.append(route.method)
        for name in service.grpc_services:
            owner, methods = owners.setdefault(("grpc", f"/{name}/"), (service.name, ["POST"]))
            if owner != service.name:
                raise ValueError(f"gRPC service {name} is claimed by {owner} and {service.name}")
    return [OwnedPath(port, path, tuple(sorted(m)), owner) for (port, path), (owner, m) in owners.items()]


def route_table_text(services: Sequence[ServiceDefinition] = SERVICES) -> str:
    rows = sorted(route_table(services), key=lambda r: (r.port, r.path))
    return table(
        ("PORT", "METHODS", "PATH", "SERVICE"), [(r.port, ",".join(r.methods), r.path, r.service) for r in rows]
    )


def nginx_config(
    upstreams: Mapping[str, Sequence[Upstream]] | None = None,
    services: Sequence[ServiceDefinition] = SERVICES,
    *,
    listen_public: int | str = PUBLIC_PORT,
    listen_admin: int | str = ADMIN_PORT,
    listen_grpc: int | str = GRPC_PORT,
    full: bool = False,
) -> str:
    """An `http {}`-level nginx snippet: an upstream per service and port (one `server` per replica),
    and a server per port whose locations send each path to its owner. Internal paths are never
    routed. A service not named in `upstreams` keeps its docker-compose address. `full` wraps the
    snippet into a whole nginx.conf for an unprivileged `nginx -p <dir> -c <file>`. The gRPC port
    (HTTP/2, `grpc_pass`) sends each gRPC service to its owner; health and reflection to the first
    service that serves gRPC."""
    pools = _pools(upstreams or {}, services)
    listens = {"public": parse_listen(str(listen_public)), "admin": parse_listen(str(listen_admin))}
    table = [r for r in route_table(services) if not r.path.startswith("/internal/")]
    out: list[str] = []
    for name, replicas in pools.items():
        for port in ("public", "admin"):
            servers = "".join(
                f"server {up.host}:{up.public_port if port == 'public' else up.admin_port}; " for up in replicas
            )
            out.append(f"upstream warden_{name}_{port} {{ {servers}keepalive {KEEPALIVE}; }}\n")
    first = next(iter(pools))
    for port, listen in listens.items():
        out.append(f"\nserver {{\n    listen {listen};\n    client_max_body_size 1m;\n")
        out.append(f"    location = /health/alive {{ proxy_pass http://warden_{first}_{port}; }}\n")
        out.append(f"    location = /health/ready {{ proxy_pass http://warden_{first}_{port}; }}\n")
        out.append(f"    location = /version {{ proxy_pass http://warden_{first}_{port}; }}\n")
        for row in sorted((r for r in table if r.port == port), key=_specificity):
            out.append(f"    location {_location(row.path)} {{ proxy_pass http://warden_{row.service}_{port}; }}\n")
        out.append(
            "    location / { default_type application/json; return 404 "
            '\'{"error":{"code":404,"status":"Not Found","message":"The requested resource could not be found"}}\'; }\n'
        )
        out.append("}\n")
    out += _grpc_server(pools, table, parse_listen(str(listen_grpc)))
    out.append(_PROXY_DEFAULTS)
    snippet = "".join(out)
    return whole_nginx_conf(snippet, worker_connections(pools)) if full else _HEADER + snippet


def _grpc_server(pools: Mapping[str, Sequence[Upstream]], table: Sequence[OwnedPath], listen: str) -> list[str]:
    grpc_rows = sorted((r for r in table if r.port == "grpc"), key=lambda r: r.path)
    owners = [name for name in pools if any(r.service == name for r in grpc_rows)]  # the services' order
    if not owners:
        return []
    out = ["\n"]
    for name in owners:
        servers = "".join(f"server {up.host}:{up.grpc_port}; " for up in pools[name])
        out.append(f"upstream warden_{name}_grpc {{ {servers}keepalive {KEEPALIVE}; }}\n")
    # HTTP/2 without TLS (h2c), as gRPC clients inside the network speak it; `listen … http2` is the
    # spelling that nginx before 1.25 understands too.
    out.append(f"server {{\n    listen {listen} http2;\n    client_max_body_size 1m;\n")
    for name in GRPC_SHARED:
        out.append(f"    location /{name}/ {{ grpc_pass grpc://warden_{owners[0]}_grpc; }}\n")
    for row in grpc_rows:
        out.append(f"    location {row.path} {{ grpc_pass grpc://warden_{row.service}_grpc; }}\n")
    out.append("    location / { return 404; }\n}\n")
    return out


_HEADER = "# Generated by `warden routes --nginx` from Warden's route table. Do not edit by hand.\n"


def _pools(
    upstreams: Mapping[str, Sequence[Upstream]], services: Sequence[ServiceDefinition]
) -> dict[str, list[Upstream]]:
    """Every service's replicas, in the route table's service order (so the output is stable)."""
    names = [s.name for s in services]
    unknown = sorted(set(upstreams) - set(names))
    if unknown:
        raise ValueError(f"no such service: {', '.join(unknown)} (services: {', '.join(names)})")
    empty = sorted(name for name, replicas in upstreams.items() if not replicas)
    if empty:
        raise ValueError(f"no address given for {', '.join(empty)}")
    return {name: list(upstreams.get(name) or [Upstream(name)]) for name in names}


def worker_connections(pools: Mapping[str, Sequence[Upstream]]) -> int:
    """Connections one worker may hold: a proxied request holds two (the client's and the replica's),
    CLIENTS_PER_REPLICA clients per replica, plus the idle keep-alive pools (one per upstream server
    and port). nginx's default of 512 dropped 11.5k requests at 128 clients in the review."""
    replicas = sum(len(replicas) for replicas in pools.values())
    return max(MIN_WORKER_CONNECTIONS, 2 * CLIENTS_PER_REPLICA * replicas + 2 * KEEPALIVE * replicas)


def whole_nginx_conf(snippet: str, connections: int) -> str:
    """Every path nginx writes is relative, hence inside the `-p` prefix directory, so that nginx
    runs as any user; in the foreground, so that whoever started it can stop it and see it end.
    One worker per core, each sized by `worker_connections`; room for as many file descriptors."""
    body = "".join(f"    {line}" if line.strip() else line for line in snippet.splitlines(keepends=True))
    return (
        "# Generated by `warden routes --nginx --full`: run with `nginx -p <dir> -c <this file>`.\n"
        "daemon off;\nworker_processes auto;\n"
        f"worker_rlimit_nofile {connections + 1024};\npid nginx.pid;\nerror_log error.log warn;\n\n"
        f"events {{ worker_connections {connections}; }}\n\nhttp {{\n    access_log off;\n"
        + "".join(
            f"    {kind}_temp_path {kind}_temp;\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + "\n"
        + body
        + "}\n"
    )


_PROXY_DEFAULTS = """
# No version in the Server header or in nginx's own error pages.
server_tokens off;
# Keep-alive to the services and the client's address for their device records and throttling.
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host $http_host;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Request-Id $request_id;
"""


def _location(path: str) -> str:
    if not _PARAM.search(path):
        return f"= {path}"
    pattern, last = [], 0
    for match in _PARAM.finditer(path):
        pattern += [re.escape(path[last : match.start()]), match.group(1) or "[^/]+"]
        last = match.end()
    pattern.append(re.escape(path[last:]))
    return f"~ ^{''.join(pattern)}$"


def _specificity(row: OwnedPath) -> tuple[int, int, str]:
    """Literal paths first (exact locations win in nginx anyway), then regexes with more literal
    segments before fewer, so that `/a/{id}/b` is tried before `/a/{tail:.*}`."""
    segments = row.path.strip("/").split("/")
    literal = sum(1 for s in segments if not s.startswith("{"))
    return (1 if _PARAM.search(row.path) else 0, -literal, row.path)
