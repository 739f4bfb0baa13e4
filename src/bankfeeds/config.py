"""Settings, read once from the environment (prefix ``BANKFEEDS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/bankfeeds.sqlite3"
_DEV_SECRET = "dev-only-secret-change-me"
_DEV_PARTNER_KEY = "bankfeeds-dev-partner-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BANKFEEDS_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = "http://127.0.0.1:8000"
    # Key for HMACs and signed cookies of the hosted pages; must be set outside development.
    secret_key: str = _DEV_SECRET
    # The secret key before a rotation: stored secrets encrypted with it still decrypt (kit/crypto.py).
    secret_key_previous: str | None = None
    # Largest request body accepted by the public API, in bytes (a 1000-transaction batch is ~250 kB).
    max_body_bytes: int = 2_000_000
    # Idempotency-Key responses are replayed for this long.
    idempotency_ttl_minutes: int = 90
    # One-time password of a QuickBooks linkUrl.
    link_otp_ttl_minutes: int = 60
    # QuickBooks Online: a source account nobody pulled for this long turns disconnected.
    source_account_disconnect_days: int = 10
    # X-Partner-Key that the accounting platform presents to the IDX API.
    idx_partner_key: str = _DEV_PARTNER_KEY
    # The institution the SMB searches for in QuickBooks, and the branding of the hosted pages.
    institution_name: str = "Demo Bank"
    institution_logo_url: str | None = None
    callout_title_en: str | None = Field(default=None, max_length=50)
    callout_body_en: str | None = Field(default=None, max_length=150)
    callout_title_fr: str | None = Field(default=None, max_length=50)
    callout_body_fr: str | None = Field(default=None, max_length=150)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    # networks); empty: none, the peer address is the client's (login throttling counts it).
    forwarded_allow_ips: str = ""
    # `bankfeeds serve`: a client must send each request's headers within this many seconds.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # `bankfeeds serve`: open connections beyond this get 503 (default: the open-file limit - 128).
    max_connections: int | None = Field(default=None, ge=1)
    # Run the background worker inside `bankfeeds serve`.
    run_worker: bool = True
    worker_poll_seconds: float = 1.0
    # Demo mode: the clock may be advanced from the sandbox and demo pages.
    demo: bool = False
    # Webhooks to loopback, private and link-local addresses (refused unless this, or demo mode, is on).
    webhooks_allow_private_targets: bool = False

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        """Outside development, every secret must be set, and not to a development value."""
        if self.environment == "development":
            return self
        refused = [name for name, value, default in (
            ("BANKFEEDS_SECRET_KEY", self.secret_key, _DEV_SECRET),
            ("BANKFEEDS_IDX_PARTNER_KEY", self.idx_partner_key, _DEV_PARTNER_KEY),
        ) if not value.strip() or value == default]
        if self.secret_key_previous is not None and self.secret_key_previous == _DEV_SECRET:
            refused.append("BANKFEEDS_SECRET_KEY_PREVIOUS")
        if refused:
            raise ValueError(
                f"{' and '.join(refused)} must be set to your own secret value outside development "
                f"(BANKFEEDS_ENVIRONMENT={self.environment})"
            )
        return self

    @property
    def allow_private_webhook_targets(self) -> bool:
        return self.webhooks_allow_private_targets or self.demo

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        raw = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        return Path(raw) if raw and raw != ":memory:" else None


@lru_cache
def get_settings() -> Settings:
    return Settings()
