"""Dispatch throughput and pacing, against raw python-telegram-bot in the same run.

1. 10,000 due check-ins through the sandbox with pacing off: messages per second, beside
   PTB sending the same 10,000 messages with no database (target: at least half of it).
2. Pacing at 30/s: the time for 900 messages against the ideal 30 s (target within 5%), the
   busiest one-second window (Telegram answers 429 above 30), and 429s seen.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup

from bench._common import app_for, seed_patients, temp_sqlite
from bot.adapters.content_files import load_content
from bot.adapters.telegram_io import markup
from bot.core.checkin_flow import Draft
from bot.core.texts import checkin_screen, join, tips_block
from bot.sandbox import SandboxTelegram
from bot.services.facade import Services
from bot.store.db import Database

CONCURRENCY = 16


def same_message() -> tuple[str, InlineKeyboardMarkup | None]:
    """The day-0 check-in exactly as the dispatcher renders it (text and 11 buttons)."""
    content = load_content()
    step = content.plan.steps[0]
    intro = join(step.message, tips_block(content, step.tips))
    text, keyboard = checkin_screen(content, 1, intro, Draft())
    return text, markup(keyboard)


async def raw_ptb(n: int) -> float:
    """PTB alone: the same n messages to n chats, 16 in flight, no database."""
    server = SandboxTelegram()
    chats = [server.user(f"R{i}").id for i in range(n)]
    bot = Bot(server.token, request=server.request(), base_url="https://sandbox.invalid/bot")
    await bot.initialize()
    gate = asyncio.Semaphore(CONCURRENCY)
    text, keyboard = same_message()

    async def one(chat: int) -> None:
        async with gate:
            await bot.send_message(chat, text, reply_markup=keyboard)

    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in chats))
    elapsed = time.perf_counter() - start
    await bot.shutdown()
    return n / elapsed


async def ours(n: int, *, pacing: bool) -> tuple[float, SandboxTelegram, float]:
    """Our dispatcher: n due check-in rows claimed, rendered, sent and recorded."""
    db = Database(temp_sqlite())
    await db.create_all()
    server = SandboxTelegram()
    chats = [server.user(f"P{i}").id for i in range(n)]
    await seed_patients(
        db, chats, session_at=datetime.now(UTC) - timedelta(hours=2), due_now=n
    )
    app = app_for(db, server, pacing=pacing, claim_batch=500, send_concurrency=CONCURRENCY)
    await app.initialize()
    services: Services = app.bot_data.services
    sent, idle = 0, 0
    start = time.perf_counter()
    while sent < n:
        report = await services.dispatcher.tick()
        sent += report.sent
        idle = 0 if report.claimed else idle + 1
        if idle > 500:
            raise RuntimeError(f"dispatch stalled at {sent} of {n}")
        if not report.claimed:
            await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    await app.shutdown()
    await db.dispose()
    return n / elapsed, server, elapsed


def busiest_second(server: SandboxTelegram) -> int:
    """Most sendMessage calls inside any one-second window."""
    times = sorted(q.time.timestamp() for q in server.requests if q.method == "sendMessage")
    window: deque[float] = deque()
    most = 0
    for t in times:
        window.append(t)
        while window[0] <= t - 1.0:
            window.popleft()
        most = max(most, len(window))
    return most


async def main(n: int, paced: int) -> None:
    baseline = await raw_ptb(n)
    rate, _, _ = await ours(n, pacing=False)
    print(f"dispatch, pacing off, {n:,} messages")
    print(f"  python-telegram-bot alone (no database)   {baseline:8.0f} msg/s")
    print(f"  Aftercare dispatcher (claim, render, send, record)"
          f" {rate:8.0f} msg/s  = {rate / baseline:.0%} of raw (target >= 50%)")
    _, server, elapsed = await ours(paced, pacing=True)
    ideal = (paced - 1) / 30
    too_many = sum(1 for q in server.requests if q.status == 429)
    print(f"dispatch, pacing at 30/s, {paced} messages")
    print(f"  took {elapsed:.2f} s against the ideal {ideal:.2f} s: "
          f"{elapsed / ideal - 1:+.1%} (target within 5%)")
    print(f"  busiest one-second window: {busiest_second(server)} messages (Telegram's limit 30);"
          f" 429 answers: {too_many}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--paced", type=int, default=900)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.paced))
