"""Stopping cleanly (issue 18, point 6): SIGTERM in the middle of a burst of check-ins ends
the worker within seconds, hands back what it still held at once, and the restarted worker
sends every remaining check-in, none twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlmodel import select

from bot.sandbox import SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from bot.store.models import CheckIn
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    seed_due_checkins,
    start_bot,
    wait_for,
)

pytestmark = pytest.mark.clock
CHECKIN = "How are you feeling?"
OK = 200


def delivered(sandbox: SandboxTelegram, chat_id: int) -> int:
    return sum(1 for q in sandbox.requests
               if q.method == "sendMessage" and q.status == OK
               and q.params.get("chat_id") == chat_id and CHECKIN in str(q.params.get("text")))


async def test_sigterm_mid_burst_stops_in_seconds_and_the_next_worker_repeats_nothing(
    front: SandboxHTTP, tmp_path: Path,
) -> None:
    sandbox = front.server
    zone = daytime_zone()
    # A dead worker's claims would come back only after 60 s: a clean stop must not wait.
    env = environment(tmp_path, front.url, sandbox.token, CLINIC_TIMEZONE=zone.key,
                      HEARTBEAT_STALE_SECONDS="60", SEND_PER_SECOND="10")
    await cli(env, "db", "upgrade", json_out=False)
    patients = [sandbox.user(f"S{n}") for n in range(200)]
    db = Database(env["DATABASE_URL"])
    await seed_due_checkins(db, [u.id for u in patients], zone)
    await db.dispose()
    bot = await start_bot(env, "first.log")
    await wait_for(lambda: sum(delivered(sandbox, u.id) for u in patients) >= 20,
                   "the burst under way", 60)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    bot.send_signal(signal.SIGTERM)
    await asyncio.wait_for(bot.wait(), 15)
    stopped = loop.time() - asked
    assert stopped < 8, f"took {stopped:.1f} s to stop"
    assert bot.returncode == 0
    before = sum(delivered(sandbox, u.id) for u in patients)
    assert before < len(patients), "the burst ended before the signal: nothing was tested"
    restarted = loop.time()
    bot = await start_bot(env, "second.log")
    try:
        await wait_for(lambda: all(delivered(sandbox, u.id) for u in patients),
                       "every check-in", 50)
        took = loop.time() - restarted
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
    assert took < 45  # at 10 a second, not after the 60 s a dead worker's claims wait
    # Both workers have stopped: what the sandbox saw is final, and the record agrees.
    assert max(delivered(sandbox, u.id) for u in patients) == 1
    db = Database(env["DATABASE_URL"])
    async with db.unit_of_work() as uow:
        statuses = {c.status for c in (await uow.orm.exec(select(CheckIn))).all()}
    await db.dispose()
    assert statuses == {"sent"}
    assert sandbox.violations == []
