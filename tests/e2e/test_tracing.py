"""One registration is one trace across the distributed setup: the four services run as separate
`warden serve <service>` processes (PostgreSQL, RabbitMQ, Redis, a real SMTP server) with
`tracing.provider: otel`, exporting OTLP/HTTP to a receiver in the test. A user registers by the
API flow; the verification mail goes out. Then one trace id holds spans from all four services and
from both sides of the bus, each hop under the one that caused it:

    selfservice POST /self-service/registration
      ├─ identity POST /internal/identity/identities ─ identity.created publish ─ (RabbitMQ send)
      │    └─ selfservice (RabbitMQ receive) ─ courier.message.requested publish ─ (RabbitMQ send)
      │         └─ courier (RabbitMQ receive) ─ courier send message ─ smtp send
      ├─ session POST /internal/session/sessions
      └─ courier.webhook.requested publish ─ (RabbitMQ) ─ courier send web hook delivery ─ POST to the hook

and no attribute anywhere carries the password, the verification code or the session token."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.warden_process import WardenProcess, distributed_env, run_cli
from tests.factories import EMAIL_SCHEMA
from tests.mail_helpers import code_in
from tests.otlp_receiver import CLIENT, CONSUMER, PRODUCER, SERVER, OtlpReceiver, ReceivedSpan
from tests.smtp import SmtpServer, smtp_server  # noqa: F401 (fixture)
from tests.webhook_receiver import WebhookReceiver

INTERNAL_TOKEN = "e2e-tracing-internal-token"
SERVICES = ("identity", "session", "selfservice", "courier")  # each after those it calls
EMAIL, PASSWORD = "ada.lovelace@example.com", "analytical-engine-1843-notes"


def write_config(directory: Path, smtp: SmtpServer, receiver: OtlpReceiver, hook: WebhookReceiver) -> Path:
    (directory / "identity.schema.json").write_text(json.dumps(EMAIL_SCHEMA))
    # Fire-and-forget: selfservice's outbox → RabbitMQ → the courier, which sends it later.
    web_hook = {
        "hook": "web_hook",
        "config": {"url": hook.url("/registered"), "method": "POST", "response": {"ignore": True}},
    }
    config: dict[str, Any] = {
        "identity": {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/identity.schema.json"}],
        },
        "selfservice": {
            "default_browser_return_url": "http://127.0.0.1:4455/",
            "flows": {
                "registration": {
                    "after": {"password": {"hooks": [{"hook": "session"}, {"hook": "show_verification_ui"}, web_hook]}}
                },
                "verification": {"enabled": True, "use": "code", "ui_url": "http://127.0.0.1:4455/verification"},
            },
            "methods": {"password": {"enabled": True}, "code": {"enabled": True}},
        },
        "courier": {
            "smtp": {"connection_uri": smtp.uri, "from_address": "no-reply@warden.test"},
            "worker": {"pull_wait": "50ms"},
        },
        "secrets": {"cookie": ["e2e-tracing-cookie-secret-0123456789"], "default": ["e2e-tracing-default-0123456789"]},
        "log": {"level": "warning"},
        "tracing": receiver.tracing_config(),
    }
    path = directory / "kratos.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.close()


@pytest.fixture
def cluster(
    tmp_path: Path,
    pg_dsn: str,
    amqp_vhost: str,
    redis_url: str,
    redis_prefix: str,
    smtp_server: SmtpServer,  # noqa: F811
    receiver: OtlpReceiver,
    hook: WebhookReceiver,
) -> Iterator[dict[str, WardenProcess]]:
    config = write_config(tmp_path, smtp_server, receiver, hook)
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, INTERNAL_TOKEN)
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # the SDK's own variable: export every 100 ms, not 5 s
    migrated = run_cli(["migrate", "sql", "-e", "--yes", "-c", str(config)], env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    processes: dict[str, WardenProcess] = {}
    try:
        for service in SERVICES:
            # The courier logs at info: its "queued" line is written inside the trace.
            own = {**env, "LOG_LEVEL": "info"} if service == "courier" else env
            processes[service] = WardenProcess(["serve", service, "-c", str(config)], env=own, cwd=tmp_path)
            env[f"SERVICES_{service.upper()}_INTERNAL_URL"] = processes[service].url("admin")
        for process in processes.values():
            process.wait_ready(timeout=60.0)
        yield processes
    finally:
        for process in processes.values():
            process.stop()  # SIGTERM: each flushes its last spans on the way out


def call(method: str, url: str, body: Any = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def register(public: str) -> dict[str, Any]:
    flow = call("GET", f"{public}/self-service/registration/api")
    return call(
        "POST",
        f"{public}/self-service/registration?flow={flow['id']}",
        {"method": "password", "password": PASSWORD, "traits": {"email": EMAIL}},
    )


def wait_for(found: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never came: {what}")
        time.sleep(0.1)
    return result


class Trace:
    def __init__(self, spans: list[ReceivedSpan]) -> None:
        self.spans = spans
        self._by_id = {span.span_id: span for span in spans}

    def one(self, service: str, test: Callable[[ReceivedSpan], bool], what: str) -> ReceivedSpan:
        found = [s for s in self.spans if s.service == f"warden-{service}" and test(s)]
        assert found, f"no {what} span from {service} in {sorted((s.service, s.name) for s in self.spans)}"
        return found[0]

    def orphans(self) -> list[ReceivedSpan]:
        """Spans whose parent has not arrived (yet): a root's parent is empty, not missing."""
        return [s for s in self.spans if s.parent_id and s.parent_id not in self._by_id]

    def tree(self) -> str:
        """The trace as an indented outline (printed: what an operator would see in a trace viewer)."""
        children: dict[str, list[ReceivedSpan]] = {}
        for span in self.spans:
            children.setdefault(span.parent_id if span.parent_id in self._by_id else "", []).append(span)
        lines: list[str] = []

        def walk(parent: str, depth: int) -> None:
            for span in children.get(parent, []):
                lines.append(f"{'  ' * depth}{span.service.removeprefix('warden-')}: {span.name}")
                walk(span.span_id, depth + 1)

        walk("", 0)
        return "\n".join(lines)

    def under(self, child: ReceivedSpan, ancestor: ReceivedSpan) -> bool:
        span: ReceivedSpan | None = child
        while span is not None:
            if span.span_id == ancestor.span_id:
                return True
            span = self._by_id.get(span.parent_id)
        return False


def whole_with_smtp(trace: Trace) -> Trace | None:
    """The trace, once it holds the SMTP span and every span it holds has its parent beside it."""
    if any(s.name == "smtp send" for s in trace.spans) and not trace.orphans():
        return trace
    return None


def rabbit(kind: int) -> Callable[[ReceivedSpan], bool]:
    return lambda s: s.kind == kind and s.attributes.get("messaging.system") == "rabbitmq"


def test_one_registration_is_one_trace_across_the_services_and_the_bus(
    cluster: dict[str, WardenProcess],
    smtp_server: SmtpServer,  # noqa: F811
    receiver: OtlpReceiver,
    hook: WebhookReceiver,
) -> None:
    registered = register(cluster["selfservice"].url("public"))
    token = registered["session_token"]
    [mail] = smtp_server.wait_for(1, timeout=30.0)
    code = code_in(mail)

    def registration() -> ReceivedSpan | None:
        return next(
            (
                s
                for s in receiver.all()
                if s.kind == SERVER and s.attributes.get("SelfServiceFlowType") == "registration"
            ),
            None,
        )

    root = wait_for(registration, "the registration's server span")
    # Each process exports on its own schedule: the courier's SMTP span can arrive before the
    # selfservice's publish that caused it. Read the trace once every span's parent has come too.
    trace = wait_for(
        lambda: whole_with_smtp(Trace(receiver.trace(root.trace_id))), "the whole trace up to the SMTP span"
    )

    print(f"\n[test_tracing] the registration's trace, {len(trace.spans)} spans:\n{trace.tree()}")
    assert {s.service for s in trace.spans} >= {f"warden-{name}" for name in SERVICES}
    assert root.service == "warden-selfservice" and root.parent_id == ""
    assert root.attributes["FlowType"] == "api" and root.attributes["SelfServiceMethodUsed"] == "password"
    created = trace.one("identity", lambda s: s.kind == SERVER and "IdentityCreated" in dict(s.events), "create")
    issued = trace.one("session", lambda s: s.kind == SERVER and "SessionIssued" in dict(s.events), "issue")
    assert trace.under(created, root) and trace.under(issued, root)
    assert created.attributes["identity.id"] == registered["identity"]["id"] == issued.attributes["identity.id"]

    # The outbox hop: published after the request answered, yet inside its trace.
    event_published = trace.one("identity", lambda s: s.name == "identity.created publish", "outbox publish")
    sent = trace.one("identity", rabbit(PRODUCER), "RabbitMQ send")
    received = trace.one("selfservice", rabbit(CONSUMER), "RabbitMQ receive")
    assert trace.under(event_published, created) and trace.under(sent, event_published)
    assert received.parent_id == sent.span_id  # the context crossed in the message's headers

    command_published = trace.one("selfservice", lambda s: s.name == "courier.message.requested publish", "publish")
    # The mail's receive (the web hook's command is received by the courier too).
    courier_received = trace.one(
        "courier", lambda s: rabbit(CONSUMER)(s) and trace.under(s, command_published), "RabbitMQ receive"
    )
    delivered = trace.one("courier", lambda s: s.name == "courier send message", "dispatch")
    smtp = trace.one("courier", lambda s: s.name == "smtp send", "SMTP")
    assert trace.under(command_published, received) and trace.under(courier_received, command_published)
    assert trace.under(delivered, courier_received) and trace.under(smtp, delivered)

    # The web hook the courier delivered carried the registration's trace, from a span of it.
    [called] = hook.wait_for(1, "/registered")
    traceparent = next(v for k, v in called.headers.items() if k.lower() == "traceparent")
    _version, hook_trace, hook_parent, _flags = traceparent.split("-")
    assert hook_trace == root.trace_id
    wait_for(lambda: any(s.span_id == hook_parent for s in receiver.trace(root.trace_id)), "the hook's span")
    sender = Trace(receiver.trace(root.trace_id)).one("courier", lambda s: s.span_id == hook_parent, "hook")
    assert sender.kind == CLIENT and trace.under(sender, root)

    # The courier's JSON log line about the message names the trace and its span.
    assert cluster["courier"].stop() == 0
    lines = [json.loads(line) for line in cluster["courier"].proc.stderr.read().splitlines() if line.startswith("{")]  # type: ignore[union-attr]
    [queued] = [line for line in lines if line["msg"].startswith("courier: queued")]
    assert queued["trace_id"] == root.trace_id and queued["span_id"] in {s.span_id for s in trace.spans}

    # The services' readiness probes (wait_ready) checked PostgreSQL, Redis and RabbitMQ: no trace.
    probes = [s for s in receiver.all() if s.attributes.get("db.statement") == "SELECT 1" or s.name == "PING"]
    assert not probes, [(s.service, s.name) for s in probes]
    # Nor did start-up (migrations) and the background polls (the relays', the courier's, the session
    # cache's), which ran all along: a PostgreSQL statement is a span only inside someone's trace.
    alone = [s for s in receiver.all() if s.attributes.get("db.system") == "postgresql" and not s.parent_id]
    assert not alone, "; ".join(sorted({f"{s.service} {s.attributes.get('db.statement', s.name)[:80]}" for s in alone}))

    secrets = (PASSWORD, code, token, token.removeprefix("ory_st_"), INTERNAL_TOKEN)
    for span in receiver.all():
        for value in span.values():
            assert not any(secret in value for secret in secrets), f"a secret in {span.service} {span.name}: {value}"
