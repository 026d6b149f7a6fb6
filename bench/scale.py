"""Scale: 100,000 enrolled patients and their plans (over a million scheduled rows).

Figures, each beside a raw baseline from the same run:
- enrolment: expanding and writing every plan in bulk (rows per second);
- start-up: a fresh process builds the bot on that database and runs its first tick
  (target under 2 s), and its peak memory (target under 300 MB);
- a dispatcher tick with 500 check-ins due (target under 50 ms), beside the bare SELECT
  that finds 500 due rows.
SQLite by default; `--database postgresql://...` for PostgreSQL (its tables are emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bench._common import app_for, median, seed_patients, temp_sqlite
from bot.sandbox import SandboxTelegram
from bot.store.db import Database
from bot.store.models import CheckIn, Status

ROOT = Path(__file__).resolve().parent.parent
STARTUP = """
import asyncio, resource, sys, time
started = time.perf_counter()
from bench._common import app_for
from bot.sandbox import SandboxTelegram
from bot.store.db import Database

async def main():
    db = Database(sys.argv[1])
    app = app_for(db, SandboxTelegram(), pacing=True)
    await app.initialize()
    await app.bot_data.services.dispatcher.tick()
    ready = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{ready:.3f} {peak:.0f}")
    await app.shutdown()

asyncio.run(main())
"""


ROUNDS = 10  # 3 through Telegram, 7 for the dispatcher's own cost


class Instant:
    """A messenger that delivers at once (to time the dispatcher without Telegram)."""

    def __init__(self) -> None:
        self.next_id = 0

    async def send(self, chat_id: int, text: str, keyboard: object = None, *,
                   routine: bool = False) -> int:
        self.next_id += 1
        return self.next_id


async def main(patients: int, url: str | None) -> None:
    db = Database(url or temp_sqlite())
    if url:
        await db.drop_all()
    await db.create_all()
    server = SandboxTelegram()
    chats = list(range(10_000_000, 10_000_000 + patients))
    start = time.perf_counter()
    rows = await seed_patients(db, chats, session_at=datetime.now(UTC) - timedelta(hours=2))
    enrol = time.perf_counter() - start
    print(f"scale on {'PostgreSQL' if url else 'SQLite'}: {patients:,} patients, {rows:,} rows")
    print(f"  enrol (expand every plan and write it): {enrol:6.1f} s, "
          f"{rows / enrol:,.0f} rows/s")

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTUP, db.url, cwd=ROOT, stdout=subprocess.PIPE
    )
    out = (await child.communicate())[0].decode().split()
    print(f"  start-up to first tick: {float(out[0]):.2f} s (target < 2 s); "
          f"peak memory {out[1]} MB (target < 300 MB)")

    # 500 due now among the million: time the tick, beside the bare SELECT.
    app = app_for(db, server, pacing=False, claim_batch=500)
    await app.initialize()
    services = app.bot_data.services
    telegram = services.deps.messenger
    ticks, own, selects = [], [], []
    for round_ in range(ROUNDS):
        # Rounds 0-2 send through PTB and the sandbox; the rest through an instant messenger,
        # to see the dispatcher's own cost (claim, decide, render, record) apart from
        # Telegram's.
        object.__setattr__(services.deps, "messenger", telegram if round_ < 3 else Instant())
        now = datetime.now(UTC)
        async with db.engine.begin() as connection:
            first = 1 + round_ * 500
            if first + 500 > patients:
                raise SystemExit(f"scale needs at least {ROUNDS * 500:,} patients")
            await connection.execute(
                update(CheckIn)
                .where(CheckIn.patient_id.between(first, first + 499), CheckIn.step_id == "day0")
                .values(due_at=now - timedelta(seconds=1), status=Status.PENDING)
            )
        for pid in range(first, first + 500):
            server.user(f"P{pid}", user_id=10_000_000 + pid - 1)
        start = time.perf_counter()
        async with db.engine.connect() as connection:
            await connection.execute(
                select(CheckIn.id).where(CheckIn.status == "pending", CheckIn.due_at <= now)
                .order_by(CheckIn.due_at).limit(500)
            )
        selects.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        report = await services.dispatcher.tick()
        (ticks if round_ < 3 else own).append((time.perf_counter() - start) * 1000)
        assert report.sent == 500, report
    await app.shutdown()
    print(f"  tick with 500 due, its own cost (claim, decide, render, record): median "
          f"{median(own):.0f} ms over {len(own)} (target < 50 ms)")
    print(f"  the same tick also sending the 500 through PTB and the sandbox: median "
          f"{median(ticks):.0f} ms")
    print(f"  bare SELECT of 500 due rows (baseline): median {median(selects):.1f} ms")
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--database", help="a PostgreSQL URL (it is emptied); default SQLite")
    args = parser.parse_args()
    asyncio.run(main(args.patients, args.database))
