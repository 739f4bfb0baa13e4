"""Wire shapes of the IDX API (``Codat-Intuit-IDX.json``): ``IntuitAccounts`` and ``IntuitTransactions``.

Money amounts are strings on this API. Every ``*AccountInfo`` / ``*TransactionInfo`` key is sent,
the ones that do not apply as null, like the spec's examples.
"""

from __future__ import annotations

from typing import Any

from bankfeeds.kit.wire import WireModel


class Money(WireModel):
    currency: str | None
    amount: str


class AccountDisplayInfo(WireModel):
    display_name: str | None
    description: str | None
    nickname: str | None


class Balance(WireModel):
    balance_as_of: str | None
    available_balance: Money | None
    current_balance: Money | None


class DepositAccountInfo(WireModel):
    account_sub_type: str
    deposit_balance: Balance | None


class CashCardAccountInfo(WireModel):
    account_sub_type: str
    cash_card_balance: Balance | None


class CreditCardAccountInfo(WireModel):
    account_sub_type: str
    credit_card_balance: Balance | None


class LoanAccountInfo(WireModel):
    account_sub_type: str
    loan_balance: Money | None


class BankRoutingInfo(WireModel):
    id: str
    type: str


class AccountHolderInfo(WireModel):
    holder_type: str = "business"
    government_id_details: str = "business"
    relationship_type: str = "business"


class IntuitAccount(WireModel):
    id: str
    account_display_info: AccountDisplayInfo
    account_type: str
    account_number: str | None
    primary_currency: str | None
    deposit_account_info: DepositAccountInfo | None = None
    cash_card_account_info: CashCardAccountInfo | None = None
    credit_card_account_info: CreditCardAccountInfo | None = None
    line_of_credit_account_info: dict[str, Any] | None = None
    loan_account_info: LoanAccountInfo | None = None
    line_of_business: str = "business"
    account_open_date: str | None = None
    bank_routing_info: list[BankRoutingInfo]
    account_holder_info: AccountHolderInfo
    status: str = "open"
    modified_date: str


class IntuitTransaction(WireModel):
    transaction_id: str
    account_id: str
    account_type: str
    transaction_date: str
    posted_date: str
    funds_available_date: str
    transaction_description: str | None
    payee_name: str | None
    reference_number: str | None
    amount: Money
    transaction_value_type: str
    transaction_mutability: bool = False
    status: str = "POSTED"
    deposit_transaction_info: dict[str, str] | None = None
    cash_card_transaction_info: dict[str, str] | None = None
    credit_card_transaction_info: dict[str, str] | None = None
    line_of_credit_transaction_info: dict[str, str] | None = None
    loan_transaction_info: dict[str, str] | None = None
    modified_date: str
