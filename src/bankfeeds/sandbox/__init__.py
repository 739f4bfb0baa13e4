"""The QuickBooks Online sandbox: an accounting platform that pulls bank feeds over the IDX API.

It keeps its own ``sandbox_*`` tables and talks to the hub only over HTTP, as QuickBooks does.
"""
