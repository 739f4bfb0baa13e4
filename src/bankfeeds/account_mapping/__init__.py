"""Account mapping (Xero) and company information of a bank-feeds connection."""
