"""Feed connections: create by accountId or accountNumber, token rules, activation, removal."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.fixtures.xero_sandbox import XeroSandboxServer
from tests.xero_sandbox.conftest import Linked

FEEDS = "/bankfeeds.xro/1.0/FeedConnections"


def bank_account(linked: Linked, tenant: str, name: str) -> dict[str, Any]:
    accounts = linked.get("/api.xro/2.0/Accounts", tenant).json()["Accounts"]
    return next(a for a in accounts if a["Name"] == name)


def create(linked: Linked, tenant: str, **item: Any) -> httpx.Response:
    return linked.post(FEEDS, {"items": [item]}, tenant)


def test_feed_on_an_existing_account_is_pending_then_active(linked: Linked) -> None:
    checking = bank_account(linked, "Bluebird Cafe LLC", "Business Checking")
    r = create(linked, "Bluebird Cafe LLC", accountToken="tok-1", accountId=checking["AccountID"],
               accountType="BANK", currency="USD")
    assert r.status_code == 202
    item = r.json()["items"][0]
    assert item["status"] == "PENDING" and item["accountToken"] == "tok-1"
    got = linked.get(f"{FEEDS}/{item['id']}", "Bluebird Cafe LLC")
    assert got.status_code == 200
    feed = got.json()
    assert feed["accountId"] == checking["AccountID"] and "status" not in feed
    assert feed["accountType"] == "BANK" and feed["currency"] == "USD"
    listed = linked.get(FEEDS, "Bluebird Cafe LLC")
    assert listed.status_code == 202
    assert [f["id"] for f in listed.json()["items"]] == [item["id"]]
    assert listed.json()["pagination"] == {"page": 1, "pageSize": 10, "pageCount": 1, "itemCount": 1}


def test_account_number_matches_an_account_or_creates_one(linked: Linked) -> None:
    matched = create(linked, "Bluebird Cafe LLC", accountToken="tok-m", accountNumber="482100007315",
                     accountName="Checking", accountType="BANK", currency="USD")
    fid = matched.json()["items"][0]["id"]
    checking = bank_account(linked, "Bluebird Cafe LLC", "Business Checking")
    assert linked.get(f"{FEEDS}/{fid}", "Bluebird Cafe LLC").json()["accountId"] == checking["AccountID"]
    card = create(linked, "Bluebird Cafe LLC", accountToken="tok-c", accountNumber="9042",
                  accountName="Business Visa", accountType="CREDITCARD", currency="USD")
    assert card.status_code == 202
    cid = card.json()["items"][0]["id"]
    new_id = linked.get(f"{FEEDS}/{cid}", "Bluebird Cafe LLC").json()["accountId"]
    created = bank_account(linked, "Bluebird Cafe LLC", "Business Visa")
    assert created["AccountID"] == new_id and created["BankAccountType"] == "CREDITCARD"
    assert created["BankAccountNumber"] == "9042" and created["Type"] == "BANK"
    long_card = create(linked, "Bluebird Cafe LLC", accountToken="tok-c2", accountNumber="4111111111119042",
                       accountName="Card", accountType="CREDITCARD", currency="USD")
    assert long_card.status_code == 400


def test_token_rules(linked: Linked) -> None:
    checking = bank_account(linked, "Bluebird Cafe LLC", "Business Checking")
    first = create(linked, "Bluebird Cafe LLC", accountToken="tok-x", accountId=checking["AccountID"],
                   accountType="BANK", currency="USD").json()["items"][0]
    again = create(linked, "Bluebird Cafe LLC", accountToken="tok-x", accountId=checking["AccountID"],
                   accountType="BANK", currency="USD")
    assert again.status_code == 202 and again.json()["items"][0]["id"] == first["id"]
    elsewhere = create(linked, "Acme Trading Ltd", accountToken="tok-x", accountNumber="12345678",
                       accountName="Other", accountType="BANK", currency="GBP")
    assert elsewhere.status_code == 400
    item = elsewhere.json()["items"][0]
    assert item["status"] == "REJECTED" and item["error"]["type"] == "feed-connected-in-different-organisation"
    fed_twice = create(linked, "Bluebird Cafe LLC", accountToken="tok-y", accountId=checking["AccountID"],
                       accountType="BANK", currency="USD")
    assert fed_twice.json()["items"][0]["error"]["type"] == "feed-already-connected-in-current-organisation"


def test_account_id_must_be_a_bank_account_of_that_type_and_currency(linked: Linked) -> None:
    sales = bank_account(linked, "Bluebird Cafe LLC", "Sales")
    visa = bank_account(linked, "Bluebird Cafe LLC", "Company Visa")
    checking = bank_account(linked, "Bluebird Cafe LLC", "Business Checking")
    for account_id, kind, currency in ((sales["AccountID"], "BANK", "USD"), (visa["AccountID"], "BANK", "USD"),
                                       (checking["AccountID"], "BANK", "GBP"), (str(uuid.uuid4()), "BANK", "USD")):
        r = create(linked, "Bluebird Cafe LLC", accountToken="t", accountId=account_id, accountType=kind,
                   currency=currency)
        assert r.status_code == 400 and r.json()["items"][0]["error"]["type"] == "account-not-valid", r.text


def test_field_rules_reject_items(linked: Linked) -> None:
    cases = [
        {"accountToken": "x" * 51, "accountNumber": "1", "accountType": "BANK", "currency": "USD"},
        {"accountToken": "t", "accountNumber": "1" * 41, "accountType": "BANK", "currency": "USD"},
        {"accountToken": "t", "accountNumber": "1", "accountName": "n" * 31, "accountType": "BANK", "currency": "USD"},
        {"accountToken": "t", "accountNumber": "1", "accountType": "SAVINGS", "currency": "USD"},
        {"accountToken": "t", "accountNumber": "1", "accountType": "BANK", "currency": "XXX"},
        {"accountToken": "t", "accountType": "BANK", "currency": "USD"},
        {"accountToken": "t", "accountNumber": "1", "accountType": "BANK", "currency": "USD", "country": "ZZ"},
    ]
    for item in cases:
        r = linked.post(FEEDS, {"items": [item]}, "Bluebird Cafe LLC")
        assert r.status_code == 400 and r.json()["items"][0]["status"] == "REJECTED", (item, r.text)
    wrong_country = linked.post(FEEDS, {"items": [{"accountToken": "t", "accountNumber": "1", "accountType": "BANK",
                                                   "currency": "USD", "country": "NO"}]}, "Bluebird Cafe LLC")
    assert wrong_country.json()["items"][0]["error"]["type"] == "invalid-country-specified"
    for body in ({}, {"items": []}, {"items": "x"}, [1]):
        r = linked.post(FEEDS, body, "Bluebird Cafe LLC")
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    raw = linked.server.http.post(linked.server.api_url + FEEDS, content=b"{not json",
                                  headers=linked.headers("Bluebird Cafe LLC"))
    assert raw.status_code == 400 and raw.json()["type"] == "invalid-request"


def test_delete_requests_remove_the_feed(linked: Linked) -> None:
    fid = create(linked, "Bluebird Cafe LLC", accountToken="tok-d", accountNumber="482100009920",
                 accountName="Savings", accountType="BANK", currency="USD").json()["items"][0]["id"]
    other_org = linked.post(f"{FEEDS}/DeleteRequests", {"items": [{"id": fid}]}, "Acme Trading Ltd")
    assert other_org.json()["items"][0]["error"]["type"] == "feed-connected-in-different-organisation"
    r = linked.post(f"{FEEDS}/DeleteRequests", {"items": [{"id": fid}]}, "Bluebird Cafe LLC")
    assert r.status_code == 202 and r.json()["items"] == [{"id": fid, "status": "PENDING"}]
    gone = linked.get(f"{FEEDS}/{fid}", "Bluebird Cafe LLC")
    assert gone.status_code == 400 and gone.json()["type"] == "bank-feed-not-found"
    assert linked.get(FEEDS, "Bluebird Cafe LLC").json()["items"] == []
    twice = linked.post(f"{FEEDS}/DeleteRequests", {"items": [{"id": fid}]}, "Bluebird Cafe LLC")
    assert twice.json()["items"][0]["error"]["type"] == "feed-not-found-or-already-deleted"
    # The token is free again: a new feed for it is a new feed.
    fresh = create(linked, "Bluebird Cafe LLC", accountToken="tok-d", accountNumber="482100009920",
                   accountName="Savings", accountType="BANK", currency="USD").json()["items"][0]
    assert fresh["status"] == "PENDING" and fresh["id"] != fid


def test_feeds_are_per_app_and_pagination(linked: Linked, xero_sandbox: XeroSandboxServer,
                                          browser: httpx.Client) -> None:
    for i in range(3):
        create(linked, "Acme Trading Ltd", accountToken=f"p{i}", accountNumber=f"900{i}", accountName=f"A{i}",
               accountType="BANK", currency="GBP")
    page2 = linked.get(FEEDS, "Acme Trading Ltd", params={"page": "2", "pageSize": "2"}).json()
    assert len(page2["items"]) == 1 and page2["pagination"]["pageCount"] == 2
    assert linked.get(FEEDS, "Acme Trading Ltd", params={"page": "-1", "pageSize": "abc"}).json()[
        "pagination"]["page"] == 1
    bad_id = linked.get(f"{FEEDS}/not-a-uuid", "Acme Trading Ltd")
    assert bad_id.status_code == 400
