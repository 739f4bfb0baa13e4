"""`bankfeeds api-keys create|list|revoke`, run as the installed command against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from fastapi.testclient import TestClient

from tests.fixtures.app import TEST_PROCESS_ENV, basic


def bankfeeds(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEST_PROCESS_ENV, "BANKFEEDS_DATABASE_URL": db_url,
           "BANKFEEDS_SECRET_KEY": "cli-test-secret", "BANKFEEDS_IDX_PARTNER_KEY": "cli-test-partner-key"}
    return subprocess.run(
        [sys.executable, "-m", "bankfeeds", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_create_list_revoke(db_url: str, anon_client: TestClient) -> None:
    created = bankfeeds(db_url, "api-keys", "create", "--name", "ops-team")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    key = lines[-1]
    # Scripts take the key from the last line: it is alone there, and nothing else went to stdout.
    assert lines == [key] and " " not in key and len(key) >= 32

    assert anon_client.get("/companies", headers={"Authorization": basic(key)}).status_code == 200

    listed = bankfeeds(db_url, "api-keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ops-team" in listed.stdout and key not in listed.stdout  # never the key itself
    key_id = next(w for w in created.stderr.split() if _is_uuid(w))

    revoked = bankfeeds(db_url, "api-keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    r = anon_client.get("/companies", headers={"Authorization": basic(key)})
    assert r.status_code == 401 and r.json()["statusCode"] == 401

    unknown = bankfeeds(db_url, "api-keys", "revoke", str(uuid.uuid4()))
    assert unknown.returncode != 0


def _is_uuid(word: str) -> bool:
    try:
        uuid.UUID(word)
    except ValueError:
        return False
    return True
