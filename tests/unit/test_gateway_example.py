"""The example nginx config for forward-auth: committed as generated, and refusing input that could
break out of an nginx directive."""

from __future__ import annotations

from pathlib import Path

import pytest

from warden.gateway_example import auth_request_example

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "auth-request-example.conf"


def test_the_committed_example_is_the_generators_output() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == auth_request_example(), (
        "deploy/nginx/auth-request-example.conf is stale: regenerate it with warden.gateway_example.auth_request_example()"
    )


def test_every_header_the_check_sets_is_copied_and_set_on_the_proxied_request() -> None:
    conf = auth_request_example(trait_headers=("X-User-Email", "X-Tenant"))
    for header in ("X-Kratos-Authenticated-Identity-Id", "X-Warden-Session-Id", "X-Warden-Aal", "X-Tenant"):
        variable = header.lower().replace("-", "_")
        assert f"auth_request_set ${variable} $upstream_http_{variable};" in conf
        assert f"proxy_set_header {header} ${variable};" in conf


@pytest.mark.parametrize(
    "arguments",
    [{"warden": "session:4433; include /etc/passwd"}, {"upstream": "app"}, {"trait_headers": ("X-A; deny all",)}],
)
def test_refuses_what_is_not_an_address_or_a_header_name(arguments: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        auth_request_example(**arguments)
