# Two commands on a fresh Debian machine with Python 3.11: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
PYTEST_ARGS ?=

.PHONY: run test check bench soak lock system-deps venv format clean cluster

## Exactly the locked versions (hashes checked), then the project itself without resolving again.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

## Debian packages the tests start or drive (redis-server, postgresql, ffmpeg, chromium), when missing.
system-deps:
	@bash scripts/system-deps

run: $(STAMP)
	$(PY) -m livecommerce serve

## nginx + three nodes + a Redis Cluster + PostgreSQL on loopback (scripts/cluster down stops it).
cluster: system-deps $(STAMP)
	PY=$(PY) bash scripts/cluster up

## Re-resolve requirements.lock after changing pyproject.toml (UPGRADE=1 moves every pin).
lock: $(STAMP)
	bash scripts/lock

check: $(STAMP)
	$(PY) scripts/lock-check
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Tests run in a fresh network namespace with only loopback (see docs/DEVELOPMENT.md); tests
## marked `long` run in a second pytest process beside the rest (scripts/test).
test: system-deps $(STAMP) check
	PY=$(PY) bash scripts/test $(PYTEST_ARGS)

## Benchmarks write their figures to docs/BENCHMARKS.md; they are not timed tests.
bench: system-deps $(STAMP)
	bash scripts/loopback-ns $(PY) -m bench

## The N tier of the reliability battery (docs/RELIABILITY.md): long, large; writes its figures.
soak: system-deps $(STAMP)
	PY=$(PY) bash scripts/soak

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
