"""`aftercare backup` while the bot runs, then `aftercare restore` (issue 18, point 4):
every row and every photo is back, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlmodel import SQLModel

from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    fresh_postgres,
    proc_now,
    registered_nurse_and_photo,
    start_bot,
)


async def aftercare(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=env["WORKDIR"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def everything(url: str, media: Path) -> dict[str, object]:
    """Every table's rows (as tuples) and every media file's bytes."""
    db = Database(url)
    found: dict[str, object] = {}
    try:
        async with db.engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if table.name in ("send_slot", "worker", "rate_window"):
                    continue  # pacing, heartbeats: a running worker's, not the clinic's
                rows = (await conn.execute(select(table))).all()
                found[table.name] = sorted(map(repr, rows))
            found["count"] = (await conn.execute(select(func.count()).select_from(
                SQLModel.metadata.tables["photo"]))).scalar()
    finally:
        await db.dispose()
    found["files"] = await asyncio.to_thread(files, media)
    return found


def files(media: Path) -> dict[str, bytes]:
    return {str(p.relative_to(media)): p.read_bytes()
            for p in sorted(media.rglob("*")) if p.is_file()} if media.exists() else {}


@contextlib.asynccontextmanager
async def database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    async with fresh_postgres() as url:
        yield url


async def wipe(kind: str, url: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        (tmp_path / "bot.db").unlink()
        return
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_backup_taken_while_the_bot_runs_restores_every_row_and_photo(
    kind: str, front: SandboxHTTP, tmp_path: Path,
) -> None:
    sandbox = front.server
    zone = daytime_zone()
    async with database(kind, tmp_path) as url:
        env = environment(tmp_path, front.url, sandbox.token, CLINIC_TIMEZONE=zone.key,
                          DATABASE_URL=url, MEDIA_STORAGE="files" if kind == "sqlite"
                          else "database")
        if kind == "postgresql" and not shutil.which("pg_dump"):
            pytest.skip("pg_dump is not installed")
        await cli(env, "db", "upgrade", json_out=False)
        nurse_link = await cli(env, "clinician", "invite", "--name", "Nurse Joy")
        session_at = (proc_now().astimezone(zone) - timedelta(days=1)).replace(hour=8, minute=0)
        ana_link = await cli(env, "enrol", "--name", "Ana", "--session-at",
                             session_at.isoformat())
        bot = await start_bot(env)
        try:
            await registered_nurse_and_photo(sandbox, nurse_link["token"], ana_link["token"],
                                             "the bruise is darker today")
            status, said = await aftercare(env, "backup", str(tmp_path / "saved.tar.gz"))
            assert status == 0, said
            assert "1 media file(s)" in said or kind == "postgresql"
            refused, why = await aftercare(env, "restore", str(tmp_path / "saved.tar.gz"))
            assert refused == 2
            assert "stop them first" in why
        finally:
            bot.terminate()
            await bot.wait()
        media = tmp_path / "storage" / "photos"
        before = await everything(url, media)
        assert before["count"] == 1
        await wipe(kind, url, tmp_path)
        shutil.rmtree(tmp_path / "storage", ignore_errors=True)
        status, said = await aftercare(env, "restore", str(tmp_path / "saved.tar.gz"))
        assert status == 0, said
        assert await everything(url, media) == before
