"""Wire shapes of bank transaction writes: ``CreateBankTransactions``, ``CreateBankTransactionsResponse``,
``PushOption``, to the letter of Codat's spec.

Parsing is strict about types (a string is not an amount, ``"true"`` is not a boolean, an unknown
``transactionType`` is refused) and lenient about presence: in Codat's v1 schema no transaction
field is required; which ones a platform needs is a write rule (``platforms.write_rules``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PlainValidator, StrictBool, StringConstraints, field_validator

from bankfeeds.kit import inputs
from bankfeeds.kit.wire import Money, WireModel
from bankfeeds.push_operations.schemas import PushOperationOut

MAX_TRANSACTIONS = 1000
# Generous bounds on amounts (PostgreSQL's numeric refuses beyond 16383 decimals, for one).
MAX_INTEGER_DIGITS = 28
MAX_FRACTION_DIGITS = 28

TransactionType = Literal[
    "Unknown", "Credit", "Debit", "Int", "Div", "Fee", "SerChg", "Dep", "Atm", "Pos", "Xfer", "Check",
    "Payment", "Cash", "DirectDep", "DirectDebit", "RepeatPmt", "Other",
]


def local_datetime(value: Any) -> datetime:
    """Codat's "local date time": used as given, any offset ignored (no timezone conversion)."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date or date-time string, e.g. 2023-08-22T10:21:00")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO 8601 date or date-time, e.g. 2023-08-22T10:21:00") from None
    local = parsed.replace(tzinfo=None)
    if not _EARLIEST <= local <= _LATEST:
        inputs.instant_validator(local)  # out of range: refused in the policy's words
    return local


# The policy's range as local date-times (it reads a naive value as UTC): one comparison per date.
_EARLIEST = inputs.MIN_INSTANT.replace(tzinfo=None)
_LATEST = inputs.MAX_INSTANT.replace(tzinfo=None)


def _storable(value: Decimal) -> Decimal:
    """Within the bounds every supported database stores exactly.

    ``adjusted()`` is the exponent of the leading digit, ``as_tuple().exponent`` that of the last;
    two cheap calls (pydantic's own max_digits/decimal_places cost twice the whole parse here).
    """
    exponent = value.as_tuple().exponent
    if value.adjusted() >= MAX_INTEGER_DIGITS or (isinstance(exponent, int) and exponent < -MAX_FRACTION_DIGITS):
        raise ValueError(
            f"must have at most {MAX_INTEGER_DIGITS} digits before the decimal point and "
            f"{MAX_FRACTION_DIGITS} after it"
        )
    return value


LocalDateTime = Annotated[datetime, PlainValidator(local_datetime)]
Amount = Annotated[Money, AfterValidator(_storable)]
TransactionId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class BankTransactionIn(WireModel):
    id: TransactionId | None = None
    date: LocalDateTime | None = None
    # Limits of the strictest platform (Xero: description 2000, payee and reference 255).
    description: str | None = Field(default=None, max_length=2000)
    counterparty: str | None = Field(default=None, max_length=255)
    reference: str | None = Field(default=None, max_length=255)
    reconciled: StrictBool | None = None
    amount: Amount | None = None
    balance: Amount | None = None
    transaction_type: TransactionType | None = None


class CreateBankTransactions(WireModel):
    account_id: str = Field(max_length=200)
    transactions: list[BankTransactionIn]

    @field_validator("transactions", mode="before")
    @classmethod
    def _at_most(cls, value: Any) -> Any:
        # Checked before the items are parsed: an oversize batch is refused cheaply.
        if isinstance(value, list) and len(value) > MAX_TRANSACTIONS:
            raise ValueError(f"at most {MAX_TRANSACTIONS} transactions may be written in one request, "
                             f"not {len(value)}")
        return value


class CreateBankTransactionsResponse(PushOperationOut):
    """A PushOperation; the deprecated ``data`` echo of the request is left out."""


class PushFieldValidation(WireModel):
    field: str | None = None
    details: str
    ref: str | None = None


class PushValidationInfo(WireModel):
    warnings: list[PushFieldValidation] = Field(default_factory=list)
    information: list[PushFieldValidation] = Field(default_factory=list)


class PushOptionChoice(WireModel):
    value: str
    type: str = "String"
    display_name: str
    description: str
    required: bool = False


class PushOptionProperty(WireModel):
    type: str
    display_name: str
    description: str
    required: bool
    properties: dict[str, PushOptionProperty] | None = None
    options: list[PushOptionChoice] | None = None
    validation: PushValidationInfo | None = None


class PushOption(WireModel):
    type: str
    display_name: str
    description: str | None = None
    required: bool
    properties: dict[str, PushOptionProperty] | None = None
    options: list[PushOptionChoice] | None = None
    validation: PushValidationInfo | None = None
