"""The Grafana dashboard and the Prometheus alert rules in deploy/ only use series /metrics serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERIES = re.compile(r"\bbankfeeds_[a-z_]+\b")


def served_names(client: TestClient) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        names.update(sample.name for sample in family.samples)
    return names


def test_dashboard_and_alerts_use_served_series(client: TestClient) -> None:
    client.get("/companies")  # one request, so the HTTP series exist
    served = served_names(client)
    dashboard = json.loads((DEPLOY / "grafana" / "bankfeeds.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {name for e in exprs for name in SERIES.findall(e)}
    assert used - served == set()
    # Every signal the issue names has a panel and at least one alert or panel.
    for name in ("bankfeeds_http_requests_total", "bankfeeds_http_request_duration_seconds_bucket",
                 "bankfeeds_transactions_accepted_total", "bankfeeds_transactions_delivered_total",
                 "bankfeeds_idx_pulls_total", "bankfeeds_statements_total", "bankfeeds_webhook_deliveries_total",
                 "bankfeeds_webhook_queue_depth", "bankfeeds_worker_lag_seconds", "bankfeeds_backlog_transactions"):
        assert name in used, name
