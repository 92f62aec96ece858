"""Kratos's own OpenAPI contract (`../shared/reference/kratos/api.json`) fuzzed with Schemathesis
against a whole `warden serve` process, on both ports, on SQLite and PostgreSQL.

Every operation of the spec gets a few generated requests, valid ones (positive) and invalid ones
(negative), from a fixed seed: the run is the same every time and takes a minute or so. No answer
may be a 5xx. A valid request's answer must match the spec's response schema, except where the spec
itself is wrong about what Kratos sends: those are listed, with why, in KNOWN_SPEC_ERRORS.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import free_port
from tests.e2e.warden_process import status, stop_process
from tests.factories import write_config
from tests.selfservice_helpers import database, selfservice_extra

SPEC = Path("reference", "kratos", "api.json")
SEED = 16
EXAMPLES_PER_MODE = 4
REQUEST_TIMEOUT_SECONDS = 10

# Places where Kratos's api.json disagrees with what Kratos itself answers; Warden answers like Kratos.
# Each entry is the JSON pointer of the spec schema that a response was checked against.
KNOWN_SPEC_ERRORS = {
    # `genericError.details` is declared `additionalProperties: false`, an object that may hold nothing,
    # yet Kratos fills it (schema validation errors, `redirect_to`, `return_to`, …).
    "/components/schemas/genericError/properties/details",
}
# A submission whose `?flow=` is missing or not a UUID: the spec declares its 400 as the flow, but
# Kratos's `GetFlowID` answers before any flow is read, with this error (a genericError).
FLOW_ID_REFUSAL = "The flow query parameter is missing or malformed."


def _flow_id_refused(response: Any) -> bool:
    if response.status_code != 400:
        return False
    try:
        return bool(response.json()["error"]["reason"] == FLOW_ID_REFUSAL)
    except (ValueError, KeyError, TypeError):
        return False


def spec_path() -> Path:
    """The spec beside the clone (`../shared/…`, where CI copies it), or beside a parent of it (a git
    worktree under the shared checkout's directory)."""
    root = Path(__file__).resolve().parents[2]
    for directory in (root, *root.parents):
        candidate = directory / "shared" / SPEC
        if candidate.is_file():
            return candidate
    raise AssertionError(f"Kratos's api.json not found at ../shared/{SPEC} (nor above {root})")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden_urls(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A `warden serve` process with every self-service flow on; its public and admin URLs."""
    directory = tmp_path_factory.mktemp(f"conformance-{request.param}")
    flows = {"verification": {"enabled": True}, "recovery": {"enabled": True}}
    methods = {"code": {"enabled": True}, "link": {"enabled": True}}
    with database(request.param, directory) as dsn:
        config = write_config(directory, dsn, selfservice_extra(flows=flows, methods=methods))
        ports = {"public": free_port(), "admin": free_port()}
        env = {k: v for k, v in os.environ.items() if k != "DSN"}
        env.update(SERVE_PUBLIC_PORT=str(ports["public"]), SERVE_ADMIN_PORT=str(ports["admin"]), LOG_LEVEL="error")
        # The log goes to a file: a pipe nobody reads would block the server once full.
        with open(directory / "warden.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "warden.cli", "serve", "-c", str(config), "--dev", "--migrate"],
                env=env,
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        urls = {port: f"http://127.0.0.1:{number}" for port, number in ports.items()}
        try:
            _wait_ready(proc, urls, directory / "warden.log")
            yield urls
        finally:
            stop_process(proc, 15, 15)


def _wait_ready(proc: subprocess.Popen, urls: dict[str, str], log: Path) -> None:  # type: ignore[type-arg]
    import time

    deadline = time.monotonic() + 30
    while any(status(f"{url}/health/ready") != 200 for url in urls.values()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"warden did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def _port_of(path: str) -> str:
    return "admin" if path.startswith("/admin/") else "public"


def _violated_schema(error: BaseException) -> str:
    """The spec pointer a response-schema failure names (`Schema at /components/…:`), or the message."""
    text = str(getattr(error, "exceptions", [error])[0]) if hasattr(error, "exceptions") else str(error)
    for line in text.splitlines():
        if line.strip().startswith("Schema at "):
            return line.strip().removeprefix("Schema at ").rstrip(":")
    return text.splitlines()[0] if text else type(error).__name__


def _fuzz(operation: Any, base_url: str, mode: GenerationMode, record: Callable[[str], None]) -> None:
    @hypothesis.seed(SEED)
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, allow_redirects=False, timeout=REQUEST_TIMEOUT_SECONDS)
        if response.status_code >= 500:
            record(f"{response.status_code} for {case.as_curl_command()}")
        elif mode == GenerationMode.POSITIVE and not _flow_id_refused(response):
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except BaseException as error:  # schemathesis raises an exception group per failed check
                if _violated_schema(error) not in KNOWN_SPEC_ERRORS:
                    record(f"response schema ({_violated_schema(error)}) for {case.as_curl_command()}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # no invalid request exists for an operation without parameters or body


def _modes(operation: Any) -> tuple[GenerationMode, ...]:
    """Invalid requests where something can be invalid on the wire: a body or query parameters. An
    invalid path segment or header is mostly unsendable, and hypothesis would spend its time
    discarding attempts at one."""
    locations = {parameter.location.value for parameter in operation.iter_parameters()}
    if operation.body or "query" in locations:
        return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return (GenerationMode.POSITIVE,)


def test_schemathesis_finds_no_server_error_and_no_schema_violation_on_either_port(
    warden_urls: dict[str, str],
) -> None:
    schema = schemathesis.openapi.from_path(spec_path())
    failures: dict[str, list[str]] = collections.defaultdict(list)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        label = f"{operation.method.upper()} {operation.path}"
        for mode in _modes(operation):
            _fuzz(operation, warden_urls[_port_of(operation.path)], mode, failures[label].append)
    assert operations >= 50, f"only {operations} operations read from {spec_path()}"
    found = {label: sorted(set(found))[:3] for label, found in failures.items() if found}
    assert not found, "\n".join(f"{label}:\n  " + "\n  ".join(lines) for label, lines in found.items())
