"""From a patient's red-flag message to the clinician's page (and to her instruction), while
5,000 routine check-ins are being paced out at Telegram's 30 messages a second.

The real Application on SQLite with pacing on, its JobQueue ticking every second, the inbox
handling what the receiver stores. A red flag arrives every 2 s from a different patient;
each is timed from being stored (as the receiver would) to the sandbox receiving the page
and the instruction (target p99 under 2 s). The baseline is the same red flags with no
check-ins waiting, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from bench._common import Errors, app_for, midday_zone, percentile, seed_patients, temp_sqlite
from bot.sandbox import SandboxTelegram
from bot.sandbox.users import SandboxUser
from bot.store.db import Database
from bot.store.models import CheckIn

RED_FLAG = "my lips are swelling and I can't breathe"


def first_send(server: SandboxTelegram, chat_id: int, words: str) -> datetime | None:
    for q in server.requests:
        if (q.method == "sendMessage" and q.status == 200 and q.params.get("chat_id") == chat_id
                and words in str(q.params.get("text"))):
            return q.time
    return None


async def measure(checkins: int, flags: int) -> tuple[list[float], list[float], int]:
    db = Database(temp_sqlite())
    await db.create_all()
    server = SandboxTelegram()
    patients = [server.user(f"P{i}") for i in range(checkins + flags)]
    now = datetime.now(UTC)
    await seed_patients(db, [u.id for u in patients], session_at=now - timedelta(hours=2),
                        plan=False)
    today = now.astimezone(midday_zone()).date()
    async with db.unit_of_work() as uow:
        await uow.insert_rows(CheckIn, [
            {"patient_id": i + 1, "session_id": i + 1, "step_id": "day0", "day": 0,
             "local_date": today, "due_at": now - timedelta(seconds=1)}
            for i in range(checkins)
        ])
    app = app_for(db, server, pacing=True, jobs=True, dispatch_interval_seconds=1)
    await app.initialize()
    await app.start()
    services = app.bot_data.services
    stop = asyncio.Event()
    inbox = asyncio.create_task(services.inbox.run(stop))
    nurse = server.user("Nurse")
    invitation = await services.enrolment.invite_clinician(name="Nurse")
    await services.inbox.receive([nurse.say(f"/start {invitation.token}")])
    errors = Errors()
    sent: dict[int, datetime] = {}
    await asyncio.sleep(2)  # the dispatch is under way
    flagged: list[SandboxUser] = patients[checkins:]
    for user in flagged:
        sent[user.id] = datetime.now(UTC)
        await services.inbox.receive([user.say(RED_FLAG)])
        await asyncio.sleep(2)
    await asyncio.sleep(3)
    stop.set()
    await inbox
    pages, instructions = [], []
    for user in flagged:
        page = next((q.time for q in server.requests if q.method == "sendMessage"
                     and q.params.get("chat_id") == nurse.id and q.status == 200
                     and f"Patient {patients.index(user) + 1}" in str(q.params.get("text"))),
                    None)
        told = first_send(server, user.id, "Please call")
        if page is None or told is None:
            raise SystemExit("FAILED: a red flag got no page or no instruction")
        pages.append((page - sent[user.id]).total_seconds())
        instructions.append((told - sent[user.id]).total_seconds())
    checked = sum(1 for q in server.requests if q.method == "sendMessage"
                  and "How are you feeling" in str(q.params.get("text")))
    await app.stop()
    await app.shutdown()
    await db.dispose()
    errors.check()
    return pages, instructions, checked


async def main(checkins: int, flags: int) -> None:
    idle = await measure(0, flags)
    busy = await measure(checkins, flags)
    print(f"red flag -> page and instruction, {flags} red flags 2 s apart, SQLite, pacing on")
    for name, (pages, told, checked) in (("idle bot", idle),
                                         (f"{checkins:,} check-ins due", busy)):
        print(f"  {name:<22} page p50 {percentile(pages, 50):5.2f} s  p99 "
              f"{percentile(pages, 99):5.2f} s | instruction p50 {percentile(told, 50):5.2f} s"
              f"  p99 {percentile(told, 99):5.2f} s | check-ins sent meanwhile {checked:,}")
    print("  target: page p99 < 2 s while the check-ins are paced out")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=5_000)
    parser.add_argument("--flags", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.checkins, args.flags))
