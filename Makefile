# STOA developer commands. `make run` and `make test` each set up what they need.

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON := python3.11
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install services lint format typecheck contracts pytest migration clean bench

## Start STOA on the embedded defaults (SQLite, ./.stoa) and print URLs and logins.
run: install
	$(BIN)/stoa up

## Lint, type-check, check import contracts and run every test (SQLite and PostgreSQL).
test: install services lint typecheck contracts pytest

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# NATIVE=0 runs the gateway from its sources instead of compiling it with mypyc.
NATIVE ?= 1

install: $(UV)
	$(UV) sync --frozen --all-extras --quiet
ifeq ($(NATIVE),1)
	$(BIN)/python scripts/build_native.py
else
	$(BIN)/python scripts/build_native.py --clean
endif

services:
	scripts/ensure_services.sh

lint:
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

format:
	$(BIN)/ruff check --fix src tests scripts bench
	$(BIN)/ruff format src tests scripts bench

typecheck:
	$(BIN)/mypy

contracts:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest

## Autogenerate the next migration from the models: make migration m="add foo"
migration: install
	$(BIN)/python scripts/generate_migration.py "$(m)"

## Benchmark the gateway against nginx on loopback (by hand, never from `make test`).
## Options go in ARGS, e.g. make bench ARGS="--duration 20 --workers 2"
bench: install
	$(BIN)/python -m bench $(ARGS)

clean:
	-$(BIN)/python scripts/build_native.py --clean
	rm -rf $(VENV) $(TOOLS) .stoa
