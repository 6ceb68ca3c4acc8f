# opskit: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export OPSKIT_WORK_DIR := $(ROOT)
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0
SECRETS := $(ROOT)/.cache/secrets.env
WITH_SECRETS := set -a; source $(SECRETS); set +a;
AGENT_APP_VERSION ?= 1.0.0
WHEEL := build/dist/agent_app-$(AGENT_APP_VERSION)-py3-none-any.whl
APP_SOURCES := $(shell find examples/agent_app/agent_app examples/agent_app/pyproject.toml -type f -not -name '*.pyc' 2>/dev/null)
MOLECULE_SCENARIOS ?= python_service postgresql redis deploy

.PHONY: help setup images hosts hosts-down secrets dist demo deploy observability check-diff healthcheck smoke backup restore drill \
        test lint sanity unit molecule integration test-rules test-infra fuzz bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## Install host packages, Docker engine, Compose v2 and the Python virtualenv
	bash scripts/setup_host.sh

images: setup ## Build the target-host container images (once per machine)
	bash scripts/build_images.sh

hosts: images ## Create the local container hosts of inventories/local
	bash scripts/local_hosts.sh up

hosts-down: ## Remove the local container hosts
	bash scripts/local_hosts.sh down

secrets: ## Generate the local demo secrets once (.cache/secrets.env, mode 0600)
	@bash scripts/secrets.sh $(SECRETS)

dist: $(WHEEL) ## Build the reference service wheel

$(WHEEL): $(APP_SOURCES)
	@mkdir -p build/dist
	AGENT_APP_VERSION=$(AGENT_APP_VERSION) $(VENV)/bin/pip wheel --quiet --no-deps --no-build-isolation \
	  --wheel-dir build/dist examples/agent_app

deploy: secrets dist ## Run playbooks/deploy.yml against inventories/local
	$(WITH_SECRETS) ansible-playbook playbooks/deploy.yml

demo: hosts secrets dist ## Set everything up and deploy the five service groups on local containers
	$(WITH_SECRETS) ansible-playbook playbooks/deploy.yml
	@$(WITH_SECRETS) ansible-playbook playbooks/healthcheck.yml 2>/dev/null | sed -n '/SUMMARY/,$$p' || true
	@echo; echo "Services answer at:"; \
	for h in opskit-el-bot opskit-multi-agent opskit-runtime opskit-dynamic-tools opskit-agent-framework; do \
	  ip=$$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $$h); \
	  echo "  $$h: http://$$ip:8000/health  http://$$ip:8000/metrics"; \
	done; echo "  opskit-agent-framework worker: http://$$ip:8001/health"

observability: hosts secrets ## Prometheus + Alertmanager (native mode) for the local services
	$(WITH_SECRETS) ansible-playbook playbooks/observability.yml

backup: secrets ## Back up every data store of the local hosts (playbooks/backup.yml)
	$(WITH_SECRETS) ansible-playbook playbooks/backup.yml

restore: secrets ## Restore HOSTS (required) from the newest backup set (playbooks/restore.yml)
	@test -n "$(HOSTS)" || { echo "usage: make restore HOSTS=opskit-el-bot"; exit 2; }
	$(WITH_SECRETS) ansible-playbook playbooks/restore.yml -e restore_hosts=$(HOSTS)

drill: secrets ## Restore drill into scratch locations, production untouched (playbooks/restore_drill.yml)
	$(WITH_SECRETS) ansible-playbook playbooks/restore_drill.yml

check-diff: secrets ## Dry run with diff against the local inventory
	$(WITH_SECRETS) ansible-playbook playbooks/deploy.yml --check --diff

healthcheck: secrets ## Run playbooks/healthcheck.yml against inventories/local
	$(WITH_SECRETS) ansible-playbook playbooks/healthcheck.yml

smoke: secrets ## CI smoke test after a deploy: JUnit XML and Markdown in reports/smoke/
	$(WITH_SECRETS) ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.junit,ansible.posix.profile_tasks \
	  JUNIT_OUTPUT_DIR=$(ROOT)/reports/smoke JUNIT_TEST_CASE_PREFIX='opskit.ops.healthcheck : Smoke: ' JUNIT_FAIL_ON_IGNORE=true \
	  JUNIT_HIDE_TASK_ARGUMENTS=true ansible-playbook playbooks/smoke.yml

test: images ## Run the whole test suite (lint, sanity, unit, rules, Molecule, integration)
	bash scripts/run_tests.sh

lint: ## ansible-lint (production profile, offline) and yamllint
	yamllint -s .
	ansible-lint --offline

sanity: ## ansible-test sanity on the collection
	bash scripts/ansible_test.sh sanity

unit: images ## pytest unit tests of modules, filters and the reference service (with real PostgreSQL/Redis)
	eval "$$(bash scripts/test_services.sh up)"; pytest -q tests/unit examples/agent_app/tests; rc=$$?; \
	bash scripts/test_services.sh down; exit $$rc

test-rules: ## promtool unit tests of every alert rule (the rules the role renders)
	bash scripts/test_rules.sh

test-infra: ## infra/bicep: Bicep vs ARM JSON agreement, ARM structure checks, checkov
	bash scripts/test_infra.sh

molecule: images ## Molecule scenarios (MOLECULE_SCENARIOS="a b" to choose)
	for s in $(MOLECULE_SCENARIOS); do molecule test -s $$s || exit 1; done

integration: hosts secrets dist ## Integration tests on the local container hosts
	$(WITH_SECRETS) pytest -q -m integration tests/integration

fuzz: ## Property tests with many random examples (Hypothesis profile fuzz: 5000 a test)
	HYPOTHESIS_PROFILE=fuzz pytest -q -p no:cacheprovider tests/unit/property

bench: ## Run every benchmark side by side with its baseline
	for b in bench/*_vs_*.py; do echo "== $$b"; python $$b; done

clean: hosts-down ## Remove local hosts, build output and caches
	rm -rf build .cache/facts reports
