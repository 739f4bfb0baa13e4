"""Source accounts: create, list, update, delete, and the source-account status machine."""
