# streamrec: `make run` starts the service on the embedded default; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export STREAMREC_HOST ?= 127.0.0.1
export STREAMREC_PORT ?= 8080

.PHONY: run test test-sequential lint typecheck pytest bench bench-quality bench-cluster run-cluster stop-cluster servers browser clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev,all]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/streamrec serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

servers: $(STAMP)
	bash scripts/servers/install.sh

browser: $(STAMP)
	bash scripts/install-browser.sh

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck servers browser pytest

# The sequential recipe's training extra (JAX on CPU) and the tests that need it; once installed,
# `make test` runs them too. The stamp keeps `make test` from reinstalling without the extra.
SEQ_STAMP := $(VENV)/.installed-sequential
$(SEQ_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,all,sequential]'
	@touch $(SEQ_STAMP)

test-sequential: $(SEQ_STAMP)
	$(BIN)/pytest -m sequential

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-quality: $(STAMP)
	$(BIN)/python -m benchmarks.quality

run-cluster: servers
	$(BIN)/streamrec cluster run

stop-cluster: $(STAMP)
	$(BIN)/streamrec cluster stop

bench-cluster: servers
	$(BIN)/python -m benchmarks.cluster

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
