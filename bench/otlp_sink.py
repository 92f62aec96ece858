"""A local OTLP/HTTP sink for benchmarks with tracing on: takes `POST /v1/traces`, counts the spans
(decoded with opentelemetry-proto) and answers as a collector would, so exporting costs the server
what it costs against a real collector on the same machine, minus the collector's own work.

    .venv/bin/python bench/otlp_sink.py --port 4318 --report spans.txt

Writes the number of spans received to `--report` when stopped (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

RECEIVED = web.AppKey("received", list)
ANSWER = ExportTraceServiceResponse().SerializeToString()


def create_app(report: Path) -> web.Application:
    async def export(request: web.Request) -> web.Response:
        body = ExportTraceServiceRequest.FromString(await request.read())
        request.app[RECEIVED][0] += sum(len(s.spans) for r in body.resource_spans for s in r.scope_spans)
        return web.Response(body=ANSWER, content_type="application/x-protobuf")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def write_report(app: web.Application) -> None:
        report.write_text(str(app[RECEIVED][0]))

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RECEIVED] = [0]
    app.router.add_post("/v1/traces", export)
    app.router.add_get("/health", health)
    app.on_cleanup.append(write_report)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    web.run_app(create_app(args.report), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
