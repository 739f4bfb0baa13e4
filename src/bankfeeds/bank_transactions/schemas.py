"""Wire shapes of bank transaction writes: ``CreateBankTransactions``, ``CreateBankTransactionsResponse``,
``PushOption``, to the letter of Codat's spec.

Parsing is strict about types (a string is not an amount, ``"true"`` is not a boolean, an unknown
``transactionType`` is refused) and lenient about presence: in Codat's v1 schema no transaction
field is required; which ones a platform needs is a write rule (``platforms.write_rules``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType
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

    @staticmethod
    def from_json_fast(raw: bytes | str) -> CreateBankTransactions | None:
        """The fast lane of ``kit.http.parse_model`` (``parse_fast``)."""
        return parse_fast(raw)

    @field_validator("transactions", mode="before")
    @classmethod
    def _at_most(cls, value: Any) -> Any:
        # Checked before the items are parsed: an oversize batch is refused cheaply.
        if isinstance(value, list) and len(value) > MAX_TRANSACTIONS:
            raise ValueError(f"at most {MAX_TRANSACTIONS} transactions may be written in one request, "
                             f"not {len(value)}")
        return value


# ---------------------------------------------------------------------------- the fast lane
#
# A 1000-transaction body through ``jsonutil.loads`` (a generic parse, then the input policy's walk
# of ~10,000 values) and pydantic (a Python validator per date and amount) costs ~13 ms. The
# ``_Fast*`` structs below decode the usual body in one typed msgspec pass (~0.5 ms) and the loop in
# ``parse_fast`` does the rest of what the two would do. The lane is narrower than the reference
# path, never wider: anything it does not vouch for (an unknown or snake_case field, a string where a
# number goes, a value out of bounds, a date ``fromisoformat`` refuses, a text the policy may refuse,
# more than MAX_TRANSACTIONS ...) makes it answer None, and the reference path (``kit.http.parse_model``)
# decides and words the 400 as before. What it accepts is what the reference path gives, field for
# field (tests/bank_transactions/test_fast_parse.py holds the two together on generated bodies).

_FastId = Annotated[str, Meta(min_length=1, max_length=200)]
# Any ISO date-time is far shorter; a longer one (spaces around it?) goes the reference way.
_FastDate = Annotated[str, Meta(max_length=64)]


class _FastTransaction(msgspec.Struct, forbid_unknown_fields=True):
    id: _FastId | UnsetType | None = UNSET
    date: _FastDate | UnsetType | None = UNSET
    description: Annotated[str, Meta(max_length=2000)] | UnsetType | None = UNSET
    counterparty: Annotated[str, Meta(max_length=255)] | UnsetType | None = UNSET
    reference: Annotated[str, Meta(max_length=255)] | UnsetType | None = UNSET
    reconciled: bool | UnsetType | None = UNSET
    # Decoded as the generic parse would (an int, an exact Decimal, a string ...), checked below.
    amount: Any = UNSET
    balance: Any = UNSET
    transaction_type: TransactionType | UnsetType | None = msgspec.field(name="transactionType", default=UNSET)


class _FastBody(msgspec.Struct, forbid_unknown_fields=True):
    account_id: Annotated[str, Meta(max_length=200)] = msgspec.field(name="accountId")
    transactions: Annotated[list[_FastTransaction], Meta(max_length=MAX_TRANSACTIONS)]


def _storable_number(text: str) -> Decimal:
    """The fast lane's float_hook: the exact Decimal of a JSON number that is not an integer (only
    ``amount`` and ``balance`` can hold one there), refused unless ``_storable`` would pass it. A
    number of at most 28 characters and no exponent is within bounds without looking further."""
    value = Decimal(text)
    if len(text) > MAX_INTEGER_DIGITS or "e" in text or "E" in text:
        exponent = value.as_tuple().exponent
        if value.adjusted() >= MAX_INTEGER_DIGITS or (isinstance(exponent, int) and exponent < -MAX_FRACTION_DIGITS):
            raise ValueError("out of bounds")
    return value


_FAST_DECODER = msgspec.json.Decoder(_FastBody, float_hook=_storable_number)
_TEXT_FIELDS = ("id", "date", "description", "counterparty", "reference")


class _Refused(Exception):
    """The fast lane does not vouch for the body: the reference path decides."""


def _whole_amount(value: Any) -> Decimal:
    """What ``Amount`` makes of a value other than a Decimal: an int's Decimal within bounds, or _Refused."""
    if type(value) is not int or not -_INTEGER_BOUND < value < _INTEGER_BOUND:
        raise _Refused
    return Decimal(value)


_INTEGER_BOUND = 10**MAX_INTEGER_DIGITS


@functools.cache
def _presence(absent: tuple[bool, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """For which of a transaction's fields were absent (in ``_FIELDS`` order): the fields set, as
    pydantic records them, and the absent ones."""
    return (frozenset(n for n, gone in zip(_FIELDS, absent, strict=True) if not gone),
            tuple(n for n, gone in zip(_FIELDS, absent, strict=True) if gone))


_FIELDS = ("id", "date", "description", "counterparty", "reference", "reconciled", "amount", "balance",
           "transaction_type")


def _transaction(values: dict[str, Any], fields_set: set[str]) -> BankTransactionIn:
    """A BankTransactionIn of already validated values, as ``model_construct`` builds one (which
    costs ~4 us of Python a transaction): the model has no extra fields and no private attributes."""
    txn = BankTransactionIn.__new__(BankTransactionIn)
    _set = object.__setattr__
    _set(txn, "__dict__", values)
    _set(txn, "__pydantic_fields_set__", fields_set)
    _set(txn, "__pydantic_extra__", None)
    _set(txn, "__pydantic_private__", None)
    return txn


def parse_fast(raw: bytes | str) -> CreateBankTransactions | None:
    """``CreateBankTransactions`` from a raw JSON body, exactly as ``jsonutil.loads`` and
    ``model_validate`` would give it, or None when the fast lane does not vouch for the body (the
    reference path then decides). Never raises on input."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        body = _FAST_DECODER.decode(text)
    except (UnicodeDecodeError, msgspec.MsgspecError, RecursionError, ValueError, ArithmeticError):
        return None
    # The input policy on text (kit/inputs.py). Unescaped, a decoded string is a slice of the text:
    # ASCII text without DEL holds no refused character (msgspec refuses raw C0 controls in strings),
    # other text is searched once. With escapes, each string is searched.
    search = inputs.FORBIDDEN.search
    check_strings = "\\" in text
    if check_strings:
        if search(body.account_id) is not None:
            return None
    elif (not text.isascii() or "\x7f" in text) and search(text) is not None:
        return None
    earliest, latest = _EARLIEST, _LATEST
    fromisoformat = datetime.fromisoformat
    unset = UNSET
    out = []
    try:
        for t in body.transactions:
            when, amount, balance = t.date, t.amount, t.balance
            values = {
                "id": t.id, "date": when, "description": t.description, "counterparty": t.counterparty,
                "reference": t.reference, "reconciled": t.reconciled, "amount": amount, "balance": balance,
                "transaction_type": t.transaction_type,
            }
            fields_set, absent = _presence((
                values["id"] is unset, when is unset, values["description"] is unset,
                values["counterparty"] is unset, values["reference"] is unset, values["reconciled"] is unset,
                amount is unset, balance is unset, values["transaction_type"] is unset))
            for name in absent:
                values[name] = None
            if check_strings:
                for name in _TEXT_FIELDS:
                    value = values[name]
                    if value is not None and search(value) is not None:
                        return None
            if type(when) is str:
                # local_datetime, inline: used as given, any offset dropped, within the policy's range.
                # (datetime.replace costs ~0.6 us on Python 3.11: only when there is an offset to drop.)
                local = fromisoformat(when.strip())
                if local.tzinfo is not None:
                    local = local.replace(tzinfo=None)
                if not earliest <= local <= latest:
                    return None
                values["date"] = local
            # A non-integer number is already an exact Decimal within bounds (_storable_number).
            if type(amount) is not Decimal and amount is not None and amount is not unset:
                values["amount"] = _whole_amount(amount)
            if type(balance) is not Decimal and balance is not None and balance is not unset:
                values["balance"] = _whole_amount(balance)
            out.append(_transaction(values, set(fields_set)))
    except (_Refused, ValueError):
        return None
    return CreateBankTransactions.model_construct(
        {"account_id", "transactions"}, account_id=body.account_id, transactions=out)


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
