# Two commands for a fresh clone: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run emulator host demo test lint typecheck format bench clean az

# The venv is rebuilt when a requirements file changes; npm packages when the lock file does.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

# The real Azure CLI, in its own venv (a developer tool like Core Tools, never a runtime requirement):
# about 100 s and 730 MB. `python -m localdev az` and the az tests find it in $(AZ_VENV)/bin.
AZ_VENV := .venv-az
AZ_VERSION := 2.91.0
$(AZ_VENV)/.installed-$(AZ_VERSION):
	test -x $(AZ_VENV)/bin/python || $(PYTHON) -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AZ_VENV)/bin/python -m pip install --quiet azure-cli==$(AZ_VERSION)
	touch $@

az: $(AZ_VENV)/.installed-$(AZ_VERSION)

# The whole local stack: Azurite, the emulator, then `func start` (or the dev host without Core Tools).
# Ports: `make run PORT=7072 EMULATOR_PORT=0 STORAGE_PORT=0` (0: any free port). Only the command line
# sets them (a PORT in your environment is not taken); `make demo` then finds the stack by itself.
PORT := 7071
EMULATOR_PORT := 8443
STORAGE_PORT := 10000
run: setup
	$(PY) -m localdev up --port $(PORT) --emulator-port $(EMULATOR_PORT) --storage-port $(STORAGE_PORT)

emulator: setup
	$(PY) -m emulator

host: setup
	$(PY) -m localdev host

# Every pattern, allowed and refused, against the stack `make run` started.
demo: setup
	$(PY) -m localdev demo

# pytest runs test files in TEST_WORKERS processes, each file whole in one worker (--dist loadfile:
# module fixtures such as a stack or a signed-in az are built once). More workers than cores on purpose:
# most of the suite's time is spent waiting on the processes it starts (stacks, az, make run).
# `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS := 4
test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory typecheck

# Types: --strict for what Azure runs and people copy (everything .funcignore lets deploy; a test keeps
# this list complete), mypy's default mode for the dev tools, benchmarks and tests.
DEPLOYED := function_app.py openapi_document.py appsettings web auth outbound notification_api caller_app obo_proxy
typecheck: $(VENV)/.installed  # the Python tools only: no npm install for a type check
	$(PY) -m mypy --strict --cache-dir .mypy_cache/strict $(DEPLOYED)
	$(PY) -m mypy --cache-dir .mypy_cache/default emulator localdev bench infra/package.py tests

# Apply the formatter (make test fails on unformatted code).
format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: setup
	$(PY) bench/emulator_tokens.py
	$(PY) bench/host_overhead.py
	$(PY) bench/auth_validation.py
	$(PY) bench/api_guard.py
	$(PY) bench/caller.py
	$(PY) bench/obo.py
	$(PY) bench/portal_imports.py
	$(PY) bench/key_rollover.py

clean:
	rm -rf $(VENV) .venv-worker $(AZ_VENV) node_modules .emulator .azurite .pytest_cache .ruff_cache .mypy_cache .azure-cli
