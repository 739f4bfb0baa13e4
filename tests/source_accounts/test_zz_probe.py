from tests.source_accounts.test_sdk import *
from tests.source_accounts.helpers import stored
def test_probe(sdk, database, clock):
    company, connection = feed(database, clock, platform="gbol", status="Linked")
    ids = {"company_id": str(company.id), "connection_id": str(connection.id)}
    r = sdk.source_accounts.create(request={**ids, "request_body": {"id": "x", "account_name": "C", "account_type": "checking", "account_number": "1", "currency": "USD", "balance": Decimal("12345678901234.5678")}})
    print(type(r), r)
    print(stored(database, connection, "x").balance)
    r = sdk.source_accounts.create(request={**ids, "request_body": {"id": "y", "account_type": "Credit", "currency": "USD", "balance": Decimal("-0.0001")}})
    print(type(r), r)
    print(type(sdk.source_accounts.list(request=ids)[0]))
    print(sdk.account_mapping.get(request=ids))
