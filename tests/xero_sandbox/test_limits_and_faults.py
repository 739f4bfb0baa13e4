"""Rate limits (per tenant, per app for statements, concurrency), their headers, the fault switch
and the call log."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx

from bankfeeds.xero_sandbox.limits import RateLimiter
from tests.fixtures.app import NOW
from tests.xero_sandbox.conftest import Linked

ORG = "Bluebird Cafe LLC"
FEEDS = "/bankfeeds.xro/1.0/FeedConnections"


def test_every_answer_carries_the_limit_headers(linked: Linked) -> None:
    r = linked.get("/api.xro/2.0/Organisation", ORG)
    assert r.headers["X-MinLimit-Remaining"] == "59"
    assert r.headers["X-DayLimit-Remaining"] == "4999"
    assert r.headers["X-AppMinLimit-Remaining"] == "180"
    assert linked.get(FEEDS, ORG).headers["X-MinLimit-Remaining"] == "58"
    # Another tenant has its own budget.
    assert linked.get(FEEDS, "Acme Trading Ltd").headers["X-MinLimit-Remaining"] == "59"


def test_60_calls_a_minute_then_429_with_retry_after(linked: Linked) -> None:
    for _ in range(60):
        assert linked.get(FEEDS, ORG).status_code == 202
    over = linked.get(FEEDS, ORG)
    assert over.status_code == 429
    assert over.headers["X-Rate-Limit-Problem"] == "minute" and over.headers["Retry-After"] == "60"
    assert over.headers["X-MinLimit-Remaining"] == "0"
    assert over.headers["content-type"].startswith("application/problem+json")
    linked.server.clock.advance(timedelta(seconds=59))
    assert linked.get(FEEDS, ORG).status_code == 429
    linked.server.clock.advance(timedelta(seconds=1))
    assert linked.get(FEEDS, ORG).status_code == 202
    calls = linked.server.calls(linked.tenants[ORG])
    answered = [c for c in calls if c["status"] != 429]
    assert len(answered) == 61 and sum(1 for c in calls if c["problem"] == "minute") == 2
    # The log shows no rolling minute with more than 60 answered calls.
    times = sorted(c["at"] for c in answered)
    assert all(times[i + 60] > times[i] for i in range(len(times) - 60))
    linked.server.set_limits(False)
    for _ in range(70):
        assert linked.get(FEEDS, ORG).status_code == 202


def test_day_limit_and_app_statement_limit() -> None:
    limiter = RateLimiter()
    t = NOW
    for i in range(5000):
        assert limiter.acquire("org", "app", t + timedelta(seconds=2 * i), statements=False).problem is None
        limiter.release("org")
    verdict = limiter.acquire("org", "app", t + timedelta(seconds=10000), statements=False)
    assert verdict.problem == "day" and verdict.headers["X-DayLimit-Remaining"] == "0" and verdict.retry_after > 0
    apps = RateLimiter()
    for i in range(180):
        tenant = f"org-{i // 50}"
        assert apps.acquire(tenant, "app", t, statements=True).problem is None
        apps.release(tenant)
    refused = apps.acquire("org-9", "app", t, statements=True)
    assert refused.problem == "appminute" and refused.headers["X-AppMinLimit-Remaining"] == "0"
    assert apps.acquire("org-9", "app", t, statements=False).problem is None


def test_five_calls_in_flight_per_tenant() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        assert limiter.acquire("org", "app", NOW, statements=False).problem is None
    assert limiter.acquire("org", "app", NOW, statements=False).problem == "concurrent"
    limiter.release("org")
    assert limiter.acquire("org", "app", NOW, statements=False).problem is None


def test_concurrency_limit_over_http(linked: Linked) -> None:
    """Twenty parallel calls from several clients: none breaks the limits and all are logged."""
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        with httpx.Client(timeout=30) as c:
            r = c.get(linked.server.api_url + FEEDS, headers=linked.headers(ORG))
        with lock:
            results.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) <= {202, 429} and results.count(202) >= 5
    logged = linked.server.calls(linked.tenants[ORG])
    assert len(logged) == 20 and all(c["problem"] in (None, "concurrent") for c in logged)


def test_faults(linked: Linked) -> None:
    server = linked.server
    server.fault("429", 2, retry_after=7)
    for _ in range(2):
        r = linked.get(FEEDS, ORG)
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert linked.get(FEEDS, ORG).status_code == 202
    server.fault("500", 1, tenant_id=linked.tenants["Acme Trading Ltd"])
    assert linked.get(FEEDS, ORG).status_code == 202  # another tenant's fault
    r = linked.get(FEEDS, "Acme Trading Ltd")
    assert r.status_code == 500 and r.json()["type"] == "internal-error"
    assert linked.get(FEEDS, "Acme Trading Ltd").status_code == 202
    for bad in ({"kind": "404"}, {"kind": "429", "count": 0}, {"kind": "429", "count": "x"},
                {"kind": "500", "tenantId": "nope"}, {"kind": "429", "retryAfter": True}):
        refused = server.http.post(server.base + "/testing/faults", json=bad)
        assert refused.status_code == 400 and refused.headers["content-type"].startswith("application/problem+json")
    assert server.http.post(server.base + "/testing/limits", json={"enabled": "yes"}).status_code == 400
    calls = server.calls()
    assert [c["problem"] for c in calls if c["problem"]] == ["fault", "fault", "fault"]
    assert {"id", "clientId", "tenantId", "method", "path", "status", "problem", "at"} == set(calls[0])
