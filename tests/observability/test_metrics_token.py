"""``BANKFEEDS_METRICS_TOKEN``: with it set, /metrics answers only the scraper holding the token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bankfeeds.app import create_app
from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from tests.fixtures.app import make_settings

TOKEN = "scrape-token-0123456789abcdef"


def test_without_the_token_set_metrics_are_open(anon_client: TestClient) -> None:
    r = anon_client.get("/metrics")
    assert r.status_code == 200
    assert any(f.name.startswith("bankfeeds_") for f in text_string_to_metric_families(r.text))


def test_with_the_token_set_only_its_bearer_is_answered(
    database: Database, clock: FrozenClock, settings: Settings
) -> None:
    app = create_app(make_settings(settings.database_url, metrics_token=TOKEN), clock=clock, database=database,
                     run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as scraper:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer"}):
            r = scraper.get("/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert "BANKFEEDS_METRICS_TOKEN" in r.text and "bankfeeds_" not in r.text
        r = scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert any(f.name.startswith("bankfeeds_") for f in text_string_to_metric_families(r.text))
        # The probes stay open: an orchestrator has no token.
        assert scraper.get("/healthz").status_code == 200


def test_a_short_token_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        make_settings(settings.database_url, metrics_token="short")
