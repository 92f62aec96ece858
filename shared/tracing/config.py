"""Kratos's `tracing` config keys, read once at start-up.

Kratos (ory/x `otelx`) turns OpenTelemetry on with `tracing.provider: otel` and sends OTLP over HTTP
to `tracing.providers.otlp.server_url` (a `host:port`, https unless `insecure`), sampling
`sampling.sampling_ratio` of new traces. Keys left out fall to the SDK, which reads its own `OTEL_*`
environment variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_TRACES_SAMPLER`, `OTEL_SERVICE_NAME`,
…) exactly as the specification says; `OTEL_SDK_DISABLED=true` turns tracing off whatever the file says.

Probes and scrapes are nobody's journey: unless the operator sets the instrumentations' own variables
(`OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS`, else `OTEL_PYTHON_EXCLUDED_URLS`;
`OTEL_PYTHON_GRPC_EXCLUDED_SERVICES`), Kubernetes' probes, Prometheus' scrapes and gRPC health
checks make no traces. A value the operator sets replaces the default; an empty one traces them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import ConfigError

PROVIDER = "otel"
HTTP_EXCLUDED = "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"
GRPC_EXCLUDED = "OTEL_PYTHON_GRPC_EXCLUDED_SERVICES"
# Path regexes, comma-separated, searched in each request's path (opentelemetry-util-http's form).
DEFAULT_HTTP_EXCLUDED = r"^/health/(alive|ready)$,^/metrics(/prometheus)?$"
DEFAULT_GRPC_EXCLUDED = "grpc.health.v1.Health"


@dataclass(frozen=True)
class TracingConfig:
    service_name: str
    endpoint: str | None  # the full OTLP/HTTP traces URL, or None for the SDK's (env or default)
    sampling_ratio: float | None  # None: the SDK's sampler (OTEL_TRACES_SAMPLER, else parent-based on)
    headers: Mapping[str, str]
    # The instrumentations' exclusion variables as they apply to this process (see the docstring).
    exclusions: Mapping[str, str]

    @classmethod
    def from_settings(
        cls, settings: Any, service: str | None, environ: Mapping[str, str] = os.environ
    ) -> TracingConfig | None:
        """The config when tracing is on for this process (running `service`, or all four when
        None), None when it is off."""
        tracing = settings.get("tracing") or {}
        if tracing.get("provider") != PROVIDER or environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return None
        otlp = (tracing.get("providers") or {}).get("otlp") or {}
        return cls(
            service_name=tracing.get("service_name")
            or environ.get("OTEL_SERVICE_NAME")
            or (f"warden-{service}" if service else "warden"),
            endpoint=_endpoint(otlp),
            sampling_ratio=_ratio(otlp),
            headers={"Authorization": otlp["authorization_header"]} if otlp.get("authorization_header") else {},
            exclusions={
                HTTP_EXCLUDED: environ.get(
                    HTTP_EXCLUDED, environ.get("OTEL_PYTHON_EXCLUDED_URLS", DEFAULT_HTTP_EXCLUDED)
                ),
                GRPC_EXCLUDED: environ.get(GRPC_EXCLUDED, DEFAULT_GRPC_EXCLUDED),
            },
        )


def _endpoint(otlp: Mapping[str, Any]) -> str | None:
    server = otlp.get("server_url")
    if not server:
        return None
    if "://" not in server:  # Kratos's form: host:port, the scheme chosen by `insecure`
        server = f"{'http' if otlp.get('insecure') else 'https'}://{server}"
    return server.rstrip("/") + ("" if server.rstrip("/").endswith("/v1/traces") else "/v1/traces")


def _ratio(otlp: Mapping[str, Any]) -> float | None:
    ratio = (otlp.get("sampling") or {}).get("sampling_ratio")
    if ratio is None:
        return None
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ConfigError(
            f"tracing.providers.otlp.sampling.sampling_ratio: must be a number from 0 to 1, not {ratio!r}"
        )
    return float(ratio)
