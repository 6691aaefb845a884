# Two commands on a fresh Debian machine with Python 3.11: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test check bench system-deps venv format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Debian packages the tests start or drive (redis-server, postgresql, ffmpeg, chromium), when missing.
system-deps:
	@bash scripts/system-deps

run: $(STAMP)
	$(PY) -m livecommerce serve

check: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Tests run in a fresh network namespace with only loopback (see docs/DEVELOPMENT.md).
test: system-deps $(STAMP) check
	bash scripts/loopback-ns $(PY) -m pytest $(PYTEST_ARGS)

## Benchmarks write their figures to docs/BENCHMARKS.md; they are not timed tests.
bench: system-deps $(STAMP)
	bash scripts/loopback-ns $(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
