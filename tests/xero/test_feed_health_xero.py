"""Feed health and metrics of a Xero feed, with the hub delivering to the Xero sandbox over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bankfeeds.config import Settings
from bankfeeds.kit.clock import FrozenClock
from bankfeeds.kit.db import Database
from bankfeeds.observability.metrics import REGISTRY
from tests.fixtures.xero_spec import SpecCheck
from tests.xero.helpers import Lanes, XeroFeed, linked_feed, push, txns


@pytest.fixture
def lanes(database: Database, settings: Settings, clock: FrozenClock, spec_check: SpecCheck) -> Iterator[Lanes]:
    lanes = Lanes(database, settings, clock, spec_check)
    yield lanes
    lanes.close()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _health(client: TestClient, f: XeroFeed) -> dict[str, Any]:
    body = client.get(f"/companies/{f.company.id}/connections/{f.connection.id}/feedHealth").json()
    account: dict[str, Any] = body["sourceAccounts"][0]
    return account


def test_delivered_then_rejected_statements(client: TestClient, database: Database, clock: FrozenClock,
                                            settings: Settings, lanes: Lanes,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bankfeeds.worker")
    fed = linked_feed(database, clock, settings, lanes.http)
    delivered_before = _metric("bankfeeds_statements_total", outcome="delivered")
    rejected_before = _metric("bankfeeds_statements_total", outcome="rejected")
    txns_before = _metric("bankfeeds_transactions_delivered_total", platform="gbol")

    push(client, fed, txns(1, 3))
    waiting = _health(client, fed)
    assert waiting["platform"] == "Xero" and waiting["backlog"]["count"] == 3
    assert waiting["lastDeliveredDate"] is None and waiting["daysUntilDisconnection"] is None
    lanes.deliver()
    done = _health(client, fed)
    assert done["backlog"]["count"] == 0 and done["lastDeliveredDate"] is not None
    assert done["lastPush"]["status"] == "Success" and done["needsAttention"] == []
    assert _metric("bankfeeds_statements_total", outcome="delivered") == delivered_before + 1
    assert _metric("bankfeeds_transactions_delivered_total", platform="gbol") == txns_before + 3

    bad = txns(4, 2, opening=Decimal("62.50"))
    bad[1]["balance"] = Decimal("999.00")  # the bank's chain breaks: a warning now, Xero's refusal later
    op = push(client, fed, bad)
    assert [w["validatorName"] for w in op["validation"]["warnings"]] == ["BalanceChain:gap"]
    lanes.deliver()
    refused = _health(client, fed)
    assert refused["lastPush"]["status"] == "Failed"
    assert "statement_rejected" in refused["needsAttention"] and "push_failed" in refused["needsAttention"]
    assert refused["lastError"]["message"].startswith("Xero rejected the statement")
    assert _metric("bankfeeds_statements_total", outcome="rejected") == rejected_before + 1
    settled = [r for r in caplog.records if getattr(r, "job", None) == "deliver_statements"]
    assert [(r.outcome, r.connection_id) for r in settled] == [  # type: ignore[attr-defined]
        ("delivered", str(fed.connection.id)), ("rejected", str(fed.connection.id))]
