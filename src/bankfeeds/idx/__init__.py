"""The IDX API: what QuickBooks Online calls to pull accounts and transactions (its own auth and envelope)."""
