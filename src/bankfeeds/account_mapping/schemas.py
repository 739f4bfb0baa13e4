"""Wire shapes of account mapping (Codat's ``BankFeedAccountMapping`` family)."""

from __future__ import annotations

from pydantic import Field

from bankfeeds.kit.wire import StrictWireModel
from bankfeeds.source_accounts.schemas import DateTimeText


class BankFeedAccountMapping(StrictWireModel):
    """The POST body: which source account, to which target (none: create a new target account),
    and from when transactions may be fed (v1 only; ``feedStartDate`` is not in the v2 body)."""

    source_account_id: str = Field(min_length=1, max_length=200)
    target_account_id: str | None = Field(default=None, max_length=200)
    feed_start_date: DateTimeText = None
