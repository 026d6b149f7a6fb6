"""The schema comes from Alembic migrations, and the bot refuses a database that lags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from bot.store.db import Database
from bot.store.migrate import SchemaOutOfDate, ensure_current, head, upgrade

ROOT = Path(__file__).resolve().parent.parent


async def test_migrations_build_exactly_the_models_schema(database: Database) -> None:
    await database.drop_all()
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    with pytest.raises(SchemaOutOfDate, match="run `aftercare db upgrade`"):
        await ensure_current(database)
    assert await upgrade(database) == head()
    await ensure_current(database)

    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, SQLModel.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    assert await upgrade(database) == head()  # a second upgrade changes nothing


def test_run_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")} | {
        "TELEGRAM_BOT_TOKEN": "123456:SANDBOX",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "the database schema is out of date (empty" in done.stderr
    assert "run `aftercare db upgrade` first" in done.stderr
