"""Wire shapes of account mapping (Codat's ``BankFeedAccountMapping`` family)."""

from __future__ import annotations

from pydantic import Field

from bankfeeds.kit.wire import Number, StrictWireModel, WireModel
from bankfeeds.source_accounts.schemas import DateTimeText


class BankFeedAccountMapping(StrictWireModel):
    """The POST body: which source account, to which target (none: create a new target account),
    and from when transactions may be fed (v1 only; ``feedStartDate`` is not in the v2 body)."""

    source_account_id: str = Field(min_length=1, max_length=200)
    target_account_id: str | None = Field(default=None, max_length=200)
    feed_start_date: DateTimeText = None


# Responses (for the OpenAPI document; the platform builds them, platforms/gbol/mapping.py).


class TargetAccountOption(WireModel):
    id: str
    name: str | None
    balance: Number | None
    sort_code: str | None
    account_number: str | None


class BankFeedMappingOut(WireModel):
    """``BankFeedMapping``: one source account and where it feeds (fields without a value are left out)."""

    source_account_id: str
    source_account_name: str | None = None
    source_account_number: str | None = None
    source_balance: Number | None = None
    source_currency: str | None = None
    target_account_id: str | None
    target_account_name: str | None = None
    status: str | None
    target_account_options: list[TargetAccountOption] | None = None
    feed_start_date: str | None = None


class BankFeedAccountMappingResponse(WireModel):
    source_account_id: str
    target_account_id: str | None
    status: str | None
    error: str | None = None


class CompanyInformation(WireModel):
    company_name: str
    base_currency: str
    plan_type: str | None
    multicurrency_enabled: bool
    currencies: list[str] | None
