"""Patients' answers end to end, against raw python-telegram-bot in the same run.

5,000 messages from 5,000 patients, each through the real Application and the inbox and
outbox: update stored, claimed, handled (database, triage, stored answer, reply row) in one
transaction per update, reply sent and recorded (floor: 400 per second on SQLite, one
process). The baseline is PTB processing the same updates with a handler that only replies.
`bench/inbox_cost.py` runs this beside the code before the inbox, in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench._common import Errors, app_for, seed_patients, temp_sqlite
from bot.sandbox import SandboxTelegram
from bot.store.db import Database

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage_eval.jsonl"


def texts() -> list[str]:
    return [json.loads(line)["text"] for line in DATA.read_text("utf-8").splitlines() if line]


async def raw_ptb(n: int) -> float:
    server = SandboxTelegram()
    server.auto_queue = False
    app = (
        ApplicationBuilder().token(server.token).request(server.request())
        .get_updates_request(server.request()).base_url("https://sandbox.invalid/bot").build()
    )

    async def reply(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await update.effective_chat.send_message("Thank you, noted.")

    app.add_handler(MessageHandler(filters.TEXT, reply))
    await app.initialize()
    users = [server.user(f"R{i}") for i in range(n)]
    updates = [Update.de_json(u.say(t), app.bot) for u, t in zip(users, itertools.cycle(texts()),
                                                                 strict=False)]
    start = time.perf_counter()
    for update in updates:
        await app.process_update(update)
    elapsed = time.perf_counter() - start
    await app.shutdown()
    return n / elapsed


async def ours(n: int, url: str | None = None) -> tuple[float, int]:
    db = Database(url or temp_sqlite())
    if url:
        await db.drop_all()
    await db.create_all()
    server = SandboxTelegram()
    server.auto_queue = False
    users = [server.user(f"P{i}") for i in range(n)]
    await seed_patients(
        db, [u.id for u in users], session_at=datetime.now(UTC) - timedelta(days=2), plan=False
    )
    app = app_for(db, server, pacing=False)
    await app.initialize()
    services = app.bot_data.services
    nurse = server.user("Nurse")
    invitation = await services.enrolment.invite_clinician(name="Nurse")
    await services.inbox.receive([nurse.say(f"/start {invitation.token}")])
    await services.inbox.drain()
    updates = [u.say(t) for u, t in zip(users, itertools.cycle(texts()), strict=False)]
    errors = Errors()
    start = time.perf_counter()
    for first in range(0, n, 100):  # as the receiver stores them: getUpdates' batches
        await services.inbox.receive(updates[first:first + 100])
    await services.inbox.drain()  # handled, and every reply sent and recorded
    elapsed = time.perf_counter() - start
    errors.check()
    replies = sum(1 for q in server.requests if q.method == "sendMessage")
    await app.shutdown()
    await db.dispose()
    return n / elapsed, replies


async def main(n: int, url: str | None) -> None:
    baseline = await raw_ptb(n)
    rate, replies = await ours(n, url)
    engine = "PostgreSQL" if url else "SQLite"
    print(f"replies, {n:,} patient messages (mostly escalating), one process, {engine}")
    print(f"  python-telegram-bot, handler that only replies      {baseline:7.0f} msg/s")
    print(f"  Aftercare: inbox, triage, outbox ({replies:,} replies)   {rate:7.0f} msg/s"
          f"  (floor 400/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--database", help="a PostgreSQL URL (it is emptied); default SQLite")
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.database))
