"""`make run`: the hub, the QuickBooks sandbox and the demo bank, with demo data, on one port.

Migrates the embedded database, makes sure an API key exists (printed once, when created), gives
the demo bank a fresh key of its own (``BANKFEEDS_DEMO_API_KEY``), seeds the sandbox companies
and the demo bank's customer, prints the URLs to click, and serves in demo mode (the clock can be
moved forward from the sandbox, to watch the daily pull).
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

import uvicorn
from rich.console import Console
from sqlalchemy.orm import Session

from bankfeeds.api_keys import service as api_keys
from bankfeeds.config import get_settings
from bankfeeds.kit import migrate
from bankfeeds.kit.clock import Clock, SystemClock
from bankfeeds.kit.db import Database

HOST = "127.0.0.1"
PORT = 8000
DEMO_KEY_NAME = "demo-bank"


class PortBusy(Exception):
    pass


def claim_port(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a busy port is known before anything is printed or migrated."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortBusy(f"port {port} on {host} is busy (is bankfeeds already running?). "
                           f"Stop what uses it, or choose another port: make run PORT={port + 1}") from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def demo_bank_key(session: Session, clock: Clock) -> str:
    """A new key for the demo bank's backend; the previous run's demo key is revoked."""
    for key in api_keys.list_keys(session):
        if key.name == DEMO_KEY_NAME and key.revoked_at is None:
            api_keys.revoke(session, clock, key.id)
    return api_keys.create(session, clock, DEMO_KEY_NAME)[1]


def seed_demo_data(session: Session, clock: Clock, customer_name: str) -> None:
    from bankfeeds.demo import seed as demo_seed
    from bankfeeds.sandbox import seed as sandbox_seed

    sandbox_seed.seed(session, clock)
    demo_seed.seed(session, clock, customer_name)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make run", description="The hub with the demo, on one port.")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or PORT))
    parser.add_argument("--reset", action="store_true",
                        help="Delete the embedded demo database (the server must be stopped), then exit.")
    return parser.parse_args(argv)


def reset(host: str, port: int) -> int:
    """`make reset-demo`: remove the embedded SQLite database; the next `make run` starts afresh."""
    try:
        claim_port(host, port).close()
    except PortBusy:
        print(f"error: something is serving on {host}:{port}; stop `make run` first, then reset.", file=sys.stderr)
        return 1
    settings = get_settings()
    path = settings.sqlite_path()
    if path is None:
        print("error: reset-demo only deletes the embedded SQLite database; BANKFEEDS_DATABASE_URL points "
              "elsewhere: drop and recreate that database yourself.", file=sys.stderr)
        return 1
    removed = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    for file in removed:
        file.unlink()
    print(f"Deleted {path}: the next `make run` starts with fresh demo data and a new API key."
          if removed else f"Nothing to reset: {path} does not exist.")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    if args.reset:
        raise SystemExit(reset(args.host, args.port))
    try:
        sock = claim_port(args.host, args.port)
    except PortBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    os.environ.setdefault("BANKFEEDS_DEMO", "true")
    os.environ.setdefault("BANKFEEDS_PUBLIC_URL", f"http://{args.host}:{args.port}")
    get_settings.cache_clear()
    settings = get_settings()
    # Demo mode (unless BANKFEEDS_DEMO=false was set): the demo branch's tables too.
    migrate.upgrade(settings.database_url, demo=settings.demo)
    console = Console(soft_wrap=True)
    clock = SystemClock()
    database = Database(settings.database_url)

    with database.unit_of_work() as session:
        existing = [k for k in api_keys.list_keys(session) if k.revoked_at is None and k.name != DEMO_KEY_NAME]
        created = None if existing else api_keys.create(session, clock, "quickstart")[1]
        if not os.environ.get("BANKFEEDS_DEMO_API_KEY"):
            os.environ["BANKFEEDS_DEMO_API_KEY"] = demo_bank_key(session, clock)
        if settings.demo:
            seed_demo_data(session, clock, settings.demo_customer_name)
    database.dispose()
    get_settings.cache_clear()  # the app served below reads the settings again, the demo bank's key with them

    base = settings.public_url.rstrip("/")
    console.print(f"[bold]bankfeeds[/] on {base}  (database: {settings.database_url})")
    if created:
        console.print(f"API key (shown once): [bold green]{created}[/]")
        console.print(f"  use it as: -H 'Authorization: Basic '$(printf %s '{created}' | base64 -w0)")
    else:
        console.print("API key: one exists already; `.venv/bin/bankfeeds api-keys create` makes another.")
    console.print(f"  Start here      [bold]{base}/[/]   (the demo's steps, with every link)")
    console.print(f"  Public API      {base}/companies   (docs: {base}/docs)")
    console.print(f"  Demo bank       [bold]{base}/demo/bank[/]")
    console.print(f"  QBO sandbox     [bold]{base}/sandbox/qbo[/]")
    console.print(f"  Xero sandbox    [bold]{base}/sandbox/xero[/]   (Xero's URLs point here in demo mode; "
                  "sign in as demo@example.com / xero-demo-2026)")
    console.print("The journey: in the demo bank click [bold]Connect to QuickBooks[/], then Next and Get credentials;")
    console.print(f"in the sandbox sign in, Link account, search '{settings.institution_name}', enter the credentials,")
    console.print("map the accounts and Connect. Or click [bold]Connect to Xero[/], sign in to the Xero sandbox, allow")
    console.print("access, choose the accounts on the mapping page and Connect.")
    console.print("Back in the bank: Publish new transactions; in the sandbox:")
    console.print("Update, or Advance one day to watch the daily pull. Disconnect QuickBooks ends the feed.")
    console.print("Stop with Ctrl+C. `make reset-demo` starts the demo afresh.")
    config = uvicorn.Config("bankfeeds.app:asgi_app", factory=True, host=args.host, port=args.port,
                            log_level="info", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
