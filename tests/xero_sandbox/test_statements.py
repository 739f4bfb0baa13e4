"""Statements: every rule, duplicates, idempotency, lazy processing PENDING -> DELIVERED/REJECTED."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from tests.xero_sandbox.conftest import Linked

FEEDS = "/bankfeeds.xro/1.0/FeedConnections"
STATEMENTS = "/bankfeeds.xro/1.0/Statements"
TODAY = date(2026, 11, 24)
ORG = "Bluebird Cafe LLC"


@pytest.fixture
def feed_id(linked: Linked) -> str:
    r = linked.post(FEEDS, {"items": [{"accountToken": "chk", "accountNumber": "482100007315",
                                       "accountName": "Checking", "accountType": "BANK", "currency": "USD"}]}, ORG)
    fid = str(r.json()["items"][0]["id"])
    assert linked.get(f"{FEEDS}/{fid}", ORG).status_code == 200
    return fid


def line(txn: str | None, amount: Any, indicator: str = "CREDIT", day: date = TODAY, **extra: Any) -> dict[str, Any]:
    out = {"postedDate": day.isoformat(), "description": f"Line {txn}", "amount": amount,
           "creditDebitIndicator": indicator, "payeeName": "Blue Bottle", "reference": "INV-1",
           "transactionType": "Refund", **extra}
    if txn is not None:
        out["transactionId"] = txn
    return out


def statement(feed_id: str, start: Any, end: Any, lines: list[dict[str, Any]], *, start_date: date = TODAY,
              end_date: date = TODAY, start_ind: str = "CREDIT", end_ind: str = "CREDIT") -> dict[str, Any]:
    return {"items": [{"feedConnectionId": feed_id, "startDate": start_date.isoformat(),
                       "endDate": end_date.isoformat(),
                       "startBalance": {"amount": start, "creditDebitIndicator": start_ind},
                       "endBalance": {"amount": end, "creditDebitIndicator": end_ind},
                       "statementLines": lines}]}


def test_statement_is_pending_then_delivered_when_read(linked: Linked, feed_id: str) -> None:
    r = linked.post(STATEMENTS, statement(feed_id, "100", 150.25, [line("t1", "50.25")]), ORG)
    assert r.status_code == 202, r.text
    item = r.json()["items"][0]
    assert item["status"] == "PENDING" and item["feedConnectionId"] == feed_id
    got = linked.get(f"{STATEMENTS}/{item['id']}", ORG)
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "DELIVERED" and body["statementLineCount"] == 1
    assert '"amount":150.2500' in got.text and '"amount":100.0000' in got.text  # 4 decimals, as Xero answers
    assert body["statementLines"][0]["transactionId"] == "t1"
    listed = linked.get(STATEMENTS, ORG).json()
    assert listed["items"][0]["id"] == item["id"] and "statementLines" not in listed["items"][0]
    assert listed["pagination"]["itemCount"] == 1


def test_processing_waits_for_the_delay(linked: Linked, feed_id: str) -> None:
    linked.server.sandbox.processing_delay = timedelta(seconds=30)
    sid = linked.post(STATEMENTS, statement(feed_id, 0, 5, [line("d1", 5)]), ORG).json()["items"][0]["id"]
    assert linked.get(f"{STATEMENTS}/{sid}", ORG).json()["status"] == "PENDING"
    linked.server.clock.advance(timedelta(seconds=30))
    assert linked.get(STATEMENTS, ORG).json()["items"][0]["status"] == "DELIVERED"


def test_balance_and_signs_from_the_customers_view(linked: Linked, feed_id: str) -> None:
    # 10 CREDIT - 25 (DEBIT line) = 15 DEBIT (overdrawn).
    ok = linked.post(STATEMENTS, statement(feed_id, "10", "15", [line("s1", "25", "DEBIT")], end_ind="DEBIT"), ORG)
    assert ok.status_code == 202
    bad = linked.post(STATEMENTS, statement(feed_id, "10", "15", [line("s2", "25", "DEBIT")]), ORG)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json() == {"type": "invalid-end-balance", "title": "Invalid End Balance", "status": 422,
                          "detail": "End balance does not match start balance +/- statement line amounts."}


@pytest.mark.parametrize(("start_date", "end_date", "problem"), [
    (TODAY, TODAY - timedelta(days=1), "invalid-start-and-end-date"),
    (date(2025, 11, 23), TODAY, "invalid-start-date"),
    (TODAY, TODAY + timedelta(days=1), "invalid-end-date"),
])
def test_date_rules(linked: Linked, feed_id: str, start_date: date, end_date: date, problem: str) -> None:
    r = linked.post(STATEMENTS, statement(feed_id, 1, 1, [], start_date=start_date, end_date=end_date), ORG)
    assert r.status_code == 422 and r.json()["type"] == problem


def test_one_year_back_is_allowed(linked: Linked, feed_id: str) -> None:
    r = linked.post(STATEMENTS, statement(feed_id, 1, 1, [], start_date=date(2025, 11, 24)), ORG)
    assert r.status_code == 202


@pytest.mark.parametrize(("field", "limit"), [("description", 2000), ("payeeName", 255), ("reference", 255),
                                              ("chequeNumber", 20), ("transactionType", 30)])
def test_length_limits(linked: Linked, feed_id: str, field: str, limit: int) -> None:
    fits = linked.post(STATEMENTS, statement(feed_id, 0, 1, [line(f"len-{field}", 1, **{field: "x" * limit})]), ORG)
    assert fits.status_code == 202
    too_long = linked.post(STATEMENTS, statement(feed_id, 0, 1, [line("z", 1, **{field: "x" * (limit + 1)})]), ORG)
    assert too_long.status_code == 400 and too_long.json()["type"] == "invalid-request"
    assert str(limit) in too_long.json()["detail"]


@pytest.mark.parametrize("broken", [
    {"startBalance": None}, {"feedConnectionId": "nope"}, {"startDate": "24/11/2026"},
    {"statementLines": [{"postedDate": "2026-11-24", "amount": "-1", "creditDebitIndicator": "CREDIT"}]},
    {"statementLines": [{"postedDate": "2026-11-24", "amount": "abc", "creditDebitIndicator": "CREDIT"}]},
    {"statementLines": [{"postedDate": "2026-11-24", "amount": 1.00001, "creditDebitIndicator": "CREDIT"}]},
    {"statementLines": [{"postedDate": "2026-11-24", "amount": 1, "creditDebitIndicator": "SIDEWAYS"}]},
    {"statementLines": "x"},
])
def test_malformed_statements_are_400(linked: Linked, feed_id: str, broken: dict[str, Any]) -> None:
    body = statement(feed_id, 0, 1, [line("m", 1)])
    body["items"][0].update(broken)
    r = linked.post(STATEMENTS, body, ORG)
    assert r.status_code == 400 and r.json()["type"] == "invalid-request", r.text


def test_unknown_or_foreign_feed_is_403(linked: Linked, feed_id: str) -> None:
    r = linked.post(STATEMENTS, statement("00000000-0000-0000-0000-000000000001", 0, 0, []), ORG)
    assert r.status_code == 403 and r.json()["type"] == "invalid-feed-connection"
    foreign = linked.post(STATEMENTS, statement(feed_id, 0, 0, []), "Acme Trading Ltd")
    assert foreign.status_code == 403


def test_body_over_3_mb_is_413(linked: Linked, feed_id: str) -> None:
    lines = [line(f"big-{i}", 1, description="d" * 1999) for i in range(1600)]
    r = linked.post(STATEMENTS, statement(feed_id, 0, 1600, lines), ORG)
    assert r.status_code == 413 and r.json()["title"] == "Request too large"


def test_duplicates(linked: Linked, feed_id: str) -> None:
    first = statement(feed_id, 0, 30, [line("a", 10), line("b", 20)])
    assert linked.post(STATEMENTS, first, ORG).status_code == 202
    again = linked.post(STATEMENTS, first, ORG)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    item = again.json()["items"][0]
    assert item["status"] == "REJECTED" and item["errors"][0]["type"] == "duplicate-statement"
    kept = linked.get(f"{STATEMENTS}/{item['id']}", ORG).json()  # listed REJECTED, as Xero's example shows
    assert kept["status"] == "REJECTED" and kept["errors"][0]["type"] == "duplicate-statement"
    assert kept["statementLines"] == []
    # Every line seen before, in a different statement: a duplicate too.
    same_lines = statement(feed_id, 30, 60, [line("a", 10), line("b", 20)])
    assert linked.post(STATEMENTS, same_lines, ORG).status_code == 409
    # Some new lines: accepted, the known ones dropped.
    mixed = statement(feed_id, 30, 60, [line("b", 20), line("c", 5), line("c", 5, description="twice")])
    r = linked.post(STATEMENTS, mixed, ORG)
    assert r.status_code == 202
    got = linked.get(f"{STATEMENTS}/{r.json()['items'][0]['id']}", ORG).json()
    assert [ln["transactionId"] for ln in got["statementLines"]] == ["c"] and got["statementLineCount"] == 1


def test_idempotency_key(linked: Linked, feed_id: str) -> None:
    body = statement(feed_id, 0, 7, [line("i1", 7)])
    first = linked.post(STATEMENTS, body, ORG, key="push-1")
    replay = linked.post(STATEMENTS, body, ORG, key="push-1")
    assert first.status_code == replay.status_code == 202
    assert replay.json() == first.json() and replay.headers.get("idempotent-replayed") == "true"
    assert linked.get(STATEMENTS, ORG).json()["pagination"]["itemCount"] == 1
    other = linked.post(STATEMENTS, statement(feed_id, 7, 8, [line("i2", 1)]), ORG, key="push-1")
    assert other.status_code == 400 and "different request" in other.json()["detail"]
    too_long = linked.post(STATEMENTS, statement(feed_id, 7, 8, [line("i3", 1)]), ORG, key="k" * 129)
    assert too_long.status_code == 400
    feed_body = {"items": [{"accountToken": "idem", "accountNumber": "77", "accountName": "Idem",
                            "accountType": "BANK", "currency": "USD"}]}
    f1 = linked.post(FEEDS, feed_body, ORG, key="feed-1")
    f2 = linked.post(FEEDS, feed_body, ORG, key="feed-1")
    assert f1.json() == f2.json() and f2.headers.get("idempotent-replayed") == "true"


def test_removed_feed_refuses_statements_and_rejects_pending_ones(linked: Linked, feed_id: str) -> None:
    linked.server.sandbox.processing_delay = timedelta(minutes=1)
    sid = linked.post(STATEMENTS, statement(feed_id, 0, 3, [line("r1", 3)]), ORG).json()["items"][0]["id"]
    assert linked.post(f"{FEEDS}/DeleteRequests", {"items": [{"id": feed_id}]}, ORG).status_code == 202
    refused = linked.post(STATEMENTS, statement(feed_id, 3, 4, [line("r2", 1)]), ORG)
    assert refused.status_code == 403 and refused.json()["type"] == "invalid-feed-connection"
    linked.server.clock.advance(timedelta(minutes=1))
    got = linked.get(f"{STATEMENTS}/{sid}", ORG).json()
    assert got["status"] == "REJECTED" and got["errors"][0]["type"] == "invalid-feed-connection"


def test_statement_not_found(linked: Linked, feed_id: str) -> None:
    r = linked.get(f"{STATEMENTS}/00000000-0000-0000-0000-000000000001", ORG)
    assert r.status_code == 404 and r.json()["type"] == "statement-not-found"
    assert linked.get(f"{STATEMENTS}/nope", ORG).status_code == 404


def test_reject_statement_fault_then_a_corrected_resend_is_delivered(linked: Linked, feed_id: str) -> None:
    linked.server.fault("reject-statement", 1)
    body = statement(feed_id, 0, 9, [line("f1", 9)])
    sid = linked.post(STATEMENTS, body, ORG).json()["items"][0]["id"]
    got = linked.get(f"{STATEMENTS}/{sid}", ORG).json()
    assert got["status"] == "REJECTED" and got["errors"][0]["status"] == 400
    # A rejected statement holds nothing: the same lines can be sent again.
    linked.server.clock.advance(timedelta(seconds=1))
    again = linked.post(STATEMENTS, body, ORG)
    assert again.status_code == 202
    assert linked.get(f"{STATEMENTS}/{again.json()['items'][0]['id']}", ORG).json()["status"] == "DELIVERED"
    decoded = json.loads(linked.get(STATEMENTS, ORG).text)
    assert [s["status"] for s in decoded["items"]] == ["DELIVERED", "REJECTED"]
    held = linked.server.statements()
    assert [(s["status"], s["transactionIds"], s["accountToken"]) for s in held] == [
        ("REJECTED", ["f1"], "chk"), ("DELIVERED", ["f1"], "chk")]


def test_a_sandbox_on_another_clock_with_a_processing_delay(xero_sandbox_factory: Any, browser: Any) -> None:
    from bankfeeds.kit.clock import FrozenClock
    from tests.fixtures.app import NOW
    from tests.xero_sandbox.conftest import link

    clock = FrozenClock(NOW + timedelta(days=2))
    with xero_sandbox_factory(clock=clock, processing_delay=timedelta(minutes=5), limits=False) as server:
        linked = link(server, browser, organisations=[ORG])
        fid = linked.post(FEEDS, {"items": [{"accountToken": "f", "accountNumber": "482100007315",
                                             "accountName": "C", "accountType": "BANK", "currency": "USD"}]},
                          ORG).json()["items"][0]["id"]
        day = TODAY + timedelta(days=2)
        sid = linked.post(STATEMENTS, statement(fid, 0, 1, [line("x", 1, day=day)], start_date=day, end_date=day),
                          ORG).json()["items"][0]["id"]
        assert linked.get(f"{STATEMENTS}/{sid}", ORG).json()["status"] == "PENDING"
        clock.advance(timedelta(minutes=5))
        assert linked.get(f"{STATEMENTS}/{sid}", ORG).json()["status"] == "DELIVERED"
