"""`bankfeeds operators create|list|disable`, run as the installed command against the test database."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from bankfeeds.kit.db import Database
from bankfeeds.models import Operator, OperatorAudit
from tests.fixtures.app import TEST_PROCESS_ENV


def bankfeeds(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": db_url, }
    return subprocess.run([sys.executable, "-m", "bankfeeds", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_create_list_disable(db_url: str, database: Database) -> None:
    made = bankfeeds(db_url, "operators", "create", "Dana", "--role", "admin", "--password-stdin",
                     stdin="a long enough password\n")
    assert made.returncode == 0, made.stderr
    assert "created operator dana (admin)" in made.stdout
    assert bankfeeds(db_url, "operators", "create", "dana", "--password-stdin",
                     stdin="another long password\n").returncode == 1  # taken
    short = bankfeeds(db_url, "operators", "create", "eve", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "12 to 256" in short.stderr
    bad_role = bankfeeds(db_url, "operators", "create", "eve", "--role", "root", "--password-stdin",
                         stdin="a long enough password\n")
    assert bad_role.returncode == 1
    listed = bankfeeds(db_url, "operators", "list")
    assert "dana" in listed.stdout and "a long enough password" not in listed.stdout
    assert bankfeeds(db_url, "operators", "disable", "dana").returncode == 0
    assert bankfeeds(db_url, "operators", "disable", "nobody").returncode == 1
    with database.unit_of_work() as session:
        [row] = session.scalars(select(Operator)).all()
        assert row.disabled_at is not None and row.password_hash.startswith("$argon2id$")
        actions = [a.action for a in session.scalars(select(OperatorAudit).order_by(OperatorAudit.seq))]
    assert actions == ["operator_create", "operator_disable"]
