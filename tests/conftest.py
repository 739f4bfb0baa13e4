"""Every test runs on a real, migrated database: SQLite by default, PostgreSQL with --db=postgresql.

The schema is migrated once per run; each test starts from empty tables.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.app"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        action="store",
        default=None,
        choices=("sqlite", "postgresql"),
        help="database to test on (default: $BANKFEEDS_TEST_DB or sqlite)",
    )
