VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint install install-test clean proto

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Run Warden in its embedded default: all services in one process, SQLite, in-process bus and cache.
run: install
	$(VENV)/bin/warden serve --dev

## Run the whole test suite (unit, contract, integration, e2e).
test: install
	$(VENV)/bin/pytest -q

## Regenerate the gRPC code (shared/grpc/gen/) from proto/ with grpc_tools.protoc; commit the result.
proto: install
	$(PY) tools/protogen.py

clean:
	rm -rf $(VENV) .pytest_cache

## Lint and format check (ruff); CI runs it before the tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
