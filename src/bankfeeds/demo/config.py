"""The demo bank's own settings, as a bank's backend would keep them (``BANKFEEDS_DEMO_*``)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DemoBankConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BANKFEEDS_DEMO_", env_file=None, extra="ignore")

    # The API key the bank's backend authenticates with (`bankfeeds api-keys create`; `make run` makes one).
    api_key: SecretStr | None = None
    # The hub's base URL; by default the URL the hub is served at (its public_url).
    hub_url: str | None = None
    # The business customer shown in online banking.
    customer_name: str = "Maple Street Bakery LLC"
