"""Alembic, driven from code so the installed package can migrate itself."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bankfeeds.kit.db import make_engine


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "bankfeeds:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def check(url: str) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    cfg = alembic_config(url)
    command.check(cfg)


def revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)
