"""Wire shapes of source accounts: Codat's v1 ``SourceAccount`` and v2 ``SourceAccountV2``.

Create and batch accept either prototype (``oneOf`` in the spec); which one a body is gets
decided by :func:`detect_version` the way Codat's reference suggests: a v2 ``accountType``
(``checking|savings|loan|creditCard|prepaidCard``) or the v2-only objects ``routingInfo`` /
``accountInfo`` mean v2, anything else is v1. Unknown fields are refused
(``additionalProperties: false``), and so is ``null`` where the spec does not allow it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from bankfeeds.errors import BadRequest
from bankfeeds.kit import inputs
from bankfeeds.kit.http import validate_model
from bankfeeds.kit.wire import Money, Number, StrictWireModel, WireModel
from bankfeeds.models import SourceAccountStatus

V2_ACCOUNT_TYPES = ("checking", "savings", "loan", "creditCard", "prepaidCard")
ROUTING_TYPES = (
    "rtn", "aba", "swift", "bsb", "iban", "nz2", "trno", "sortcode", "blz", "ifsc", "bankcode", "apca", "clabe",
)
# Account ids that would collide with sibling routes under .../bankFeedAccounts/.
RESERVED_IDS = frozenset({"credentials", "batch"})

# ISO 4217 alphabetic codes (current, plus a few withdrawn recently that ledgers still carry,
# the fund/precious-metal codes, and XXX: "no currency").
ISO_4217 = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD",
    "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
    "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS",
    "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL",
    "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN",
    "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD",
    "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB",
    "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR",
    "ZMW", "ZWG", "ZWL",
})

# Balances are exact; these bounds only keep absurd numbers (1E+100000) out of storage.
MAX_BALANCE_DIGITS = 20
MAX_BALANCE_PLACES = 10


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


def _currency(value: str | None) -> str | None:
    if value is not None and value not in ISO_4217:
        raise ValueError("must be an ISO 4217 currency code of three upper-case letters, e.g. GBP")
    return value


def _account_id(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if "/" in value:
        raise ValueError("must not contain '/' (it is used in URLs)")
    if value in RESERVED_IDS:
        raise ValueError(f"'{value}' is reserved by the API's own paths; choose another id")
    return value


def _bounded(value: Decimal | None) -> Decimal | None:
    if value is None or value == 0:
        return value
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # Money refuses NaN and infinities before this runs
    if -exponent > MAX_BALANCE_PLACES:
        raise ValueError(f"must have at most {MAX_BALANCE_PLACES} decimal places")
    if value.adjusted() + 1 > MAX_BALANCE_DIGITS:
        raise ValueError(f"must have at most {MAX_BALANCE_DIGITS} digits before the decimal point")
    return value


def reject_nul(data: Any, what: str = "request body") -> None:
    """NUL characters cannot be stored as text (PostgreSQL refuses them): a 400, not a 500."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadRequest(f"The {what} contains a NUL character (\\u0000), which is not allowed in text.")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _datetime_text(value: str | None) -> str | None:
    """Codat's DateTime: ISO 8601 with or without a zone, or a bare date."""
    if value is not None:
        try:
            inputs.instant_validator(datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")))
        except ValueError:
            raise ValueError(
                "must be an ISO 8601 date-time such as 2024-05-01T00:00:00Z or a date 2024-05-01"
            ) from None
    return value


def _date_text(value: str | None) -> str | None:
    """Codat's Date (``YYYY-MM-DD``); full date-times are accepted, as Codat's own examples use them."""
    if value is not None:
        try:
            if len(value) == 10:
                inputs.date_in_range(date.fromisoformat(value), "the date")
            else:
                _datetime_text(value)
        except (ValueError, inputs.InputRefused):
            raise ValueError("must be an ISO 8601 date such as 2024-05-01") from None
    return value


def parse_datetime_text(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))


AccountId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_account_id)]
Currency = Annotated[str, AfterValidator(_currency)]
NonNullCurrency = Annotated[str | None, BeforeValidator(_not_null), AfterValidator(_currency)]
Balance = Annotated[Money, AfterValidator(_bounded)]
NullableBalance = Annotated[Money | None, AfterValidator(_bounded)]
DateTimeText = Annotated[str | None, Field(max_length=40), AfterValidator(_datetime_text)]
DateText = Annotated[str | None, Field(max_length=40), AfterValidator(_date_text)]
V2AccountType = Literal["checking", "savings", "loan", "creditCard", "prepaidCard"]
RoutingType = Literal[
    "rtn", "aba", "swift", "bsb", "iban", "nz2", "trno", "sortcode", "blz", "ifsc", "bankcode", "apca", "clabe",
]
NonNullStr = Annotated[str | None, BeforeValidator(_not_null)]


class RoutingInfo(StrictWireModel):
    bank_code: str | None = Field(default=None, max_length=100)
    type: RoutingType | None = "bankcode"


class AccountInfo(StrictWireModel):
    description: str | None = Field(default=None, max_length=1000)
    nickname: str | None = Field(default=None, max_length=200)
    account_open_date: DateText = None
    available_balance: NullableBalance = None


class SourceAccountV1In(StrictWireModel):
    """``sourceAccountPrototype``: the v1 create body (only ``id`` is required)."""

    id: AccountId
    account_name: str | None = Field(default=None, max_length=500)
    account_type: str | None = Field(default=None, max_length=50)
    account_number: str | None = Field(default=None, max_length=100)
    sort_code: str | None = Field(default=None, max_length=50)
    # ISO4217, not nullable in the spec: may be left out, may not be null.
    currency: NonNullCurrency = None
    balance: NullableBalance = None
    # The client's own timestamp: validated, not stored (modifiedDate on reads is ours).
    modified_date: DateTimeText = None


class SourceAccountV1Update(SourceAccountV1In):
    """The v1 PATCH body: the whole ``SourceAccount`` (``id`` required)."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    status: SourceAccountStatus | None = None
    feed_start_date: DateTimeText = None


class SourceAccountV2In(StrictWireModel):
    """``SourceAccountV2`` as a body: create (v1 spec's prototype plus the v2 spec's read-only
    ``status``/``feedStartDate``, accepted and ignored) and PATCH (the v2 spec sends it whole)."""

    id: AccountId
    account_name: str = Field(max_length=500)
    account_type: V2AccountType
    account_number: str = Field(max_length=100)
    sort_code: str | None = Field(default=None, max_length=50)
    routing_info: Annotated[RoutingInfo | None, BeforeValidator(_not_null)] = None
    currency: Currency
    balance: Balance
    account_info: AccountInfo | None = None
    modified_date: DateTimeText = None
    status: SourceAccountStatus | None = None
    feed_start_date: DateText = None


class SourceAccountV2Update(SourceAccountV2In):
    id: Annotated[str, Field(min_length=1, max_length=200)]


SourceAccountIn = SourceAccountV1In | SourceAccountV2In


def detect_version(data: Any) -> int:
    """2 for a v2 body (v2 accountType, or routingInfo/accountInfo present), else 1."""
    if not isinstance(data, dict):
        return 1
    if "routingInfo" in data or "accountInfo" in data:
        return 2
    account_type = data.get("accountType")
    return 2 if isinstance(account_type, str) and account_type in V2_ACCOUNT_TYPES else 1


def _require_sort_code(account: SourceAccountIn, what: str) -> None:
    """Codat: "For GBP bank accounts, sortCode is also a required field." A v2 routingInfo of
    type ``sortcode`` carries the same thing and is accepted in its place."""
    if account.currency != "GBP" or (account.sort_code or "").strip():
        return
    if isinstance(account, SourceAccountV2In) and account.routing_info is not None:
        ri = account.routing_info
        if ri.type == "sortcode" and (ri.bank_code or "").strip():
            return
    raise BadRequest(f"The {what} is invalid: sortCode is required for GBP accounts.")


def parse_prototype(data: Any, *, what: str = "request body") -> SourceAccountIn:
    """A create body (one account) in whichever shape it is, validated."""
    if not isinstance(data, dict):
        raise BadRequest(f"The {what} must be a JSON object describing one source account.")
    reject_nul(data, what)
    account: SourceAccountIn
    if detect_version(data) == 2:
        account = validate_model(data, SourceAccountV2In, what=f"{what} (a v2 source account)")
    else:
        account = validate_model(data, SourceAccountV1In, what=f"{what} (a v1 source account)")
    _require_sort_code(account, what)
    return account


def parse_update(data: Any, shape_version: int) -> SourceAccountV1Update | SourceAccountV2Update:
    """A PATCH body, in the shape the account was created in."""
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object describing the source account.")
    reject_nul(data)
    if shape_version == 2:
        return validate_model(data, SourceAccountV2Update, what="request body (a v2 source account)")
    return validate_model(data, SourceAccountV1Update, what="request body (a v1 source account)")


# Responses (the OpenAPI document's, and what ``service.to_wire`` dumps). The two shapes are kept
# apart for the spec's ``oneOf``: a v1 account always carries ``accountType`` (null when unknown),
# a v2 account always carries ``accountInfo`` (null when not given).


class SourceAccountOut(WireModel):
    """Codat's v1 ``SourceAccount``."""

    id: str
    account_name: str | None
    account_type: str | None
    account_number: str | None
    sort_code: str | None
    # Left out when the account has none (ISO4217 is not nullable in the spec).
    currency: str | None = None
    balance: Number | None
    modified_date: str | None
    status: SourceAccountStatus | None
    feed_start_date: str | None


class SourceAccountV2Out(WireModel):
    """Codat's ``SourceAccountV2``."""

    id: str
    account_name: str
    account_type: V2AccountType
    account_number: str
    sort_code: str | None
    routing_info: RoutingInfo | None = None
    currency: str
    balance: Number
    account_info: AccountInfo | None
    modified_date: str | None
    status: SourceAccountStatus | None
    feed_start_date: str | None


class SourceAccountBatchCreateResult(WireModel):
    status_code: int
    error: str | None
    account: SourceAccountOut


class SourceAccountBatchCreateResponse(WireModel):
    source_account_id: str
    result: SourceAccountBatchCreateResult


class SourceAccountV2BatchCreateResult(WireModel):
    status_code: int
    error: str | None
    account: SourceAccountV2Out


class SourceAccountV2BatchCreateResponse(WireModel):
    source_account_id: str
    result: SourceAccountV2BatchCreateResult


class SourceAccountBatchErrorResult(WireModel):
    status_code: str
    error: str


class SourceAccountBatchErrorResponse(WireModel):
    source_account_id: str
    result: SourceAccountBatchErrorResult


AnySourceAccount = SourceAccountV2Out | SourceAccountOut
BatchCreated = list[SourceAccountV2BatchCreateResponse | SourceAccountBatchCreateResponse]
BatchResults = list[
    SourceAccountV2BatchCreateResponse | SourceAccountBatchCreateResponse | SourceAccountBatchErrorResponse
]


class GenerateOtpResponse(WireModel):
    otp: str
    expiry: str
