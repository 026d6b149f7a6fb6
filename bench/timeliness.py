"""Timeliness: how late check-ins go out against their due time, under load below the limit.

300 check-ins fall due 0.1 s apart (10 a second, a third of Telegram's 30), the real
Application runs with its JobQueue ticking every second and pacing on. Lateness is when the
sandbox received each message minus its due time (target p99 under 2 s). The baseline is
python-telegram-bot's own JobQueue with one job per message at its due time, no database.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from telegram.ext import ApplicationBuilder, ContextTypes

from bench._common import app_for, median, midday_zone, percentile, seed_patients, temp_sqlite
from bot.sandbox import SandboxTelegram
from bot.store.db import Database
from bot.store.models import CheckIn

GAP = 0.1


def lateness(server: SandboxTelegram, due: dict[int, datetime]) -> list[float]:
    return [
        (q.time - due[int(q.params["chat_id"])]).total_seconds()
        for q in server.requests
        if q.method == "sendMessage" and q.ok and int(q.params["chat_id"]) in due
    ]


async def ours(n: int) -> list[float]:
    db = Database(temp_sqlite())
    await db.create_all()
    server = SandboxTelegram()
    users = [server.user(f"P{i}") for i in range(n)]
    now = datetime.now(UTC)
    await seed_patients(db, [u.id for u in users], session_at=now - timedelta(hours=2),
                        plan=False)
    start = now + timedelta(seconds=3)
    due = {u.id: start + timedelta(seconds=i * GAP) for i, u in enumerate(users)}
    today = now.astimezone(midday_zone()).date()
    async with db.engine.begin() as connection:
        await connection.execute(insert(CheckIn), [
            {"patient_id": i + 1, "session_id": i + 1, "step_id": "day0", "day": 0,
             "local_date": today, "due_at": due[u.id], "kind": "scheduled",
             "status": "pending", "attempts": 0}
            for i, u in enumerate(users)
        ])
    app = app_for(db, server, pacing=True, jobs=True, dispatch_interval_seconds=1)
    await app.initialize()
    await app.start()
    while len(lateness(server, due)) < n:
        await asyncio.sleep(0.2)
    await app.stop()
    await app.shutdown()
    await db.dispose()
    return lateness(server, due)


async def raw_ptb(n: int) -> list[float]:
    server = SandboxTelegram()
    users = [server.user(f"R{i}") for i in range(n)]
    app = (
        ApplicationBuilder().token(server.token).request(server.request())
        .get_updates_request(server.request()).base_url("https://sandbox.invalid/bot").build()
    )
    assert app.job_queue is not None

    async def send(context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.job is not None
        await context.bot.send_message(int(context.job.data), "How are you feeling?")

    await app.initialize()
    await app.start()
    start = datetime.now(UTC) + timedelta(seconds=3)
    due = {u.id: start + timedelta(seconds=i * GAP) for i, u in enumerate(users)}
    for chat, when in due.items():
        app.job_queue.run_once(send, when, data=chat)
    while len(lateness(server, due)) < n:
        await asyncio.sleep(0.2)
    await app.stop()
    await app.shutdown()
    return lateness(server, due)


async def main(n: int) -> None:
    baseline = await raw_ptb(n)
    late = await ours(n)
    print(f"timeliness, {n} check-ins due {GAP:g} s apart (below Telegram's limit)")
    print(f"  PTB JobQueue, one job per message, no database: p50 {median(baseline):.2f} s, "
          f"p99 {percentile(baseline, 99):.2f} s")
    print(f"  Aftercare (rows, 1 s tick, pacing on):           p50 {median(late):.2f} s, "
          f"p99 {percentile(late, 99):.2f} s (target p99 < 2 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.checkins))
