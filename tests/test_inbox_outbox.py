"""The inbox and the outbox, through the real Application against the sandbox: nothing a
patient sends or is told is lost, nothing is done twice, a bad update never blocks a chat,
and a dead worker's claims come back in seconds."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal
from bot.sandbox import Fault
from bot.sandbox.users import SandboxUser
from bot.services.inbox import HOLD, OVERFLOW_WAIT, PER_CHAT
from bot.services.lanes import Gate
from bot.services.liveness import Liveness
from bot.store.db import Database
from bot.store.models import (
    Answer,
    CheckIn,
    Escalation,
    InboxUpdate,
    OutboxMessage,
    Patient,
    PatientStatus,
    TreatmentSession,
    Worker,
)
from tests.conftest import enrolled, paris

RED_FLAG = "my lips are swelling and I can't breathe"
CALL = "Please call 112 now"


def told(r: Rehearsal, user: SandboxUser, words: str) -> int:
    """How many messages in the chat say `words`."""
    return sum(words in (m.text or "") for m in r.server.sent(user.id))


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.unit_of_work() as uow:
        return list((await uow.orm.exec(select(model))).all())


async def test_an_update_stored_twice_or_handled_twice_has_one_effect(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    update = ana.say(RED_FLAG)
    await r.services.inbox.receive([update])
    await r.services.inbox.receive([update])  # Telegram sent it again (not confirmed yet)
    await r.services.inbox.drain()
    await r.process(update)  # and once more after it was handled
    assert told(r, ana, CALL) == 1
    assert len([e for e in await rows(r.db, Escalation) if e.kind == "clinical"]) == 1
    assert sum("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id)) == 1
    stored = [u for u in await rows(r.db, InboxUpdate) if u.update_id == update["update_id"]]
    assert [(u.status, u.payload) for u in stored] == [("done", None)]  # words not kept


async def test_a_chats_updates_are_handled_in_their_order(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _, ana = await enrolled(r)
    words = [f"a little itchy, note {n}" for n in range(8)]
    await r.services.inbox.receive([ana.say(w) for w in words])
    await r.services.inbox.drain()
    answers = sorted(await rows(r.db, Answer), key=lambda a: a.id)
    assert [a.text for a in answers if a.source == "text"] == words


async def test_a_bad_update_is_retried_then_parked_and_never_blocks_the_chat(
    rehearsal: Rehearsal, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rehearsal
    _, ana = await enrolled(r)
    real = r.services.checkins.message

    async def fragile(chat_id: int, text: str, **kw: Any) -> Any:
        if "BOOM" in text:
            raise RuntimeError("a bug")
        return await real(chat_id, text, **kw)

    monkeypatch.setattr(r.services.checkins, "message", fragile)
    bad = ana.say("BOOM")
    await r.services.inbox.receive([bad, ana.say("a little itchy today")])
    await r.services.inbox.drain()
    assert told(r, ana, "itch") >= 1  # the message behind the bad one was answered at once
    for _ in range(6):  # the retries: 2, 4, 8, 16 s, then parked
        r.clock.advance(timedelta(seconds=20))
        await r.services.inbox.drain()
    (row,) = [u for u in await rows(r.db, InboxUpdate) if u.update_id == bad["update_id"]]
    assert (row.status, row.attempts, row.error) == ("parked", 5, "RuntimeError")
    assert told(r, ana, "Sorry") == 1  # one apology, when it gave up, not one per try


async def test_a_reply_that_meets_429s_and_a_5xx_is_delivered_later_once(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    _, ana = await enrolled(r)
    r.server.inject("sendMessage", Fault.retry_after(2), chat_id=ana.id, times=2)
    r.server.inject("sendMessage", Fault.server_error(), chat_id=ana.id)
    before = len(r.server.sent(ana.id))
    await r.say(ana, "a little itchy today")
    assert len(r.server.sent(ana.id)) == before  # Telegram refused: the row waits
    (row,) = [o for o in await rows(r.db, OutboxMessage) if o.status == "pending"]
    assert row.chat_id == ana.id
    for _ in range(8):
        r.clock.advance(timedelta(seconds=30))
        await r.tick()
    assert len(r.server.sent(ana.id)) == before + 1
    assert {o.status for o in await rows(r.db, OutboxMessage)} == {"sent"}


async def test_the_emergency_instruction_gets_through_any_number_of_429s(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    r.server.inject("sendMessage", Fault.retry_after(1), chat_id=ana.id, times=10)
    await r.say(ana, RED_FLAG)
    assert told(r, ana, CALL) == 0
    assert sum("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id)) == 1
    for _ in range(12):
        r.clock.advance(timedelta(seconds=1))
        await r.tick()
    assert told(r, ana, CALL) == 1


async def test_a_timed_out_instruction_is_sent_again(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _, ana = await enrolled(r)
    r.server.inject("sendMessage", Fault.timeout(), chat_id=ana.id)
    await r.say(ana, RED_FLAG)
    for _ in range(3):
        r.clock.advance(timedelta(seconds=20))
        await r.tick()
    assert told(r, ana, CALL) == 1  # the first try never arrived; the resend did


async def test_a_ten_minute_outage_ends_with_everything_current_delivered_once(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    bea = r.server.user("Bea")
    await r.enrol(bea, session_at=paris(2026, 11, 3, 8, 0))
    r.clock.set(paris(2026, 11, 3, 18, 55))
    r.server.inject("*", Fault.server_error(), times=100_000)
    await r.say(ana, RED_FLAG)
    for _ in range(20):  # ten minutes: the day-0 check-ins fall due meanwhile
        r.clock.advance(timedelta(seconds=30))
        await r.tick()
    assert told(r, ana, CALL) == 0
    waiting = [c.reason or "" for c in await rows(r.db, CheckIn) if c.status == "pending"
               and c.local_date == date(2026, 11, 3)]
    assert len(waiting) == 2  # never failed while current
    assert sum(w.startswith("retrying: ") for w in waiting) == 1  # Bea's
    assert sum(w.startswith("held: ") for w in waiting) == 1  # Ana's, until her emergency is seen
    r.server.faults.clear()
    for _ in range(6):  # within seconds of Telegram's return, not after the backoff
        r.clock.advance(timedelta(seconds=1))
        await r.tick()
    assert told(r, ana, CALL) == 1
    # The page too, once: the ladder's steps meanwhile did not write it again.
    pages = [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "") and m.labels]
    assert len(pages) == 1
    assert told(r, bea, "How are you feeling?") == 1
    assert told(r, ana, "How are you feeling?") == 0


async def test_a_dead_workers_claims_come_back_within_seconds(
    database: Database, clock: FakeClock
) -> None:
    now = clock.now()
    async with database.unit_of_work() as uow:
        patient = await uow.add(Patient(name="P", timezone="Europe/Paris", chat_id=1,
                                        status=PatientStatus.ACTIVE, created_at=now))
        assert patient.id is not None
        session = await uow.add(TreatmentSession(patient_id=patient.id, session_at=now,
                                                 created_at=now))
        assert session.id is not None
        for step, owner in (("dead", "w-dead"), ("alive", "w-alive")):
            uow.save(CheckIn(patient_id=patient.id, session_id=session.id, step_id=step,
                             day=0, local_date=now.date(), due_at=now, status="claimed",
                             claimed_at=now, claimed_by=owner, attempts=1))
        for owner, silent in (("w-dead", 30), ("w-alive", 1)):
            uow.save(Worker(id=owner, started_at=now, beat_at=now - timedelta(seconds=silent)))
    me = Liveness(timedelta(seconds=10))

    async def claim() -> list[str]:
        async with database.unit_of_work() as uow:
            claimed = await uow.queue.claim_checkins(
                clock.now(), limit=10, lease=timedelta(minutes=2),
                holder=me.holder(clock.now()),
            )
        return [c.step_id for c, _ in claimed]

    assert await me.beat(database, clock.now())
    assert await claim() == []  # our own heartbeat is too new to judge the others
    clock.advance(timedelta(seconds=10))
    assert await me.beat(database, clock.now())
    async with database.unit_of_work() as uow:  # the live worker beats on
        await uow.queue.beat(Worker(id="w-alive", started_at=now, beat_at=clock.now()))
    assert await claim() == ["dead"]  # 10 s later, not after the 2-minute lease


async def test_the_handling_gate_lets_a_red_flag_go_first() -> None:
    gate = Gate(1)
    order: list[str] = []
    release = asyncio.Event()

    async def work(name: str, *, urgent: bool = False) -> None:
        async with gate.slot(urgent=urgent):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.create_task(work("first"))
    await asyncio.sleep(0)
    routine = [asyncio.create_task(work(f"routine-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    flag = asyncio.create_task(work("red flag", urgent=True))
    await asyncio.sleep(0)
    routine[0].cancel()  # a waiter that gives up does not keep its place
    release.set()
    await asyncio.gather(first, flag, *routine[1:])
    assert order == ["first", "red flag", "routine-1", "routine-2"]


async def test_an_instruction_still_on_its_way_when_the_outbox_takes_over_goes_once(
    rehearsal: Rehearsal,
) -> None:
    """Handling waits a moment for the instruction sent on receipt; when that send is slower
    (a loaded Telegram), the outbox takes over but waits for the send under way instead of
    sending a second 'call 112 now' behind it."""
    r = rehearsal
    nurse, ana = await enrolled(r)
    lifeline, messenger = r.services.lifeline, r.services.deps.messenger
    lifeline.settle_wait = 0.05
    slow = asyncio.Event()
    send = messenger.send

    async def slow_send(chat_id: int, text: str, *args: Any, **kwargs: Any) -> int:
        if CALL in text and not slow.is_set():
            slow.set()
            await asyncio.sleep(0.3)  # past the settle wait, as under load
        return await send(chat_id, text, *args, **kwargs)

    messenger.send = slow_send  # type: ignore[method-assign]
    await r.say(ana, RED_FLAG)
    await r.services.outbox.idle()
    await lifeline.idle()
    assert slow.is_set()
    assert told(r, ana, CALL) == 1
    assert sum("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id)) == 1
    emergency = [o for o in await rows(r.db, OutboxMessage) if o.kind == "emergency"]
    assert [(o.status, o.reason) for o in emergency] == [
        ("sent", "sent on receipt, before the update was handled")]


async def test_a_red_flag_on_its_way_from_one_worker_is_not_handled_by_another(
    rehearsal: Rehearsal,
) -> None:
    """The worker that received a red flag holds it while its instruction is on the way: a
    second worker sharing the inbox does not handle it meanwhile and instruct again."""
    r = rehearsal
    nurse, ana = await enrolled(r)
    messenger = r.services.deps.messenger
    send = messenger.send

    async def slow_send(chat_id: int, text: str, *args: Any, **kwargs: Any) -> int:
        if CALL in text:
            await asyncio.sleep(0.3)
        return await send(chat_id, text, *args, **kwargs)

    messenger.send = slow_send  # type: ignore[method-assign]
    async with Rehearsal(r.db, r.clock, settings=r.settings, server=r.server) as other:
        await r.services.inbox.receive([ana.say(RED_FLAG)])
        await other.services.inbox.drain()  # it finds nothing it may take
        await r.services.inbox.drain()
        await r.services.lifeline.idle()
        await other.services.lifeline.idle()
    assert told(r, ana, CALL) == 1
    assert sum("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id)) == 1
    assert len(await rows(r.db, Escalation)) == 1


async def test_one_chat_s_flood_does_not_keep_other_chats_waiting(rehearsal: Rehearsal) -> None:
    """Claimed updates wait here up to HOLD; one chat's flood could fill that and leave
    every other chat unclaimed until it drained. A chat is held only up to PER_CHAT."""
    r = rehearsal
    _, ana = await enrolled(r)
    bea = r.server.user("Bea")
    await r.enrol(bea, session_at=paris(2026, 11, 3, 8, 0))
    inbox = r.services.inbox
    await inbox.receive([ana.say(f"a bit itchy, note {n}") for n in range(500)])
    await inbox.receive([bea.say("a little sore today")])
    for _ in range(3):  # as the run loop claims: never past HOLD
        if len(inbox._held) < HOLD:
            await inbox.take()
    held = list(inbox._held.values())
    assert bea.id in held  # claimed at once, not after hundreds of Ana's
    assert held.count(ana.id) <= PER_CHAT
    backlog = -1
    for _ in range(200):  # and everything is handled in the end, each chat in order
        r.clock.advance(timedelta(seconds=OVERFLOW_WAIT))
        await inbox.drain()
        while inbox._tasks:  # the overflow set back for later (written in the background)
            await asyncio.wait(set(inbox._tasks))
        async with r.db.unit_of_work() as uow:
            backlog, _ = await uow.inbox.backlog()
        if backlog == 0:
            break
    assert told(r, bea, "") >= 1
    assert backlog == 0


async def test_a_file_or_picture_is_a_row_too_and_is_retried_until_delivered(
    rehearsal: Rehearsal,
) -> None:
    """/mydata's file met a 502: it waits in the outbox like any message, then goes."""
    r = rehearsal
    _, ana = await enrolled(r)
    r.server.inject("sendDocument", Fault.server_error(), chat_id=ana.id)
    await r.say(ana, "/mydata")
    assert [m for m in r.server.sent(ana.id) if m.document] == []
    for _ in range(3):
        r.clock.advance(timedelta(seconds=30))
        await r.tick()
    [document] = [m for m in r.server.sent(ana.id) if m.document]
    assert document.file_name == "mydata-1.json"
    files = [o for o in await rows(r.db, OutboxMessage) if o.kind == "document"]
    assert [(o.status, o.media) for o in files] == [("sent", None)]  # its bytes not kept


async def test_a_backlog_is_read_once_on_receipt_not_again_when_claimed(
    rehearsal: Rehearsal,
) -> None:
    """Under a backlog of thousands of messages, each is triaged once on receipt for the
    emergency instruction; claiming it later reuses that reading instead of reading it again
    (it used to be forgotten after 2,000), and handling it frees the memory."""
    r = rehearsal
    _nurse, ana = await enrolled(r)
    lifeline = r.services.lifeline
    reads: list[str] = []
    read = lifeline.checkins.is_red_flag

    def counted(text: str, *args: Any) -> bool:
        reads.append(text)
        return read(text, *args)

    lifeline.checkins.is_red_flag = counted  # type: ignore[method-assign]
    backlog = [ana.say(f"a bit sore today, day {i}") for i in range(2_500)]
    lifeline.start(backlog)
    assert len(reads) == 2_500
    assert not any(lifeline.is_red_flag(u) for u in backlog)
    assert len(reads) == 2_500  # known, not read again
    lifeline.handled(backlog[0]["update_id"])
    assert not lifeline.is_red_flag(backlog[0])
    assert len(reads) == 2_501  # forgotten once handled: read afresh if it comes back
