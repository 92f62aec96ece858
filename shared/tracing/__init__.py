"""OpenTelemetry traces, off unless `tracing.provider: otel` turns them on.

`config` reads Kratos's `tracing` keys, `setup` builds the SDK and installs the official
instrumentations in a process's composition root (and removes them on stop), `carrier` moves a
trace's context through what the instrumentations do not cover (the outbox rows, the courier's
queue), and `redaction` keeps secrets out of span attributes. When tracing is off nothing here is
installed, and the few hand-written spans talk to OpenTelemetry's no-op API.
"""
