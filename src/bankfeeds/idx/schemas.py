"""Wire shapes of the IDX API (``Codat-Intuit-IDX.json``): ``IntuitAccounts`` and ``IntuitTransactions``.

Money amounts are strings on this API. Every ``*AccountInfo`` / ``*TransactionInfo`` key is sent,
the ones that do not apply as null, like the spec's examples.
"""

from __future__ import annotations

from typing import Any, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only on Python >= 3.12

from bankfeeds.kit.wire import WireModel


class Money(WireModel):
    currency: str | None
    amount: str


class AccountDisplayInfo(WireModel):
    display_name: str | None
    description: str | None
    # Not nullable in the spec: left out when the bank gave none.
    nickname: str | None = Field(default=None, exclude_if=lambda v: v is None)


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
    account_open_date: str | None = Field(default=None, exclude_if=lambda v: v is None)
    bank_routing_info: list[BankRoutingInfo]
    account_holder_info: AccountHolderInfo
    status: str = "open"
    modified_date: str


class IntuitTransaction(TypedDict):
    """One transaction. A TypedDict, not a model: a page carries up to 2000 of them, and building
    them as plain dicts keeps the page's cost to the query and the JSON (the keys are the wire's)."""

    transactionId: str
    accountId: str
    accountType: str
    transactionDate: str
    postedDate: str
    fundsAvailableDate: str
    transactionDescription: str | None
    payeeName: NotRequired[str]
    referenceNumber: str | None
    amount: dict[str, str | None]
    transactionValueType: str
    transactionMutability: bool
    status: str
    depositTransactionInfo: dict[str, str] | None
    cashCardTransactionInfo: dict[str, str] | None
    creditCardTransactionInfo: dict[str, str] | None
    lineOfCreditTransactionInfo: dict[str, str] | None
    loanTransactionInfo: dict[str, str] | None
    modifiedDate: str


class IntuitAccounts(WireModel):
    """list-accounts (the IDX page: no ``_links``)."""

    results: list[IntuitAccount]
    page_number: int
    page_size: int
    total_results: int


class IntuitTransactions(WireModel):
    """list-transactions."""

    results: list[IntuitTransaction]
    page_number: int
    page_size: int
    total_results: int
