# Railguard. `make dev` serves the API locally; `make test` runs every check CI runs.
# Both create .venv with Python 3.13 on first use (pyenv's shim needs PYENV_VERSION to find it).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
PYTHON313 ?= $(shell for candidate in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	  PYENV_VERSION=3.13.0 $$candidate -c 'import sys; assert sys.version_info[:2] == (3, 13)' \
	    >/dev/null 2>&1 && { echo $$candidate; break; }; done)

TEST_WORKERS ?= 2
FUZZ_SECONDS ?= 30
FUZZ_EXAMPLES ?= 100

HOST ?= 127.0.0.1
PORT ?= 3000
AWS_PORT ?= 4566
export HOST PORT AWS_PORT

.PHONY: help dev job plan test lint typecheck cfn-lint unit integration e2e bench openapi lock clean format \
	build package-test validate sam-lock sam-local fuzz fuzz-parsers fuzz-api \
	publish-dashboard screenshots

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# uv installs the hash-locked set in seconds (pip took a minute and a half); uv itself comes first,
# with pip, from its own entry of the same lock.
$(VENV)/.installed: requirements-dev.txt
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found (pyenv install 3.13.0, or PYTHON313=/path/to/python3.13)"; exit 1; }
	@test -x $(PY) || PYENV_VERSION=3.13.0 $(PYTHON313) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet --require-hashes --no-deps \
	  -r <(awk '/^uv==/{p=1} p{print} p&&!/\\$$/{exit}' requirements-dev.txt)
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip install --quiet --python $(PY) \
	  --require-hashes --no-deps -r requirements-dev.txt
	@touch $@

dev: $(VENV)/.installed ## Serve the API at http://$HOST:$PORT with the embedded AWS emulator
	$(PY) -m infra.local

sam-local: $(VENV)/.installed $(SAM_VENV)/.installed ## The AWS emulator for `sam local start-api` (Docker/Finch): writes .aws-sam/local/env.json, prints the commands (AWS_HOST, AWS_PORT, SAM_AWS_HOST)
	$(PY) -m infra.local.sam

job: $(VENV)/.installed ## Run one scheduled job once (NAME=expiry|rotation|retention|anchor|usage [DETAIL=json]) against the local stack
	@test -n "$(NAME)" || { echo "usage: make job NAME=expiry|rotation|retention|anchor|usage [DETAIL='{...}']"; exit 2; }
	$(PY) -m infra.local.job $(NAME) --detail '$(or $(DETAIL),{})'

plan: $(VENV)/.installed ## Move a workspace to another plan, as the operator (WORKSPACE=ws_... PLAN=free|starter|pro|enterprise), against the local stack
	@test -n "$(WORKSPACE)" -a -n "$(PLAN)" || { echo "usage: make plan WORKSPACE=ws_... PLAN=free|starter|pro|enterprise"; exit 2; }
	$(PY) -m infra.local.job plan --detail '{"workspace_id": "$(WORKSPACE)", "plan": "$(PLAN)"}'

$(SAM_VENV)/.installed: infra/build/requirements-sam.txt $(VENV)/.installed
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found (pyenv install 3.13.0, or PYTHON313=/path/to/python3.13)"; exit 1; }
	@test -x $(SAM_VENV)/bin/python || PYENV_VERSION=3.13.0 $(PYTHON313) -m venv --without-pip $(SAM_VENV)
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip install --quiet --python $(SAM_VENV)/bin/python \
	  --require-hashes --no-deps -r infra/build/requirements-sam.txt
	@touch $@

# The packaging tier's `sam build`s (minutes when cold, mostly waiting on pip) start first, in the
# background, and overlap the checks and the CPU-bound tiers; its tests wait for them (a lock)
# and find them current. The tiers run on two workers (`-n 2 --dist loadgroup`; tests/conftest.py
# groups what shares an emulator). `make bench --quick`'s run is tests/e2e/test_bench.py.
test: $(VENV)/.installed $(SAM_VENV)/.installed ## ruff, mypy, cfn-lint, then every test tier on 2 workers (packaging builds early, in the background)
	@mkdir -p .aws-sam
	@$(PY) -m infra.build --if-stale > .aws-sam/test-build.log 2>&1 & build=$$!; \
	  { $(LINT) && $(TYPECHECK) && $(CFN_LINT) && $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup; }; \
	  status=$$?; \
	  if [ $$status -ne 0 ]; then kill $$build 2>/dev/null; fi; \
	  wait $$build || echo "the early build failed or was stopped: .aws-sam/test-build.log"; \
	  exit $$status

# One line each, so that `make test` runs them in the shell that started the build (and `make -n`
# runs nothing: a recursive $(MAKE) line would run even then).
LINT = $(VENV)/bin/ruff format --check . && $(VENV)/bin/ruff check .
TYPECHECK = $(VENV)/bin/mypy
CFN_LINT = $(VENV)/bin/cfn-lint template.yaml

lint: $(VENV)/.installed ## ruff format --check and ruff check
	$(LINT)

format: $(VENV)/.installed ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(VENV)/.installed ## mypy --strict on the layer, functions, infra, benchmarks, fuzz and tests
	$(TYPECHECK)

cfn-lint: $(VENV)/.installed ## Lint template.yaml
	$(CFN_LINT)

unit: $(VENV)/.installed ## Unit tests only (no network)
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed ## Handler tests over moto (2 workers)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup tests/integration

e2e: $(VENV)/.installed ## HTTP tests against local stacks the tests start, and the quick bench (2 workers)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup tests/e2e

publish-dashboard: $(VENV)/.installed ## Upload dashboard/ to a deployed stack's bucket (STACK=railguard-dev; AWS credentials from the environment)
	$(PY) -m infra.publish_dashboard --stack-name $(or $(STACK),railguard-dev)

# The screens the README shows (docs/screenshots), at 1440 and 360 pixels.
README_SCREENSHOTS := login keys-secret keys-create-error account-recovery-codes members-as-user audit
screenshots: $(VENV)/.installed ## Run the browser tests (every screen at both widths into .screenshots/) and copy the README's into docs/screenshots
	$(PY) -m pytest -p no:xdist tests/e2e/browser
	@mkdir -p docs/screenshots
	for name in $(README_SCREENSHOTS); do cp .screenshots/$$name-desktop.png .screenshots/$$name-phone.png docs/screenshots/; done

build: $(VENV)/.installed $(SAM_VENV)/.installed ## sam build: arm64 (.aws-sam/build) and this machine's (.aws-sam/host/build); sizes
	$(PY) -m infra.build
	$(PY) -m infra.build.sizes

package-test: $(VENV)/.installed $(SAM_VENV)/.installed ## Build if stale, then import every handler from the built artifacts alone
	$(PY) -m pytest tests/packaging

# `sam validate --lint` reads the template before the SAM transform; the deploy rehearsal
# (tests/deploy, also in `make test`) expands it for each samconfig stage and lints the result.
validate: $(VENV)/.installed $(SAM_VENV)/.installed ## sam validate --lint, then the deploy rehearsal: the template expanded for each stage, linted and checked (offline)
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint
	$(PY) -m pytest -p no:xdist tests/deploy

fuzz: fuzz-parsers fuzz-api ## Both fuzzers, longer than make test runs them (FUZZ_SECONDS, FUZZ_EXAMPLES)

fuzz-parsers: $(VENV)/.installed ## atheris on the parsers of attacker input, FUZZ_SECONDS each (TARGET=name for one)
	PYTHONPATH=layers/security:. $(PY) -m fuzz.parsers --seconds $(FUZZ_SECONDS) $(if $(TARGET),--target $(TARGET))

fuzz-api: $(VENV)/.installed ## schemathesis on every operation against a local stack of its own (FUZZ_EXAMPLES each)
	$(PY) -m fuzz.api --examples $(FUZZ_EXAMPLES)

bench: $(VENV)/.installed ## Measure the authorizer and rate limits; write benchmarks/results.json and the README's table; exit 1 if a goal is missed (BENCH_ARGS=--quick: a fast run that writes and checks nothing)
	PYTHONPATH=layers/security:. $(PY) -m benchmarks.run $(BENCH_ARGS)

openapi: $(VENV)/.installed ## Regenerate functions/docs/openapi.json from the functions
	PYTHONPATH=layers/security $(PY) -m infra.openapi --write

lock: $(VENV)/.installed ## Re-resolve and hash-lock the dependencies in pyproject.toml
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile pyproject.toml --python $(PY) \
	  --generate-hashes --quiet -o layers/security/requirements.txt
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile pyproject.toml --extra dev --python $(PY) \
	  --generate-hashes --quiet -o requirements-dev.txt

sam-lock: $(VENV)/.installed ## Re-resolve and hash-lock the SAM CLI (infra/build/requirements-sam.in)
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile infra/build/requirements-sam.in --python $(PY) \
	  --generate-hashes --quiet -o infra/build/requirements-sam.txt

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
