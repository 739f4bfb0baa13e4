#!/usr/bin/env bash
# Regenerates the single initial migration from the models (nothing has been released yet,
# so the schema lives in one revision). Run after adding or changing a model.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f src/bankfeeds/migrations/versions/2*_*.py
.venv/bin/python -c "
from bankfeeds.kit import migrate
migrate.revision('sqlite:///$tmp/gen.sqlite3', 'initial schema')
"
rm -rf "$tmp"
.venv/bin/ruff format -q src/bankfeeds/migrations/versions/ || true
ls src/bankfeeds/migrations/versions/
