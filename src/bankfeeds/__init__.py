"""bankfeeds: a self-hostable bank feeds hub, wire-compatible with Codat's Bank Feeds API."""

__version__ = "0.1.0"
