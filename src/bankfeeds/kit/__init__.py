"""Domain-free plumbing: database, clock, exact decimals, JSON, pagination, query language."""
