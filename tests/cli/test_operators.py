"""`bankfeeds operators create|list|disable`, run in process (CliRunner) against the test database."""

from __future__ import annotations

import pytest
from click.testing import Result
from sqlalchemy import select

from bankfeeds.cli.main import app
from bankfeeds.kit.db import Database
from bankfeeds.models import Operator, OperatorAudit
from tests.fixtures.app import cli_runner

# The command opens the database on its own engine: the test reads back what it committed.
pytestmark = pytest.mark.committed_database


def bankfeeds(db_url: str, *args: str, stdin: str = "") -> Result:
    with cli_runner(BANKFEEDS_DATABASE_URL=db_url) as runner:
        return runner.invoke(app, list(args), input=stdin)


def test_create_list_disable(db_url: str, database: Database) -> None:
    made = bankfeeds(db_url, "operators", "create", "Dana", "--role", "admin", "--password-stdin",
                     stdin="a long enough password\n")
    assert made.exit_code == 0, made.stderr
    assert "created operator dana (admin)" in made.stdout
    assert bankfeeds(db_url, "operators", "create", "dana", "--password-stdin",
                     stdin="another long password\n").exit_code == 1  # taken
    short = bankfeeds(db_url, "operators", "create", "eve", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "12 to 256" in short.stderr
    bad_role = bankfeeds(db_url, "operators", "create", "eve", "--role", "root", "--password-stdin",
                         stdin="a long enough password\n")
    assert bad_role.exit_code == 1
    listed = bankfeeds(db_url, "operators", "list")
    assert "dana" in listed.stdout and "a long enough password" not in listed.stdout
    assert bankfeeds(db_url, "operators", "disable", "dana").exit_code == 0
    assert bankfeeds(db_url, "operators", "disable", "nobody").exit_code == 1
    with database.unit_of_work() as session:
        [row] = session.scalars(select(Operator)).all()
        assert row.disabled_at is not None and row.password_hash.startswith("$argon2id$")
        actions = [a.action for a in session.scalars(select(OperatorAudit).order_by(OperatorAudit.seq))]
    assert actions == ["operator_create", "operator_disable"]
