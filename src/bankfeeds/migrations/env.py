from __future__ import annotations

from typing import Any

from alembic import context
from alembic.util import CommandError
from sqlalchemy import MetaData

from bankfeeds.kit.db import Base
from bankfeeds.kit.migrate import DEMO_BRANCH, check_foreign_keys, migration_engine
from bankfeeds.models import DEMO_TABLES  # importing the models registers every table on the metadata

config = context.config
# Which tables autogenerate and ``kit/migrate.check`` compare: "all" (the default), "hub" (the hub's
# chain's) or "demo" (the demo branch's).
TABLES = config.attributes.get("tables", "all")
# Whether the database being compared has the demo branch applied (set in _run).
_demo_branch_applied = False


def _target_metadata() -> MetaData:
    """The models' tables that ``TABLES`` names."""
    if TABLES == "all":
        return Base.metadata
    selected = MetaData()
    for name, table in Base.metadata.tables.items():
        if (name in DEMO_TABLES) == (TABLES == "demo"):
            table.to_metadata(selected)
    return selected


target_metadata = _target_metadata()


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """The database's tables that ``TABLES`` names. With "hub", a demo table in the database is left
    out where the demo branch is applied; elsewhere (a production database) it counts, as a table
    that should not be there."""
    if TABLES == "all":
        return True
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    if table is None or table not in DEMO_TABLES:
        return TABLES != "demo"
    return TABLES == "demo" or not _demo_branch_applied


def _demo_branch_in(heads: tuple[str, ...]) -> bool:
    script = context.script
    try:
        return any(DEMO_BRANCH in script.get_revision(head).branch_labels for head in heads)
    except CommandError:  # a revision of a newer release
        return False


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = migration_engine(config.get_main_option("sqlalchemy.url") or "")
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
    global _demo_branch_applied
    _demo_branch_applied = _demo_branch_in(context.get_context().get_current_heads())
    with context.begin_transaction():
        context.run_migrations()
        check_foreign_keys(connection)


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
run_migrations_online()
