"""`bankfeeds api-keys create|list|revoke`, run in process (CliRunner) against the test database."""

from __future__ import annotations

import uuid

import pytest
from click.testing import Result
from fastapi.testclient import TestClient

from bankfeeds.cli.main import app
from tests.fixtures.app import basic, cli_runner

# The command opens the database on its own engine: what it writes must be committed for the app to see.
pytestmark = pytest.mark.committed_database


def bankfeeds(db_url: str, *args: str) -> Result:
    with cli_runner(BANKFEEDS_DATABASE_URL=db_url, BANKFEEDS_SECRET_KEY="cli-test-secret",
                    BANKFEEDS_IDX_PARTNER_KEY="cli-test-partner-key") as runner:
        return runner.invoke(app, list(args))


def test_create_list_revoke(db_url: str, anon_client: TestClient) -> None:
    created = bankfeeds(db_url, "api-keys", "create", "--name", "ops-team")
    assert created.exit_code == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    key = lines[-1]
    # Scripts take the key from the last line: it is alone there, and nothing else went to stdout.
    assert lines == [key] and " " not in key and len(key) >= 32

    assert anon_client.get("/companies", headers={"Authorization": basic(key)}).status_code == 200

    listed = bankfeeds(db_url, "api-keys", "list")
    assert listed.exit_code == 0, listed.stderr
    assert "ops-team" in listed.stdout and key not in listed.stdout  # never the key itself
    key_id = next(w for w in created.stderr.split() if _is_uuid(w))

    revoked = bankfeeds(db_url, "api-keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.stderr
    r = anon_client.get("/companies", headers={"Authorization": basic(key)})
    assert r.status_code == 401 and r.json()["statusCode"] == 401

    unknown = bankfeeds(db_url, "api-keys", "revoke", str(uuid.uuid4()))
    assert unknown.exit_code != 0


def _is_uuid(word: str) -> bool:
    try:
        uuid.UUID(word)
    except ValueError:
        return False
    return True
