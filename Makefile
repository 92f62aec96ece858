VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint install install-runtime clean proto bench bench-quick soak

$(VENV)/bin/pip:
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

## Warden and what it needs to run; `make run` installs only this.
$(VENV)/.runtime: pyproject.toml $(VENV)/bin/pip
	$(PIP) install -q -e .
	touch $@

## Everything for development: the runtime plus the test, lint and type-check tools.
$(VENV)/.installed: pyproject.toml $(VENV)/bin/pip
	$(PIP) install -q -e '.[test]'
	touch $@ $(VENV)/.runtime

install-runtime: $(VENV)/.runtime

install: $(VENV)/.installed

## Run Warden in its embedded default: all services in one process, SQLite, in-process bus and cache.
run: install-runtime
	$(VENV)/bin/warden serve --dev

## Run the whole test suite (unit, contract, integration, e2e), one worker per core (pytest-xdist);
## a file's tests stay on one worker, so its module-scoped servers start once.
test: install
	$(VENV)/bin/pytest -q -n auto --dist loadfile

## Every benchmark (bench/all.py: whoami, logins, courier), each against a floor measured in the same
## run, under the lock the benchmarks share so that none overlaps another. ARGS=--quick: a smoke run.
BENCH_LOCK ?= /tmp/warden-bench.lock
bench: install
	flock $(BENCH_LOCK) $(PY) bench/all.py $(ARGS)

bench-quick:
	$(MAKE) bench ARGS=--quick

## bench/soak.py: a mixed load at half the measured capacity, all-in-one then distributed (MINUTES each).
MINUTES ?= 10
soak: install
	flock $(BENCH_LOCK) $(PY) bench/soak.py --minutes $(MINUTES)

## Regenerate the gRPC code (shared/grpc/gen/) from proto/ with grpc_tools.protoc; commit the result.
proto: install
	$(PY) tools/protogen.py

clean:
	rm -rf $(VENV) .pytest_cache

## Lint, format and type checks (ruff; mypy, strict for shared/ and services/); CI runs them before the tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
