"""Kratos's `tracing` keys turn OpenTelemetry on and shape its tracer provider: off by default, the
OTLP/HTTP endpoint from `server_url` and `insecure`, the sampling ratio, the service's name, and the
SDK's own `OTEL_*` variables where the file says nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.sampling import ParentBased

from shared.errors import ConfigError
from shared.tracing.config import (
    DEFAULT_GRPC_EXCLUDED,
    DEFAULT_HTTP_EXCLUDED,
    GRPC_EXCLUDED,
    HTTP_EXCLUDED,
    TracingConfig,
)
from shared.tracing.setup import build_provider
from tests.unit.test_config import load

ROOT = Path(__file__).parents[2]
OTEL = {"tracing": {"provider": "otel", "providers": {"otlp": {"server_url": "collector:4318", "insecure": True}}}}


def config(tmp_path: Path, extra: dict[str, Any], environ: dict[str, str] | None = None) -> TracingConfig | None:
    return TracingConfig.from_settings(load(tmp_path, extra), "identity", environ or {})


def test_tracing_is_off_without_the_otel_provider(tmp_path: Path) -> None:
    assert config(tmp_path, {}) is None
    assert config(tmp_path, {"tracing": {"provider": "jaeger"}}) is None


def test_otel_sdk_disabled_turns_it_off_whatever_the_file_says(tmp_path: Path) -> None:
    assert config(tmp_path, OTEL, {"OTEL_SDK_DISABLED": "true"}) is None


def test_server_url_and_insecure_make_the_otlp_http_endpoint(tmp_path: Path) -> None:
    found = config(tmp_path, OTEL)
    assert found is not None and found.endpoint == "http://collector:4318/v1/traces"
    secure = {"tracing": {"provider": "otel", "providers": {"otlp": {"server_url": "collector:4318"}}}}
    assert (config(tmp_path, secure) or pytest.fail()).endpoint == "https://collector:4318/v1/traces"


def test_without_server_url_the_sdk_reads_its_environment(tmp_path: Path) -> None:
    found = config(tmp_path, {"tracing": {"provider": "otel"}})
    assert found is not None and found.endpoint is None and found.sampling_ratio is None
    assert found.service_name == "warden-identity"
    named = config(tmp_path, {"tracing": {"provider": "otel"}}, {"OTEL_SERVICE_NAME": "idp"})
    assert named is not None and named.service_name == "idp"


def test_the_sampling_ratio_makes_a_parent_based_ratio_sampler(tmp_path: Path) -> None:
    extra = {"tracing": {**OTEL["tracing"], "service_name": "auth"}}
    extra["tracing"]["providers"] = {"otlp": {"server_url": "c:4318", "sampling": {"sampling_ratio": 0.1}}}
    found = config(tmp_path, extra)
    assert found is not None and found.sampling_ratio == 0.1
    provider = build_provider(found, ["identity"])
    try:
        assert isinstance(provider.sampler, ParentBased)
        assert "TraceIdRatioBased{0.1}" in provider.sampler.get_description()
        assert provider.resource.attributes["service.name"] == "auth"
        assert provider.resource.attributes["warden.services"] == "identity"
    finally:
        provider.shutdown()


def test_a_ratio_out_of_range_is_refused_naming_the_key(tmp_path: Path) -> None:
    extra = {"tracing": {"provider": "otel", "providers": {"otlp": {"sampling": {"sampling_ratio": 2}}}}}
    with pytest.raises(ConfigError, match="tracing.providers.otlp.sampling.sampling_ratio"):
        config(tmp_path, extra)


def test_probes_scrapes_and_grpc_health_are_left_out_unless_the_operator_says_otherwise(tmp_path: Path) -> None:
    def exclusions(environ: dict[str, str]) -> dict[str, str]:
        return dict((config(tmp_path, OTEL, environ) or pytest.fail()).exclusions)

    assert exclusions({}) == {HTTP_EXCLUDED: DEFAULT_HTTP_EXCLUDED, GRPC_EXCLUDED: DEFAULT_GRPC_EXCLUDED}
    set_by_operator = {HTTP_EXCLUDED: "sessions/whoami", GRPC_EXCLUDED: "warden.identity.v1.IdentityService"}
    assert exclusions(set_by_operator) == set_by_operator  # replaces the default: probes traced again
    assert exclusions({"OTEL_PYTHON_EXCLUDED_URLS": "ready"})[HTTP_EXCLUDED] == "ready"  # the generic variable
    assert exclusions({HTTP_EXCLUDED: ""})[HTTP_EXCLUDED] == ""  # empty: every request traced


def test_the_all_in_one_process_is_named_warden(tmp_path: Path) -> None:
    found = TracingConfig.from_settings(load(tmp_path, OTEL), None, {})
    assert found is not None and found.service_name == "warden"


def test_with_tracing_off_a_process_loads_no_sdk_and_installs_nothing(tmp_path: Path) -> None:
    """Off costs nothing: building a whole process loads neither the SDK nor an instrumentation, and
    aiohttp's Application and grpc's aio server are their own (a fresh interpreter, so other tests' imports do not count)."""
    script = f"""
import sys
import grpc.aio
from aiohttp import web
from tests.unit.test_config import load
from pathlib import Path
from warden.process import WardenProcess
from warden.services import SERVICES
original, grpc_server = web.Application, grpc.aio.server
process = WardenProcess(load(Path({str(tmp_path)!r})), SERVICES)
instrumentations = ("opentelemetry.instrumentation.aio", "opentelemetry.instrumentation.grpc")
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", *instrumentations)))
print(process._tracing is None, web.Application is original and grpc.aio.server is grpc_server, loaded)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.split() == ["True", "True", "[]"], done.stderr
