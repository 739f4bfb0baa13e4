"""Settings, read once from the environment (prefix ``BANKFEEDS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/bankfeeds.sqlite3"
_DEV_SECRET = "dev-only-secret-change-me"
_DEV_XERO_SECRET = "dev-only-xero-client-secret"


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
    idx_partner_key: str = "bankfeeds-dev-partner-key"
    # The institution the SMB searches for in QuickBooks, and the branding of the hosted pages.
    institution_name: str = "Demo Bank"
    institution_logo_url: str | None = None
    callout_title_en: str | None = Field(default=None, max_length=50)
    callout_body_en: str | None = Field(default=None, max_length=150)
    callout_title_fr: str | None = Field(default=None, max_length=50)
    callout_body_fr: str | None = Field(default=None, max_length=150)
    # Run the background worker inside `bankfeeds serve`.
    run_worker: bool = True
    # Log lines: "json" (one object per line) or "text"; default json, text in development.
    log_format: Literal["json", "text"] | None = None
    worker_poll_seconds: float = 1.0
    # Xero (``gbol``): the bank's Xero app and Xero's endpoints (the built-in sandbox in `make run`).
    # The OAuth redirect URI is fixed: {public_url}/link/xero/callback.
    # The defaults are the built-in Xero sandbox's demo app; a bank sets its own Xero app's.
    xero_client_id: str = "bankfeeds-demo-xero-client"
    xero_client_secret: str = _DEV_XERO_SECRET
    xero_authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    xero_token_url: str = "https://identity.xero.com/connect/token"
    xero_revoke_url: str = "https://identity.xero.com/connect/revocation"
    xero_api_url: str = "https://api.xero.com"
    # Demo mode: the clock may be advanced from the sandbox and demo pages.
    demo: bool = False
    # Xero's published limits, shared by every worker process through the database.
    xero_calls_per_minute: int = Field(default=60, ge=1)
    xero_calls_per_day: int = Field(default=5000, ge=1)
    xero_concurrent_calls: int = Field(default=5, ge=1)
    xero_statements_per_minute: int = Field(default=180, ge=1)
    xero_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long after sending a statement (and between polls) its outcome is asked for.
    xero_statement_poll_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "production" and self.secret_key == _DEV_SECRET:
            raise ValueError("BANKFEEDS_SECRET_KEY must be set in production")
        return self

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
