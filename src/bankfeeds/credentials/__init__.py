"""QuickBooks credentials: the username/password pairs QuickBooks presents to the IDX API."""
