"""The parts that need no server: ids, balances, planning, the HTTP client's retries, the parsers' details."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import mt940
import pytest

from bankfeeds.publish import ids
from bankfeeds.publish.balances import settle
from bankfeeds.publish.client import ApiError, BankFeedsClient, RetryPolicy, dumps
from bankfeeds.publish.journal import Journal, JournalBusy, JournalState
from bankfeeds.publish.model import Balance, BalanceMismatch, Entry, Statement
from bankfeeds.publish.parsers import camt, csvfile, detect, parse_file
from bankfeeds.publish.plan import MAX_BATCH, collect, schedule
from bankfeeds.publish.synthetic import write_camt053
from tests.publish.helpers import SAMPLES, sample

D = Decimal


def _entry(day: int, amount: str, text: str = "x", **kw: object) -> Entry:
    return Entry(booked=date(2026, 11, day), amount=D(amount), description=text, line=day, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- ids

def test_ids_are_deterministic_and_tell_twins_apart() -> None:
    twins = [_entry(2, "-12.50", "Coffee"), _entry(2, "-12.5", "Coffee  "), _entry(3, "-12.50", "Coffee")]
    first = ids.assign("acc-1", twins)
    assert first == ids.assign("acc-1", twins)
    assert len(set(first)) == 3
    # A transaction added earlier in the day does not shift the others' ids.
    assert ids.assign("acc-1", [_entry(2, "5", "Tea"), *twins])[1:] == first
    # Tied to the source account: the same file elsewhere gets other ids.
    assert set(ids.assign("acc-2", twins)).isdisjoint(first)
    # The bank's own id wins when there is one, unless told otherwise.
    with_bank = [_entry(2, "1", bank_id="FIT-1")]
    assert ids.assign("acc-1", with_bank) == [ids.bank_id("acc-1", "FIT-1")]
    assert ids.assign("acc-1", with_bank, use_bank_ids=False) != ids.assign("acc-1", with_bank)


# ---------------------------------------------------------------- balances

def test_balances_from_opening_from_closing_and_refused() -> None:
    entries = [_entry(3, "10.00"), _entry(2, "-2.50")]
    stmt = Statement("f", "x", "A", "EUR", 1, opening=Balance(D("100"), None, 5), closing=Balance(D("107.50"), None, 9),
                     entries=list(entries))
    assert [(s.entry.booked.day, s.balance) for s in settle(stmt)] == [(2, D("97.50")), (3, D("107.50"))]
    only_closing = Statement("f", "x", "A", "EUR", 1, closing=Balance(D("7.50"), None, 9), entries=list(entries))
    assert [s.balance for s in settle(only_closing)] == [D("-2.50"), D("7.50")]
    stmt.closing = Balance(D("107.49"), None, 9)
    with pytest.raises(BalanceMismatch) as caught:
        settle(stmt)
    assert caught.value.line == 9 and "that is 107.50" in str(caught.value)
    printed = Statement("f", "x", "A", "EUR", 1, opening=Balance(D("0"), None, None),
                        entries=[_entry(2, "1", balance=D("1")), _entry(3, "1", balance=D("3"))])
    with pytest.raises(BalanceMismatch) as caught:
        settle(printed)
    assert caught.value.line == 3


# ---------------------------------------------------------------- planning

def test_batches_are_chronological_at_most_1000_and_skip_what_was_sent(tmp_path: Path) -> None:
    w = write_camt053(tmp_path / "s.xml", 2500, days=5)
    stmt = camt.parse(w.path).statements[0]
    plan = collect("acc-1", {0: settle(stmt)})
    schedule(plan, JournalState())
    assert [len(b) for b in plan.batches] == [1000, 1000, 500]
    flat = [o for b in plan.batches for o in b]
    assert [o.when for o in flat] == sorted(o.when for o in flat)
    assert flat[-1].balance == w.closing
    state = JournalState(sent_ids={o.id for o in flat[:1200]}, newest=flat[1199].when)
    again = schedule(collect("acc-1", {0: settle(stmt)}), state)
    assert sum(again.already_sent.values()) == 1200 and [len(b) for b in again.batches] == [1000, 300]
    with pytest.raises(ValueError):
        schedule(plan, JournalState(), batch_size=MAX_BATCH + 1)


def test_journal_replays_state_and_locks(tmp_path: Path) -> None:
    when = datetime(2026, 11, 3)
    with Journal(tmp_path, "http://h/", "c", "n", "acc") as j:
        j.begin("b1", "k1", ["t1", "t2"], when, D("5.00"), b"{}")
        j.pushed("b1", "op-1")
        j.done("b1", "Success")
        j.begin("b2", "k2", ["t3"], when, D("6.00"), b'{"x":1}')
        j.rekey("b2", "k3")
        with pytest.raises(JournalBusy), Journal(tmp_path, "http://h", "c", "n", "acc"):
            pass
    with open(next(tmp_path.glob("*.jsonl")), "a") as fh:
        fh.write('{"t":"done","batch":"b2"')  # torn by a kill
    with Journal(tmp_path, "http://h", "c", "n", "acc") as j:
        assert j.state.sent_ids == {"t1", "t2"} and j.state.newest == when and j.state.balance == D("5.00")
        assert list(j.state.open) == ["b2"] and j.state.open["b2"].key == "k3" and j.body("b2") == b'{"x":1}'


# ---------------------------------------------------------------- client

def _client(handler: object, **kw: object) -> BankFeedsClient:
    return BankFeedsClient("http://hub/", "key", transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
                           retry=RetryPolicy(initial=0.001, budget=kw.pop("budget", 5)), sleep=lambda s: None)  # type: ignore[arg-type]


OP = {"companyId": "c", "pushOperationKey": "op-1", "dataConnectionKey": "n", "requestedOnUtc": "2026-11-24T15:00:00Z",
      "status": "Success", "statusCode": 200}


def test_client_sends_exact_json_and_retries_with_the_same_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("refused")
        if len(seen) == 2:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow down"})
        return httpx.Response(200, json=OP)

    body = dumps({"accountId": "a b", "transactions": [{"amount": D("1234567890123456.78")}]})
    op = _client(handler).create_bank_transactions("c", "n", "a b", body, "key-1")
    assert op.status == "Success" and len(seen) == 3
    assert {r.headers["Idempotency-Key"] for r in seen} == {"key-1"}
    assert seen[0].url.raw_path == b"/companies/c/connections/n/push/bankAccounts/a%20b/bankTransactions"
    assert b"1234567890123456.78" in seen[-1].content and seen[-1].headers["Authorization"] == "Basic a2V5"


def test_client_takes_a_new_key_after_a_cached_5xx_and_gives_up_on_4xx() -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(500 if len(keys) == 1 else 200, json=OP if len(keys) > 1 else {"error": "boom"})

    told: list[str] = []
    _client(handler).create_bank_transactions("c", "n", "a", b"{}", "key-1", on_new_key=told.append)
    assert keys[0] == "key-1" and keys[1] != "key-1" and told == [keys[1]]

    def bad(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"statusCode": 400, "error": "The request body is invalid"})

    with pytest.raises(ApiError) as caught:
        _client(bad).create_bank_transactions("c", "n", "a", b"{}", "k")
    assert caught.value.status == 400 and "The request body is invalid" in str(caught.value)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(ApiError, match="gave up retrying"):
        _client(down, budget=0.01).get_create_operation("c", "op-1")


def test_waits_for_a_pending_push_operation() -> None:
    answers = iter(["Pending", "Pending", "Success"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**OP, "status": next(answers)})

    client = _client(handler)
    op = client.get_create_operation("c", "op-1")
    assert op.status == "Pending"
    assert client.wait_for("c", op, timeout=5).status == "Success"


# ---------------------------------------------------------------- parsers

def test_detects_each_format_by_content() -> None:
    kinds = {p.name: detect(p, p.read_bytes()[:4096]) for p in SAMPLES.iterdir() if not p.name.startswith(".")}
    assert kinds == {
        "camt053_two_accounts.xml": "camt", "camt053_v08_overlap.xml": "camt", "camt052_report.xml": "camt",
        "mt940_two_days.sta": "mt940", "ofx102_checking.ofx": "ofx", "ofx220_creditcard.ofx": "ofx",
        "quicken_savings.qfx": "ofx", "quickbooks_checking.qbo": "ofx", "bank_export_newest_first.csv": "csv",
        "debit_credit_semicolon.csv": "csv",
    }


def test_mt940_agrees_with_the_mt940_package() -> None:
    """A cross-check on the sample against the ``mt-940`` package (amounts and dates)."""
    ours = [(e.booked, e.amount) for s in parse_file(sample("mt940_two_days.sta")).statements for e in s.entries]
    theirs = mt940.models.Transactions()
    theirs.parse(Path(sample("mt940_two_days.sta")).read_text().replace("\r", "").split("{4:\n", 1)[1])
    assert ours == [(t.data["entry_date"], t.data["amount"].amount) for t in theirs]


def test_ofx_amounts_agree_with_ofxtools_and_dates_stay_local() -> None:
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    tree.parse(sample("ofx102_checking.ofx"))
    theirs = [(t.fitid, t.trnamt, t.dtposted) for t in tree.convert().statements[0].transactions]
    ours = parse_file(sample("ofx102_checking.ofx")).statements[0].entries
    assert [(e.bank_id, e.amount) for e in ours] == [(f, a) for f, a, _ in theirs]
    # ofxtools gives UTC (the 14th); the bank's own day was the 13th at 23:00.
    assert theirs[2][2].date() == date(2026, 11, 14) and (ours[2].booked, str(ours[2].at)) == (date(2026, 11, 13), "23:00:00")


def test_camt_refuses_a_dtd(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Document>&a;</Document>')
    with pytest.raises(Exception, match="without a DTD"):
        camt.parse(bomb)


@pytest.mark.parametrize(("text", "decimal", "value"), [
    ("1,234.56", ".", "1234.56"), ("(12.50)", ".", "-12.50"), ("12.50-", ".", "-12.50"), ("1.234,56", ",", "1234.56"),
    ("-0,01", ",", "-0.01"), ("EUR 3.00", ".", "3.00"), ("£4", ".", "4"),
])
def test_csv_amounts(text: str, decimal: str, value: str) -> None:
    assert csvfile.parse_amount(text, decimal) == D(value)


def test_csv_ambiguous_dates_need_a_format(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("Date,Description,Amount,Balance\n01/02/2026,a,1.00,1.00\n03/02/2026,b,1.00,2.00\n")
    with pytest.raises(Exception, match="pass --date-format"):
        parse_file(path)
    opts = csvfile.CsvOptions(date_format="%m/%d/%Y", columns={"date": "1", "description": "2", "amount": "3",
                                                               "balance": "4"})
    stmt = parse_file(path, csv_options=opts).statements[0]
    assert [e.booked for e in stmt.entries] == [date(2026, 1, 2), date(2026, 3, 2)]
    assert json.loads(json.dumps([str(e.amount) for e in stmt.entries])) == ["1.00", "1.00"]


def test_why_not_the_sdk_it_sends_money_as_float() -> None:
    """A canary for the client choice: codat-bankfeeds 13.0.0 writes Decimal amounts as JSON floats.

    When a later SDK sends them exactly, this fails, and the command can move to the SDK.
    """
    from codat_bankfeeds import CodatBankFeeds
    from codat_bankfeeds.models import shared
    from codat_bankfeeds.utils import BackoffStrategy, RetryConfig

    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return httpx.Response(200, json=OP)

    sdk = CodatBankFeeds(server_url="http://hub", security=shared.Security(auth_header="Basic a2V5"),
                         retry_config=RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), False),
                         client=httpx.Client(transport=httpx.MockTransport(handler)))
    sdk.transactions.create(request={
        "company_id": "c", "connection_id": "n", "account_id": "a",
        "create_bank_transactions": {"account_id": "a", "transactions": [
            {"id": "1", "date": "2026-11-10", "description": "x", "amount": D("1234567890123456.78"),
             "balance": D("1234567890123456.78")}]},
    })
    assert b"1234567890123456.78" not in sent[0] and b"1234567890123456.8," in sent[0]
