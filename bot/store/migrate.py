"""Schema migrations (Alembic): upgrade, and check the database is at the code's revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.store.db import Database

HERE = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDate(Exception):
    """The database is not at the schema this code needs."""


def config(url: str) -> Config:
    """Alembic's configuration for a database URL (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    """The newest revision this code ships."""
    revision = ScriptDirectory.from_config(config("")).get_current_head()
    assert revision is not None
    return revision


async def upgrade(db: Database) -> str:
    """Bring the schema to the latest revision; returns it."""
    cfg = config(db.url)

    def run(connection: Any) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with db.engine.begin() as connection:
        await connection.run_sync(run)
    return head()


async def current(db: Database) -> str | None:
    """The revision the database is at (None: never migrated)."""
    def read(connection: Any) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


async def ensure_current(db: Database) -> None:
    """Raise SchemaOutOfDate unless the database is at the code's schema."""
    at, needed = await current(db), head()
    if at != needed:
        where = f"at revision {at}" if at else "empty"
        raise SchemaOutOfDate(
            f"the database schema is out of date ({where}, this version needs {needed}): "
            "run `aftercare db upgrade` first"
        )
