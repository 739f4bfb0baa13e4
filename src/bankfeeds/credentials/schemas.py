"""Wire shapes of credentials (Codat's ``BankAccountCredentials``)."""

from __future__ import annotations

from bankfeeds.kit.wire import WireModel


class BankAccountCredentials(WireModel):
    username: str
    password: str
