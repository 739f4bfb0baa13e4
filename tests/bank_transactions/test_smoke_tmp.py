from tests.fixtures.factories import make_linked_feed


def test_smoke(client, database, clock):
    company, connection, accounts = make_linked_feed(database, clock)
    url = f"/companies/{company.id}/connections/{connection.id}/push/bankAccounts/acc-1/bankTransactions"
    body = {"accountId": "acc-1", "transactions": [
        {"id": "t1", "date": "2026-11-23T10:00:00", "description": "x", "amount": 0.1, "balance": 0.1, "transactionType": "Credit"},
        {"id": "t2", "date": "2026-11-23T11:00:00", "description": "y", "amount": -5, "balance": 12345678901234.5678, "transactionType": "Credit"},
    ]}
    r = client.post(url, content=__import__("json").dumps(body).replace("0.1,", "0.1,"), headers={"Content-Type": "application/json"})
    print(r.status_code, r.text)
    r = client.post(url, json=body)
    print(r.status_code, r.text)
    print(client.get(f"/companies/{company.id}/push").text)
    print(client.get(f"/companies/{company.id}/connections/{connection.id}/options/bankAccounts/acc-1/bankTransactions").text)
    assert 0
