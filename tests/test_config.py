"""The configuration fails closed: development secrets are refused outside development, and the
demo surfaces (the QuickBooks sandbox, the demo bank, their advanceable clock) exist only in demo mode."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import make_settings

REAL = {"secret_key": "a-real-secret", "idx_partner_key": "a-real-partner-key"}


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("missing", ["secret_key", "idx_partner_key"])
def test_every_development_secret_is_refused_outside_development(environment: str, missing: str) -> None:
    values = {**REAL, "environment": environment}
    values.pop(missing)  # left at its development default
    with pytest.raises(ValidationError) as info:
        Settings(**values)  # type: ignore[arg-type]
    assert f"BANKFEEDS_{missing.upper()}" in str(info.value)


def test_an_empty_secret_and_the_development_secret_as_previous_key_are_refused() -> None:
    with pytest.raises(ValidationError, match="BANKFEEDS_IDX_PARTNER_KEY"):
        Settings(environment="production", secret_key="a-real-secret", idx_partner_key=" ")
    with pytest.raises(ValidationError, match="BANKFEEDS_SECRET_KEY_PREVIOUS"):
        Settings(environment="production", secret_key_previous="dev-only-secret-change-me", **REAL)  # type: ignore[arg-type]


def test_development_runs_on_its_defaults_and_real_secrets_run_anywhere() -> None:
    assert Settings(environment="development").environment == "development"
    assert Settings(environment="production", **REAL).environment == "production"  # type: ignore[arg-type]


@pytest.mark.parametrize("environment", ["development", "test"])
def test_demo_surfaces_are_mounted_only_in_demo_mode(
    environment: str, db_url: str, database: Database, clock: FrozenClock
) -> None:
    for demo, expected in ((False, 404), (True, 200)):
        settings = make_settings(db_url, environment=environment, demo=demo)
        with TestClient(create_app(settings, clock=clock, database=database, run_worker=False)) as c:
            assert c.get("/sandbox/qbo").status_code == expected, (environment, demo)
            assert c.get("/demo/bank").status_code in ((404,) if not demo else (200, 303)), (environment, demo)
            assert c.post("/sandbox/qbo/clock/advance").status_code in ((404,) if not demo else (400, 403))


def test_demo_mode_allows_private_webhook_targets(db_url: str) -> None:
    assert not make_settings(db_url).allow_private_webhook_targets
    assert make_settings(db_url, demo=True).allow_private_webhook_targets
    assert make_settings(db_url, webhooks_allow_private_targets=True).allow_private_webhook_targets
