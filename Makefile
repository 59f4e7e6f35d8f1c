# Every target installs what it needs: a venv with pinned packages, and the pinned CDK CLI.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test pr lint typecheck bench synth deploy lambda-python destroy openapi openapi-check replay fuzz load lock compile-locks clean

help:
	@echo "make run      - local stack: DynamoDB Local (Java 17+, else moto) + provider simulator + API on http://127.0.0.1:3000"
	@echo "make test     - every gate: ruff, mypy, OpenAPI drift, then the full test suite (what .ci/run runs)"
	@echo "make pr       - every gate: lint, typecheck, OpenAPI drift, tests"
	@echo "make bench    - benchmark table (round trips, cold start, warm latency, HTTP load)"
	@echo "make synth    - cdk synth (offline, no credentials)"
	@echo "make deploy   - cdk deploy --all (needs AWS credentials)"
	@echo "make replay   - replay events/*.json through the handlers in-process"
	@echo "make fuzz     - longer property/fuzz runs than the test suite does"
	@echo "make lock     - regenerate requirements/*.txt (hashed locks) from pyproject.toml with uv"

$(STAMP): requirements/runtime.txt requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.txt
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
	npm ci --no-audit --no-fund --loglevel=error
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
	$(BIN)/mypy shared functions infra app.py
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
	$(BIN)/mypy shared functions infra app.py

openapi: $(STAMP)
	$(BIN)/python -m infra.openapi --write

openapi-check: $(STAMP)
	$(BIN)/python -m infra.openapi --check

pr: test  # test runs every gate

bench: $(STAMP)
	$(BIN)/python -m tests.bench $(ARGS)

replay: $(STAMP)
	$(BIN)/python -m infra.local_stack.replay $(ARGS)

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/python -m pytest tests -m "not cdk" -k "fuzz or property or schemathesis" $(ARGS)

# The deployment package ships bytecode compiled by the Lambda runtime's Python (infra/bundling.py,
# LAMBDA_PYTHON): when this machine has none, uv installs one (skipped with skip_bundling=true).
LAMBDA_PYTHON = $(shell sed -n 's/^LAMBDA_PYTHON = "\([0-9.]*\)".*/\1/p' infra/bundling.py)
lambda-python: $(STAMP)
	@case "$(ARGS)" in *skip_bundling=true*) ;; *) \
	  python$(LAMBDA_PYTHON) -c "" >/dev/null 2>&1 || $(UV) python find --no-project $(LAMBDA_PYTHON) >/dev/null 2>&1 \
	  || { echo "Installing Python $(LAMBDA_PYTHON) (uv) to compile the Lambda package's bytecode"; $(UV) python install $(LAMBDA_PYTHON); } ;; esac

synth: $(STAMP) $(CDK) lambda-python
	$(CDK) synth --quiet $(ARGS)

deploy: $(STAMP) $(CDK) lambda-python
	$(CDK) deploy --all $(ARGS)

destroy: $(STAMP) $(CDK)
	$(CDK) destroy --all $(ARGS)

load: $(STAMP)
	$(BIN)/python -m shared.importer $(ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache
