# bankfeeds: `make help` lists every target.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BANKFEEDS := $(VENV)/bin/bankfeeds
STAMP := $(VENV)/.installed
# `make run PORT=8123` serves on another port. The database lives in $$BANKFEEDS_HOME (default ./var/).
PORT ?= 8000
HOST ?= 127.0.0.1

.DEFAULT_GOAL := help
.PHONY: help install run reset-demo test test-sqlite test-postgresql lint typecheck migrate check-migrations bench image image-smoke deploy-check clean

help: ## List every target
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install bankfeeds with its dev tools

run: ## Serve the hub with the demo on 127.0.0.1:$$PORT (8000): migrates var/, prints an API key and the URLs
	@python3 scripts/port_free.py $(HOST) $(PORT)
	@$(MAKE) --no-print-directory --quiet install
	@$(PY) -m bankfeeds.cli.quickstart --host $(HOST) --port $(PORT)

reset-demo: install ## Delete the demo's database (var/bankfeeds.sqlite3): the next `make run` starts afresh
	@$(PY) -m bankfeeds.cli.quickstart --reset --host $(HOST) --port $(PORT)

test: install ## The whole suite: on SQLite, then on PostgreSQL when reachable (required when CI=true)
	$(PY) scripts/run_tests.py

test-sqlite: install ## The suite on SQLite only
	$(PY) -m pytest --db=sqlite $(ARGS)

test-postgresql: install ## The suite on PostgreSQL only (127.0.0.1:5432, user postgres)
	$(PY) -m pytest --db=postgresql $(ARGS)

lint: install ## ruff
	$(VENV)/bin/ruff check src tests bench scripts deploy

typecheck: install ## mypy (strict)
	$(VENV)/bin/mypy

migrate: install ## Apply migrations to $$BANKFEEDS_DATABASE_URL (the demo surfaces' tables only with BANKFEEDS_DEMO=true)
	$(BANKFEEDS) db upgrade

check-migrations: install ## alembic check on SQLite and PostgreSQL: models and migrations agree
	$(PY) scripts/check_migrations.py

bench: install ## Benchmarks (bench/): small pushes vs the framework floor, batch write rate vs the raw driver, IDX pulls, webhooks
	$(PY) -m bench

image: ## Build the OCI image localhost/bankfeeds (root; buildah + mmdebstrap, installed if missing)
	bash deploy/build-image.sh

image-smoke: install ## Run the image (buildah run) against local PostgreSQL: migrate once, 2 serve + 1 worker, a journey
	BANKFEEDS_IMAGE_SMOKE=1 $(PY) -m pytest --db=postgresql -q tests/deploy/test_image_smoke.py $(ARGS)

deploy-check: install ## Validate deploy/compose.yaml and deploy/k8s/ (YAML, Kubernetes schemas, compose config)
	$(PY) deploy/validate.py

clean: ## Remove the virtualenv, the local database and caches
	rm -rf $(VENV) var/*.sqlite3* .mypy_cache .ruff_cache test-results
