"""Delivery under crashes and several workers, with real `aftercare run` processes."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.sandbox import SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from bot.store.migrate import upgrade
from bot.store.models import CheckIn
from tests.procs import cli, daytime_zone, environment, seed_due_checkins, start_bot, wait_for

CONCURRENCY = 16


@pytest.fixture
async def front() -> AsyncIterator[SandboxHTTP]:
    http = SandboxHTTP(SandboxTelegram())
    yield http
    await http.close()


def delivered(sandbox: SandboxTelegram, chats: set[int]) -> Counter[int]:
    """How many check-ins each chat received."""
    return Counter(
        q.params["chat_id"] for q in sandbox.requests
        if q.method == "sendMessage" and q.ok and q.params.get("chat_id") in chats
    )


async def test_kill_9_mid_dispatch_loses_nothing_and_repeats_at_most_what_was_in_flight(
    front: SandboxHTTP, tmp_path: Path
) -> None:
    sandbox = front.server
    zone = daytime_zone()
    env = environment(
        tmp_path, front.url, sandbox.token, SEND_PER_SECOND="400",
        SEND_CONCURRENCY=str(CONCURRENCY), CLAIM_LEASE_SECONDS="3", CLINIC_TIMEZONE=zone.key,
    )
    await cli(env, "db", "upgrade", json_out=False)
    users = [sandbox.user(f"P{n}") for n in range(1500)]
    chats = {u.id for u in users}
    db = Database(env["DATABASE_URL"])
    await seed_due_checkins(db, sorted(chats), zone)

    bot = await start_bot(env)
    await wait_for(lambda: sum(delivered(sandbox, chats).values()) >= 400, "400 sends", 60)
    bot.send_signal(signal.SIGKILL)  # in the middle of the dispatch
    await bot.wait()
    before = sum(delivered(sandbox, chats).values())
    assert before < 1500, "the kill came too late to prove anything"

    bot = await start_bot(env)
    try:
        await wait_for(lambda: set(delivered(sandbox, chats)) == chats, "every check-in", 90)
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
    counts = delivered(sandbox, chats)
    twice = [c for c, n in counts.items() if n > 1]
    # Only messages in flight at the kill can repeat: at most `CONCURRENCY` being sent plus
    # fewer than `CONCURRENCY` sent and waiting to be recorded in the next batch write.
    assert len(twice) < 2 * CONCURRENCY
    assert max(counts.values()) <= 2
    async with db.tx() as repo:
        rows = (await repo.session.exec(select(CheckIn))).all()
    assert Counter(r.status for r in rows) == Counter({"sent": 1500})
    await db.dispose()
    assert sandbox.violations == []


async def test_two_workers_on_postgresql_share_the_work_and_one_pace(
    front: SandboxHTTP, tmp_path: Path
) -> None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    sandbox = front.server
    zone = daytime_zone()
    rate = 150
    env = environment(
        tmp_path, front.url, sandbox.token, DATABASE_URL=url, SEND_PER_SECOND=str(rate),
        CLAIM_BATCH="40", CLINIC_TIMEZONE=zone.key,
    )
    db = Database(url)
    await db.drop_all()
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await upgrade(db)
    users = [sandbox.user(f"W{n}") for n in range(1200)]
    chats = {u.id for u in users}
    await seed_due_checkins(db, sorted(chats), zone)

    polling = await start_bot(env, "worker-1.log")
    dispatching = await start_bot(env | {"RECEIVE_UPDATES": "false"}, "worker-2.log")
    try:
        await wait_for(lambda: set(delivered(sandbox, chats)) == chats, "every check-in", 90)
    finally:
        for worker in (polling, dispatching):
            worker.send_signal(signal.SIGTERM)
        for worker in (polling, dispatching):
            await worker.wait()
    counts = delivered(sandbox, chats)
    assert max(counts.values()) == 1  # no duplicates
    per_second = Counter(
        int(q.time.timestamp()) for q in sandbox.requests if q.method == "sendMessage"
    )
    assert max(per_second.values()) <= rate * 1.1  # one pace for both workers
    for log in ("worker-1.log", "worker-2.log"):
        text = (tmp_path / log).read_text()
        assert "tick:" in text, f"{log} did no dispatching"
    await db.drop_all()
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await db.dispose()
