"""The ``bankfeeds`` command. One module per noun; this file only assembles them."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(no_args_is_help=True, help="bankfeeds: a self-hostable bank feeds hub.")

for _name, _module in (
    ("serve", "bankfeeds.cli.serve"),
    ("worker", "bankfeeds.cli.worker"),
    ("db", "bankfeeds.cli.db"),
    ("api-keys", "bankfeeds.cli.api_keys"),
    ("operators", "bankfeeds.cli.operators"),
    ("webhooks", "bankfeeds.cli.webhooks"),
    ("publish", "bankfeeds.cli.publish"),
    ("sandbox", "bankfeeds.cli.sandbox"),
):
    _mod = importlib.import_module(_module)
    if isinstance(getattr(_mod, "app", None), typer.Typer):
        app.add_typer(_mod.app, name=_name)
    else:
        app.command(_name)(_mod.command)
