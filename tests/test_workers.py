"""Delivery under crashes and several workers, with real `aftercare run` processes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from bot.sandbox import Fault, SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from bot.store.migrate import upgrade
from bot.store.models import CheckIn, Escalation, Patient, Ping
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    seed_due_checkins,
    seed_due_pings,
    start_bot,
    wait_for,
)

pytestmark = pytest.mark.clock
CONCURRENCY = 16
OK = 200
POLL_DATABASE = 0.2  # seconds between looks at the rows while the bot finishes


def delivered(sandbox: SandboxTelegram, chats: set[int]) -> Counter[int]:
    """How many check-ins each chat received (a request that timed out after Telegram
    performed it counts: the message is on the phone)."""
    return Counter(
        q.params["chat_id"] for q in sandbox.requests
        if q.method == "sendMessage" and q.status == OK and q.params.get("chat_id") in chats
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
    async with db.unit_of_work() as uow:
        rows = (await uow.orm.exec(select(CheckIn))).all()
    assert Counter(r.status for r in rows) == Counter({"sent": 1500})
    await db.dispose()
    assert sandbox.violations == []


def pages(sandbox: SandboxTelegram, chats: set[int]) -> Counter[tuple[int, str]]:
    """How many times each clinician received each page (the seeded pages read "PAGE <id>";
    in clinic hours the clinicians also get the morning summary, which is not a page)."""
    return Counter(
        (q.params["chat_id"], first) for q in sandbox.requests
        if q.method == "sendMessage" and q.status == OK and q.params.get("chat_id") in chats
        and (first := str(q.params["text"]).split("\n")[0]).startswith("PAGE ")
    )


FINAL = {"sent", "failed", "cancelled", "skipped"}


async def unfinished(db: Database) -> int:
    """Check-ins and pings still to be sent or being sent (a row waiting out Telegram's 5xx
    with its backoff is settled: it waits, current, until Telegram answers)."""
    async with db.unit_of_work() as uow:
        rows = [*(await uow.orm.exec(select(CheckIn))).all(),
                *(await uow.orm.exec(select(Ping))).all()]
    return sum(r.status not in FINAL and not waiting(r) for r in rows)


def waiting(row: CheckIn | Ping) -> bool:
    """Failed many times over (the "5xx for good" group), and waiting on."""
    return (row.status == "pending" and row.attempts >= 6
            and (row.reason or "").startswith("retrying: "))


Groups = dict[str, tuple[list[int], Fault, int]]


def arm_faults(sandbox: SandboxTelegram, chat: list[int], nurses: list[int]) -> Groups:
    """Faults for the check-ins of some patients, and for the nurses' first pages."""
    groups: Groups = {  # chats whose check-in meets a fault: the fault, how many times
        "rate limited": (chat[0:40], Fault.retry_after(1), 1),
        "5xx twice": (chat[40:80], Fault.server_error(), 2),
        "5xx for good": (chat[80:100], Fault.server_error(), 99),
        "timed out, not delivered": (chat[100:130], Fault.timeout(), 1),
        "timed out, delivered": (chat[130:160], Fault.timeout_after_delivery(), 1),
        "blocked": (chat[160:175], Fault.blocked(), 1),
        "chat not found": (chat[175:190], Fault.chat_not_found(), 1),
    }
    for members, fault, times in groups.values():
        for c in members:
            sandbox.inject("sendMessage", fault, chat_id=c, times=times)
    sandbox.inject("sendMessage", Fault.retry_after(1), chat_id=nurses[0], times=2)
    sandbox.inject("sendMessage", Fault.timeout(), chat_id=nurses[0])
    sandbox.inject("sendMessage", Fault.server_error(), chat_id=nurses[1], times=3)
    return groups


def check_outcomes(
    groups: Groups, row: dict[int, CheckIn], counts: Counter[int], told: set[int]
) -> None:
    """Each chat's check-in: delivered once, or recorded with the reason its fault gives;
    `told` are the chats the clinic got a notice about."""
    chats = set(row)
    never = {c for g in ("5xx for good", "timed out, not delivered", "blocked",
                         "chat not found") for c in groups[g][0]}
    for c in never:
        assert counts[c] == 0
    assert all(counts[c] >= 1 for c in chats - never)  # everyone else got their check-in
    twice = [c for c, n in counts.items() if n > 1]
    # Only what was in flight at a kill repeats (see the single-kill test), per kill.
    assert len(twice) < 2 * 2 * CONCURRENCY
    assert max(counts.values()) <= 2

    def outcome(c: int, says: str) -> tuple[str, bool]:
        """The row's status, and whether its reason says `says`."""
        return row[c].status, says.lower() in (row[c].reason or "").lower()

    for c in groups["5xx for good"][0]:  # never failed while current: it waits
        assert outcome(c, "retrying: ") == ("pending", True)
    for c in groups["chat not found"][0]:
        assert outcome(c, "chat not found") == ("failed", True)
    for c in groups["blocked"][0]:
        assert outcome(c, "patient blocked the bot") == ("cancelled", True)
    for name in ("timed out, not delivered", "timed out, delivered"):
        for c in groups[name][0]:
            assert outcome(c, "may not have been delivered; not resent") == ("sent", True)
    for c in chats - never - set(groups["timed out, delivered"][0]):
        assert row[c].status == "sent"
    # The clinic hears of every check-in that will not arrive.
    assert {c for g in ("blocked", "chat not found") for c in groups[g][0]} <= told


async def test_telegram_faults_and_two_kills_every_message_delivered_once_or_recorded(
    front: SandboxHTTP, tmp_path: Path
) -> None:
    """429s, 5xx, timeouts (a 504 from the front), blocked and unknown chats, and a `kill -9`
    while pages go out, then another while check-ins go out: every check-in and every page
    ends delivered once, or recorded with why not; only what was in flight at a kill repeats.
    """
    sandbox = front.server
    zone = daytime_zone()
    env = environment(
        tmp_path, front.url, sandbox.token, SEND_PER_SECOND="400",
        SEND_CHAT_INTERVAL_SECONDS="0.05", SEND_CONCURRENCY=str(CONCURRENCY),
        CLAIM_LEASE_SECONDS="3", RETRY_BASE_SECONDS="0.2", MAX_ATTEMPTS="3",
        CLINIC_TIMEZONE=zone.key,
    )
    await cli(env, "db", "upgrade", json_out=False)
    users = [sandbox.user(f"F{n}") for n in range(1200)]
    chat = [u.id for u in users]
    chats = set(chat)
    nurses = [sandbox.user("Nurse A").id, sandbox.user("Nurse B").id]
    db = Database(env["DATABASE_URL"])
    await seed_due_checkins(db, chat, zone)
    async with db.unit_of_work() as uow:
        by_chat = {p.chat_id: p.id for p in (await uow.orm.exec(select(Patient))).all()}
    await seed_due_pings(db, nurses, [by_chat[c] or 0 for c in chat[:60]])

    groups = arm_faults(sandbox, chat, nurses)

    # Kill 1: while the pages go out (they go ahead of check-ins).
    bot = await start_bot(env, "run-1.log")
    await wait_for(lambda: sum(pages(sandbox, set(nurses)).values()) >= 30, "30 pages", 60)
    bot.send_signal(signal.SIGKILL)
    await bot.wait()
    assert sum(pages(sandbox, set(nurses)).values()) < 120, "kill 1 came too late"
    # Kill 2: while the check-ins go out.
    bot = await start_bot(env, "run-2.log")
    await wait_for(lambda: sum(delivered(sandbox, chats).values()) >= 300, "300 sends", 60)
    bot.send_signal(signal.SIGKILL)
    await bot.wait()
    assert sum(delivered(sandbox, chats).values()) < 1000, "kill 2 came too late"

    bot = await start_bot(env, "run-3.log")
    try:
        for _ in range(600):  # until every row has its outcome (retries take seconds)
            if await unfinished(db) == 0:
                break
            await asyncio.sleep(POLL_DATABASE)
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
    assert await unfinished(db) == 0

    async with db.unit_of_work() as uow:
        checkins = {r.patient_id: r for r in (await uow.orm.exec(select(CheckIn))).all()}
        pings = (await uow.orm.exec(select(Ping))).all()
        notices = {e.patient_id for e in (await uow.orm.exec(select(Escalation))).all()
                   if e.kind == "notice"}
    await db.dispose()
    row = {c: checkins[by_chat[c] or 0] for c in chat}
    told = {c for c in chat if by_chat[c] in notices}
    check_outcomes(groups, row, delivered(sandbox, chats), told)

    assert Counter(p.status for p in pings) == Counter({"sent": 120})
    paged = pages(sandbox, set(nurses))
    assert set(paged) == {(n, f"PAGE {by_chat[c]}") for n in nurses for c in chat[:60]}
    assert sum(n - 1 for n in paged.values()) <= 2  # at most the page in flight, per kill
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
