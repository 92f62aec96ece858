"""Warden's version, read from the installed package metadata.

Read once per process: the lookup parses the package's METADATA file (a millisecond or more of CPU),
and `shared.tracing.spans.tracer` asks for it on every span, for every message the courier sends and
every event a relay publishes."""

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def warden_version() -> str:
    try:
        return version("warden")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0-dev"
