"""Two `aftercare run` workers on one PostgreSQL database share the inbox that a front (a
webhook front on another machine, played here by the test) fills in waves: both handle, and
every message is handled once (its answer stored once), each chat in order, one of them
killed on the way."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from bot.store.models import Answer, InboxUpdate, Patient
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    fresh_postgres,
    proc_now,
    seed_due_checkins,
    start_bot,
    wait_for,
)

NOTES = 3
OK = 200


async def front_stores(db: Database, updates: list[dict[str, Any]]) -> None:
    """What a receiving front does: store the updates in the inbox."""
    now = proc_now()
    async with db.unit_of_work() as uow:
        await uow.inbox.store([
            {"update_id": u["update_id"], "chat_id": u["message"]["chat"]["id"],
             "payload": u, "received_at": now, "due_at": now} for u in updates
        ])


async def test_two_workers_share_the_inbox_each_chat_in_order(
    front: SandboxHTTP, tmp_path: Path
) -> None:
    sandbox = front.server
    zone = daytime_zone()
    async with fresh_postgres() as url:
        env = environment(tmp_path, front.url, sandbox.token, CLINIC_TIMEZONE=zone.key,
                          DATABASE_URL=url)
        await cli(env, "db", "upgrade", json_out=False)
        patients = [sandbox.user(f"W{n}") for n in range(40)]
        db = Database(url)
        await seed_due_checkins(db, [u.id for u in patients], zone)
        quiet = env | {"RECEIVE_UPDATES": "false"}  # the front stores; both only handle
        first, second = await start_bot(quiet, "first.log"), await start_bot(quiet, "second.log")
        try:
            await wait_for(lambda: all(sandbox.sent(u.id) for u in patients), "check-ins", 60)
            mark = len(sandbox.requests)
            for note in range(NOTES):
                for wave in range(0, len(patients), 10):
                    updates = [u.say(f"a little itchy, note {note}")
                               for u in patients[wave:wave + 10]]
                    await front_stores(db, updates)
                    await asyncio.sleep(0.2)
                if note == 1:
                    first.send_signal(signal.SIGKILL)  # its claims pass to the other one
                    await first.wait()
                    first = await start_bot(quiet, "first-2.log")

            def replies() -> Counter[int]:
                return Counter(q.params["chat_id"] for q in sandbox.requests[mark:]
                               if q.method == "sendMessage" and q.status == OK)

            await wait_for(lambda: all(replies()[u.id] >= NOTES for u in patients),
                           "a reply to every message", 60)
        finally:
            for process in (first, second):
                process.send_signal(signal.SIGTERM)
                await process.wait()
        async with db.unit_of_work() as uow:
            answers = (await uow.orm.exec(select(Answer).order_by(Answer.id))).all()
            handled = (await uow.orm.exec(select(InboxUpdate))).all()
            chats = {p.id: p.chat_id for p in (await uow.orm.exec(select(Patient))).all()}
        await db.dispose()
    by_chat: dict[int | None, list[str]] = {}
    for answer in answers:
        if answer.source == "text":
            by_chat.setdefault(chats[answer.patient_id], []).append(answer.text or "")
    expected = [f"a little itchy, note {n}" for n in range(NOTES)]
    assert all(by_chat[u.id] == expected for u in patients)  # once each, in order
    workers = Counter(u.claimed_by for u in handled if u.status == "done")
    assert len(workers) >= 2  # more than one worker handled updates
    assert sandbox.violations == []
