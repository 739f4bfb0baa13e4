"""Identity /connections and the accounting reads (Organisation, Accounts), with scope checks."""

from __future__ import annotations

import httpx

from tests.fixtures.xero_sandbox import XeroSandboxServer
from tests.xero_sandbox.conftest import Linked, link


def test_organisation_in_the_accounting_shape(linked: Linked) -> None:
    r = linked.get("/api.xro/2.0/Organisation", "Acme Trading Ltd")
    assert r.status_code == 200
    body = r.json()
    assert body["Status"] == "OK" and len(body["Organisations"]) == 1
    org = body["Organisations"][0]
    assert org["OrganisationID"] == linked.tenants["Acme Trading Ltd"]
    assert (org["Name"], org["BaseCurrency"], org["CountryCode"], org["OrganisationType"]) == (
        "Acme Trading Ltd", "GBP", "GB", "COMPANY")
    assert org["LegalName"] == "Acme Trading Limited"


def test_accounts_include_bank_and_other_accounts(linked: Linked) -> None:
    r = linked.get("/api.xro/2.0/Accounts", "Bluebird Cafe LLC")
    assert r.status_code == 200
    accounts = r.json()["Accounts"]
    bank = [a for a in accounts if a["Type"] == "BANK"]
    assert {a["BankAccountType"] for a in bank} == {"BANK", "CREDITCARD"}
    checking = next(a for a in bank if a["Name"] == "Business Checking")
    assert checking["BankAccountNumber"] == "482100007315" and checking["CurrencyCode"] == "USD"
    assert checking["Status"] == "ACTIVE" and len(checking["AccountID"]) == 36
    others = [a for a in accounts if a["Type"] != "BANK"]
    assert others and all("BankAccountType" not in a for a in others)
    filtered = linked.get("/api.xro/2.0/Accounts", "Bluebird Cafe LLC",
                          params={"where": 'Type=="BANK" AND BankAccountType=="CREDITCARD"'}).json()["Accounts"]
    assert [a["Name"] for a in filtered] == ["Company Visa"]
    bad = linked.get("/api.xro/2.0/Accounts", "Bluebird Cafe LLC", params={"where": "Name.Contains(1)"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")


def test_tenant_and_scope_checks(linked: Linked, xero_sandbox: XeroSandboxServer, browser: httpx.Client) -> None:
    no_tenant = linked.get("/api.xro/2.0/Organisation")
    assert no_tenant.status_code == 400 and no_tenant.json()["type"] == "invalid-request"
    not_connected = linked.get("/api.xro/2.0/Organisation", "00000000-0000-0000-0000-000000000001")
    assert not_connected.status_code == 403
    garbage = linked.get("/api.xro/2.0/Organisation", "not-a-uuid")
    assert garbage.status_code == 403
    no_token = xero_sandbox.http.get(xero_sandbox.api_url + "/api.xro/2.0/Organisation")
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")
    bankfeeds_only = link(xero_sandbox, browser, organisations=["Kiwi Coffee Co"], scope="bankfeeds")
    refused = bankfeeds_only.get("/api.xro/2.0/Accounts", "Kiwi Coffee Co")
    assert refused.status_code == 403 and "accounting.settings" in refused.json()["detail"]
    accounting_only = link(xero_sandbox, browser, organisations=["Kiwi Coffee Co"],
                           scope="offline_access accounting.settings")
    assert accounting_only.get("/api.xro/2.0/Accounts", "Kiwi Coffee Co").status_code == 200
    feeds = accounting_only.get("/bankfeeds.xro/1.0/FeedConnections", "Kiwi Coffee Co")
    assert feeds.status_code == 403


def test_delete_connection(linked: Linked) -> None:
    conns = linked.get("/connections").json()
    acme = next(c for c in conns if c["tenantName"] == "Acme Trading Ltd")
    r = linked.server.http.delete(linked.server.api_url + f"/connections/{acme['id']}", headers=linked.headers())
    assert r.status_code == 204
    assert [c["tenantName"] for c in linked.get("/connections").json()] == ["Bluebird Cafe LLC"]
    assert linked.get("/api.xro/2.0/Organisation", "Acme Trading Ltd").status_code == 403
    again = linked.server.http.delete(linked.server.api_url + f"/connections/{acme['id']}", headers=linked.headers())
    assert again.status_code == 404
    by_event = linked.get("/connections", params={"authEventId": conns[0]["authEventId"]}).json()
    assert len(by_event) == 1
