# Every target creates or reuses the project's venv: a fresh clone needs nothing but Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The demo and serve need only boto3, Powertools and moto's server: a fresh clone runs the demo
# after a few seconds of installing, and the development toolchain comes with the first test run.
DEMO_INSTALLED := $(VENV)/.installed-demo
CHECKOV_VENV ?= .venv-checkov
TERRAFORM ?= terraform

.DEFAULT_GOAL := help
.PHONY: help install test test-unit test-e2e test-terraform lint fmt docs pre-commit bench scale demo serve \
	security clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(DEMO_INSTALLED): pyproject.toml
	@if [ -e $@ ]; then echo "pyproject.toml changed: updating the demo's dependencies in $(VENV)…"; \
	else echo "Installing the demo's dependencies into $(VENV) (about 15 s, once)…"; fi
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check '.[demo]'
	@touch $@

$(INSTALLED): pyproject.toml
	@if [ -e $@ ]; then echo "pyproject.toml changed: updating $(VENV)…"; \
	else echo "Installing the development dependencies into $(VENV) (about a minute, once)…"; fi
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check '.[dev]'
	@touch $@ $(DEMO_INSTALLED)

install: $(INSTALLED) ## create the venv with the development dependencies

test: $(INSTALLED) ## run every test (unit, Terraform, demo); CI=true forbids skips
	$(BIN)/pytest

test-unit: $(INSTALLED) ## unit tests of the pure logic (seconds)
	$(BIN)/pytest tests/unit

test-e2e: $(INSTALLED) ## the four functions (webhook, submit, watchdog, canceller) end to end against moto, and the local system
	$(BIN)/pytest tests/e2e tests/localdev

test-terraform: $(INSTALLED) ## run the Terraform tests only
	$(BIN)/pytest tests/terraform

lint: $(INSTALLED) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lambda localdev tools

fmt: $(INSTALLED) ## format Python and Terraform
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(TERRAFORM) fmt -recursive

docs: $(INSTALLED) ## regenerate the README's module tables from the .tf files (terraform-docs layout)
	$(BIN)/python -m tools.terraform_docs

pre-commit: $(INSTALLED) ## every pre-commit hook over every file (.pre-commit-config.yaml)
	$(BIN)/pre-commit run --all-files

bench: $(INSTALLED) ## cold start, warm overhead, memory, AWS requests and cost per 1,000 jobs
	$(BIN)/python -m bench.webhook_bench

scale: $(INSTALLED) ## 1,000 and 10,000 jobs on one endpoint against RunPod's limits (about 6 minutes)
	$(BIN)/python -m bench.scale

demo: $(DEMO_INSTALLED) ## RunPod → webhook → Step Functions on this machine, no AWS account
	$(BIN)/python -m localdev.demo

serve: $(DEMO_INSTALLED) ## the local AWS and webhook left running for manual testing (ARGS=--aws ...)
	$(BIN)/python -m localdev.serve $(ARGS)

$(CHECKOV_VENV)/.installed:
	@echo "Creating $(CHECKOV_VENV) and installing checkov (about a minute, once)…"
	@$(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov>=3.2'
	@touch $@

security: $(CHECKOV_VENV)/.installed ## checkov over the module and examples (its own venv)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework terraform -d . \
		--skip-path tests --skip-path .venv

clean: ## remove venvs, caches and Terraform working files
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build
	find . -name __pycache__ -prune -exec rm -rf {} +
	find . -name .terraform -prune -exec rm -rf {} +
