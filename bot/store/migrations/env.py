"""Alembic environment: migrations run on the async engine the bot uses."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from bot.store import models  # noqa: F401  (the tables)
from bot.store.db import async_url

target_metadata = SQLModel.metadata


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    url = async_url(context.config.get_main_option("sqlalchemy.url") or "")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:  # called from bot.store.migrate with a live connection
    _run(connection)
else:
    asyncio.run(_online())
