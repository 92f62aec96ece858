"""Prometheus metrics: every family a Warden process exports, built once per process (see `Metrics`)."""

from shared.metrics.registry import Metrics

__all__ = ["Metrics"]
