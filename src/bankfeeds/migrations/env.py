from __future__ import annotations

from typing import Any

from alembic import context

from bankfeeds.kit.db import Base, make_engine
from bankfeeds.models import DEMO_TABLES  # importing the models registers every table on the metadata

config = context.config
target_metadata = Base.metadata


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Which tables autogenerate and ``kit/migrate.check`` compare (``config.attributes["tables"]``):
    "all" (the default), "hub" (the hub's chain: no demo table) or "demo" (the demo branch's only)."""
    tables = config.attributes.get("tables", "all")
    if tables == "all":
        return True
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    if table is None:
        return True
    return (table in DEMO_TABLES) == (tables == "demo")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
run_migrations_online()
