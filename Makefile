# crx developer entry points. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-stamp
STAMP  := $(VENV)/.installed-stamp
DATA   ?= var/demo
UPGRADE ?=
BROKERS ?= 1
SECURE ?=
KAFKA ?=
# make chaos: which brokers, and optionally which faults, how many records, which seed (tools/chaos).
CHAOS_BROKERS ?= embedded,apache
FAULTS ?=
RECORDS ?= 1000
SEED ?=
# The integration tests that also run on Apache Kafka (make test-apache); tests/kafka runs on it in make test.
APACHE_TESTS := tests/integration/test_pipeline.py tests/integration/test_nothing_lost.py \
                tests/integration/test_deployment_keys.py

.DEFAULT_GOAL := help
.PHONY: help install run test test-apache chaos kafka lint lock lock-check deps-latest lxml-matrix bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-12s %s\n", $$1, $$2}'

# The venv holds exactly the lock: a changed lock rebuilds it from nothing, so nothing stale survives.
$(DEPS): requirements/dev.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	touch $(DEPS)

# crx itself, editable, built by the locked setuptools (no build isolation: nothing unlocked is fetched).
$(STAMP): $(DEPS) pyproject.toml
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) ## make .venv from the lock (requirements/dev.txt, hashes checked), then crx itself

run: $(STAMP) ## start the embedded broker and all services, push the sample feeds (Ctrl-C stops); KAFKA=apache
ifeq ($(KAFKA),apache)
	$(BIN)/python -m tools.kafka run --brokers $(BROKERS) -- $(BIN)/crx demo --data-dir $(DATA)
else
	$(BIN)/crx demo --data-dir $(DATA)
endif

test: $(STAMP) ## run the whole test suite (unit + integration on the embedded broker; tests/kafka on Apache Kafka)
	$(BIN)/pytest -q

test-apache: $(STAMP) ## pipeline, nothing-lost and separate-key-store tests again, on a one-node Apache Kafka (Java + Maven)
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
	  echo "CRX_TEST_KAFKA=apache $(BIN)/pytest -q $(APACHE_TESTS)"; CRX_TEST_KAFKA=apache $(BIN)/pytest -q $(APACHE_TESTS); \
	else echo "test-apache: skipped: no java or mvn on PATH (Apache Kafka needs Java 17+ and Maven)"; fi

chaos: $(STAMP) ## fault per row, services as processes, embedded then Apache Kafka (var/chaos); FAULTS=a,b RECORDS=N SEED=N
	$(BIN)/python -m tools.chaos --broker $(CHAOS_BROKERS) --records $(RECORDS) $(if $(FAULTS),--faults $(FAULTS)) \
	  $(if $(SEED),--seed $(SEED)) --out var/chaos

kafka: $(STAMP) ## Apache Kafka (KRaft) on loopback until Ctrl-C; BROKERS=3, SECURE=1 (deploy/kafka's SASL_SSL + ACLs)
	$(BIN)/python -m tools.kafka start --brokers $(BROKERS) $(if $(SECURE),--secure)

lint: $(STAMP) lock-check ## ruff, mypy, and the lock agrees with pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lock: $(STAMP) ## re-lock after editing pyproject.toml; UPGRADE=1 (everything) or UPGRADE=NAME moves pins forward
	tools/lock.sh write $(if $(filter 1,$(UPGRADE)),--upgrade,$(if $(UPGRADE),--upgrade-package $(UPGRADE)))

lock-check: $(STAMP) ## fail when pyproject.toml and requirements/ disagree
	tools/lock.sh check

deps-latest: ## the suite and linters on the newest releases, in a throw-away venv, with what differs from the lock
	PYTHON=$(PYTHON) tools/deps-latest.sh

lxml-matrix: ## the adapter tests on several lxml releases (LXML="6.1.3 6.2.0"), in throw-away venvs
	PYTHON=$(PYTHON) tools/lxml-matrix.sh $(LXML)

bench: $(STAMP) ## end to end, the floor (var/bench/results.json), micro-benches, lookups; KAFKA=apache|both, PROCS=2|1,2
	CRX_BENCH_KAFKA=$(KAFKA) CRX_BENCH_PROCS=$(PROCS) $(BIN)/python -m tests.bench.e2e
	$(BIN)/python -m tests.bench.lookup

clean: ## remove the venv, caches and demo data
	rm -rf $(VENV) var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
