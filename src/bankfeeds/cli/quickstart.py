"""`make run`: migrate the embedded database, make sure an API key exists, print it and the URLs, serve.

The first API key is printed once, when it is created; afterwards `bankfeeds api-keys create`
makes another.
"""

from __future__ import annotations

import os

import uvicorn
from rich.console import Console

from bankfeeds.api_keys import service as api_keys
from bankfeeds.config import get_settings
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import SystemClock
from bankfeeds.kit.db import Database

HOST = "127.0.0.1"
PORT = 8000


def main() -> None:
    os.environ.setdefault("BANKFEEDS_DEMO", "true")
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    console = Console()
    database = Database(settings.database_url)
    with database.unit_of_work() as session:
        existing = [k for k in api_keys.list_keys(session) if k.revoked_at is None]
        created = None if existing else api_keys.create(session, SystemClock(), "quickstart")[1]
    database.dispose()
    base = settings.public_url.rstrip("/")
    console.print(f"[bold]bankfeeds[/] on {base}  (database: {settings.database_url})")
    if created:
        console.print(f"API key (shown once): [bold green]{created}[/]")
        console.print(f"  curl -u '{created}:' is NOT Codat's scheme; use: "
                      f"-H 'Authorization: Basic '$(printf %s '{created}' | base64 -w0)")
    else:
        console.print("API key: one exists already; `.venv/bin/bankfeeds api-keys create` makes another.")
    console.print(f"  Public API      {base}/companies   (docs: {base}/docs)")
    console.print(f"  Demo bank       {base}/demo/bank")
    console.print(f"  QBO sandbox     {base}/sandbox/qbo")
    uvicorn.run("bankfeeds.app:asgi_app", factory=True, host=HOST, port=PORT, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
