"""The route table and the nginx config generated from it."""

from __future__ import annotations

import pytest

from shared.service import Route, ServiceDefinition
from shared.storage.migrations import MigrationSet
from warden.routes import nginx_config, route_table


def _service(name: str, *routes: tuple[str, str, str]) -> ServiceDefinition:
    async def build(_infra):  # type: ignore[no-untyped-def]
        raise AssertionError("never built")

    return ServiceDefinition(
        name, MigrationSet(name, __import__("pathlib").Path(".")), [Route(p, m, path, lambda c: c) for p, m, path in routes], build
    )


SERVICES = [
    _service("identity", ("admin", "GET", "/admin/identities"), ("admin", "GET", "/admin/identities/{id}"),
             ("public", "GET", "/schemas/{id}"), ("internal", "GET", "/internal/identity/info")),
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
