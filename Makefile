# ISP BSS — the two commands a newcomer needs: `make up` (whole system + demo) and `make test` (every test).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install infra infra-down up down test lint schemas asyncapi bench status

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install:  ## install Debian packages, uv and the Python workspace (idempotent)
	@scripts/install.sh

infra: install  ## start local PostgreSQL 15 and Kafka (KRaft) if they are not running
	@deploy/local/postgres.sh start
	@deploy/local/kafka.sh start

infra-down:  ## stop local PostgreSQL and Kafka
	-@deploy/local/kafka.sh stop
	-@deploy/local/postgres.sh stop

# Tests run on TEST_WORKERS processes, a whole file per worker (each worker has its own databases and topic prefix);
# the four whole-stack files run one after the other on one of them (conftest.py); the few that measure speed
# (marked `serial`) run alone afterwards.
TEST_WORKERS ?= 2

test: infra  ## ruff and mypy, then every test against the real broker and database
	@$(MAKE) --no-print-directory lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not serial" --durations=30 $(PYTEST_ARGS)
	$(PY) -m pytest -m serial $(PYTEST_ARGS)

up: infra  ## start every service and the gateway, load the demo ISP, print how to look at it
	@deploy/local/services.sh start
	@$(PY) -m demo.load
	@deploy/local/services.sh banner

down:  ## stop the services, the gateway and the infrastructure
	-@deploy/local/services.sh stop
	@$(MAKE) --no-print-directory infra-down

status:  ## what is running
	-@deploy/local/postgres.sh status
	-@deploy/local/kafka.sh status
	-@deploy/local/services.sh status

lint: install  ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy libs/contracts/src libs/runtime/src libs/testkit/src services/*/src tools/bssctl/src demo deploy/k8s/*.py

schemas: install  ## regenerate the committed JSON Schemas of every event
	$(PY) -m bss_contracts.schemas

asyncapi: install  ## write docs/asyncapi/<service>.yaml from the faststream apps
	@scripts/asyncapi.sh

bench: infra  ## run every benchmark (prints tables, writes bench/results/*.json)
	@bench/run.sh
