"""Warden's version, read from the installed package metadata."""

from importlib.metadata import PackageNotFoundError, version


def warden_version() -> str:
    try:
        return version("warden")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0-dev"
