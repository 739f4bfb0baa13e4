"""A Xero test double: identity, accounting reads and the Bank Feeds API over real HTTP."""
