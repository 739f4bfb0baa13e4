"""Settings, read once from the environment (prefix ``BANKFEEDS_``)."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_FILE = "bankfeeds.sqlite3"
_DEV_SECRET = "dev-only-secret-change-me"
_DEV_XERO_SECRET = "dev-only-xero-client-secret"
_DEV_PARTNER_KEY = "bankfeeds-dev-partner-key"


def _is_checkout(folder: Path) -> bool:
    """A folder holding this project's ``pyproject.toml`` (name ``bankfeeds``)."""
    try:
        with (folder / "pyproject.toml").open("rb") as fh:
            return bool(tomllib.load(fh).get("project", {}).get("name") == "bankfeeds")
    except (OSError, tomllib.TOMLDecodeError):
        return False


def find_checkout(*starts: Path) -> Path | None:
    """The nearest checkout of bankfeeds at or above any of ``starts`` (tried in order)."""
    for start in starts:
        for folder in (start, *start.parents):
            if _is_checkout(folder):
                return folder
    return None


def default_home() -> Path:
    """Where bankfeeds keeps its embedded database, the same for the server and every CLI command.

    ``BANKFEEDS_HOME`` when set; else the ``var/`` folder of the checkout the package runs from
    (an editable install, as ``make install`` makes) or, failing that, of the checkout around the
    current folder; else ``$XDG_DATA_HOME/bankfeeds`` (``~/.local/share/bankfeeds``).
    """
    explicit = os.environ.get("BANKFEEDS_HOME", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    checkout = find_checkout(Path(__file__).resolve().parent, Path.cwd())
    if checkout is not None:
        return checkout / "var"
    data = os.environ.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
    return Path(data).expanduser().resolve() / "bankfeeds"


def default_database_url(data: dict[str, Any]) -> str:
    home = data.get("home") or default_home()
    return f"sqlite:///{Path(home) / DATABASE_FILE}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BANKFEEDS_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # Folder of the embedded database (see default_home); BANKFEEDS_DATABASE_URL overrides the database.
    home: Path = Field(default_factory=default_home)
    database_url: str = Field(default_factory=default_database_url)
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
    # The record of each QuickBooks pull (the console's pull chart, support's "when did it last
    # pull") is kept this long, then purged by the worker.
    feed_pull_retention_days: int = Field(default=90, ge=14)
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
    # When set, GET /metrics answers only requests carrying `Authorization: Bearer <this>`
    # (Prometheus: `authorization: {credentials_file: ...}`); unset, it is open (keep it internal).
    metrics_token: str | None = Field(default=None, min_length=16)
    # Run the background worker inside `bankfeeds serve`.
    run_worker: bool = True
    # Log lines: "json" (one object per line) or "text"; default json, text in development.
    log_format: Literal["json", "text"] | None = None
    worker_poll_seconds: float = 1.0
    # Xero (``gbol``): the bank's Xero app and Xero's endpoints (the built-in sandbox in `make run`).
    # The OAuth redirect URI is fixed: {public_url}/link/xero/callback.
    # The bank's Xero app (its OAuth client); the defaults are the built-in Xero sandbox's demo app.
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
    # `serve` and `worker` migrate at start (under a lock). Off in the image's compose and k8s
    # manifests, where a one-shot `bankfeeds db upgrade` runs first: they then wait up to
    # migrate_wait_seconds for the schema to reach head, and refuse to start after that.
    migrate_on_start: bool = True
    migrate_wait_seconds: float = Field(default=120.0, ge=0)
    # Webhooks to loopback, private and link-local addresses (refused unless this, or demo mode, is on).
    webhooks_allow_private_targets: bool = False
    # Webhook delivery (``webhooks.config.DeliveryOptions``; the defaults follow Codat's (Svix's) behaviour).
    # A 2xx within this many seconds is a success; anything else is retried.
    webhooks_timeout_seconds: float = 15.0
    # Deliveries in flight at once, per worker process (requests on one event loop).
    webhooks_concurrency: int = 128
    # Of those, at most this many for one consumer (and never all of them): a slow endpoint
    # cannot hold up the others.
    webhooks_endpoint_concurrency: int = 64
    # A claimed message is the worker's for this long; the worker renews it while it works, so
    # it only runs out when the worker died. Then another worker takes the message.
    webhooks_lease_seconds: float = 30.0
    # On shutdown, how long in-flight deliveries may finish before their messages are released.
    webhooks_grace_seconds: float = 20.0
    # Events fanned out per transaction.
    webhooks_fanout_batch: int = 200
    # The demo bank (demo mode), as a bank's backend would keep them: the API key it authenticates
    # to the hub with (`bankfeeds api-keys create`; `make run` makes one), the hub's base URL (by
    # default public_url) and the business customer shown in online banking.
    demo_api_key: SecretStr | None = None
    demo_hub_url: str | None = None
    demo_customer_name: str = "Maple Street Bakery LLC"

    @model_validator(mode="after")
    def _demo_xero_is_the_sandbox(self) -> Settings:
        """In demo mode (`make run`) Xero is the built-in sandbox at {public_url}/sandbox/xero,
        unless a Xero URL is set explicitly."""
        if self.demo:
            base = self.public_url.rstrip("/") + "/sandbox/xero"
            for name, path in (("xero_authorize_url", "/identity/connect/authorize"),
                               ("xero_token_url", "/identity/connect/token"),
                               ("xero_revoke_url", "/identity/connect/revocation"),
                               ("xero_api_url", "/api")):
                if name not in self.model_fields_set:
                    object.__setattr__(self, name, base + path)
        return self

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
