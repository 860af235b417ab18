# crx developer entry points. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= var/demo

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## make .venv and install crx with its dev extras

run: $(STAMP) ## start the embedded broker and all services, push the sample feeds (Ctrl-C stops)
	$(BIN)/crx demo --data-dir $(DATA)

test: $(STAMP) ## run the whole test suite (unit + integration on the embedded broker)
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) ## end-to-end and per-stage benchmark on the embedded broker
	$(BIN)/python -m tests.bench.e2e

clean: ## remove the venv, caches and demo data
	rm -rf $(VENV) var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
