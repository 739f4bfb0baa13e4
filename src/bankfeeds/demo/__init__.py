"""The demo bank: a business customer's online banking with a "Connect to QuickBooks" button.

It is the reference integration: ``hub_client.py`` is how a bank's backend calls the hub's public
API with an API key, ``service.py`` the order of the calls, ``webhooks.py`` how it verifies and
applies the hub's webhooks. It keeps its own ``demo_*`` tables and talks to the hub over HTTP only.
"""
