# syntax=docker/dockerfile:1
#
# One image for every Warden service; the arguments choose what it runs:
#   docker run warden                        all four services in one process (dev: SQLite, no broker)
#   docker run warden serve identity -c …    one service (identity, selfservice, session, courier)
#   docker run warden migrate -c …           every service's migrations, then exit
#
# The builder stage installs Warden and its pinned dependencies into a virtualenv; the final stage
# is python:3.11-slim with that virtualenv and nothing else: no compiler, no pip cache, no sources.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/warden
WORKDIR /src

# Dependencies first, from the pins in pyproject.toml, so that a source change reuses this layer.
# Every pinned dependency ships manylinux wheels for CPython 3.11, so no compiler is needed here either.
COPY pyproject.toml README*.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
 && /opt/warden/bin/pip install --requirement requirements.txt

# Then Warden itself, as a wheel (not editable): the final stage gets no source tree. pip compiles
# the bytecode here, since the final image's root filesystem is read-only under Kubernetes. The
# virtualenv's own pip and setuptools are build tools: they stay behind.
COPY warden ./warden
COPY shared ./shared
COPY services ./services
RUN /opt/warden/bin/pip install --no-deps . \
 && /opt/warden/bin/pip uninstall --yes pip setuptools


FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="warden" \
      org.opencontainers.image.description="Identity server speaking the Ory Kratos HTTP API" \
      org.opencontainers.image.licenses="Apache-2.0"

# A numeric user, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 warden \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/warden \
        --shell /usr/sbin/nologin warden \
 && install --directory --owner 10001 --group 10001 --mode 0750 /var/lib/warden

COPY --from=builder /opt/warden /opt/warden

ENV PATH=/opt/warden/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# `warden serve` with no config keeps its SQLite file and outbox folder in the working directory.
WORKDIR /var/lib/warden
USER 10001:10001
EXPOSE 4433 4434

# No curl in slim: Python's own urllib asks the admin port (SERVE_ADMIN_PORT if set) whether the
# process is alive; any error or non-2xx answer raises, and the exit code is 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/alive' % os.environ.get('SERVE_ADMIN_PORT', '4434'), timeout=4)"]

ENTRYPOINT ["warden"]
CMD ["serve"]
