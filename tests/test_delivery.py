"""Every Telegram outcome has its policy: delivered once, or not delivered with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from telegram import Bot

from bot.adapters.telegram_io import TelegramMessenger, TelegramRequest
from bot.rehearsal import Rehearsal
from bot.sandbox import BotMessage, Fault, SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.services.ports import MaybeDelivered, Page, Transient
from bot.store.models import CheckIn, Ping
from tests.conftest import paris
from tests.fakes import assert_instructed

QUESTION = "How are you feeling?"


async def day0(r: Rehearsal) -> CheckIn:
    async with r.db.unit_of_work() as uow:
        rows = (await uow.orm.exec(select(CheckIn).where(CheckIn.step_id == "day0"))).all()
    return rows[0]


async def test_server_errors_are_retried_with_backoff_and_never_fail_a_current_check_in(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", Fault.server_error(), chat_id=ana.id, times=99)
    r.clock.set(paris(2026, 11, 3, 19, 0))
    await r.tick()
    first = await day0(r)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.due_at == r.clock.now() + timedelta(seconds=30)  # backoff
    await r.advance(timedelta(minutes=30), step=timedelta(seconds=30))
    waiting = await day0(r)
    assert waiting.status == "pending"  # still current for the day: it waits, never fails
    assert waiting.attempts >= 4
    assert (waiting.reason or "").startswith("retrying: ")
    r.server.faults.clear()  # Telegram answers again
    await r.advance(timedelta(minutes=5), step=timedelta(seconds=30))
    sent = await day0(r)
    assert sent.status == "sent"
    assert sum(QUESTION in (m.text or "") for m in r.server.sent(ana.id)) == 1


async def test_chat_not_found_is_not_retried(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", Fault.chat_not_found(), chat_id=ana.id)
    r.clock.set(paris(2026, 11, 3, 19, 0))
    await r.tick()
    row = await day0(r)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "chat not found" in (row.reason or "").lower()
    sends = [q for q in r.server.requests if q.method == "sendMessage"
             and q.params.get("chat_id") == ana.id and QUESTION in str(q.params.get("text"))]
    assert len(sends) == 1


async def test_a_check_in_that_timed_out_after_delivery_is_not_sent_again(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", Fault.timeout_after_delivery(), chat_id=ana.id)
    r.clock.set(paris(2026, 11, 3, 19, 0))
    await r.advance(timedelta(hours=1))
    row = await day0(r)
    assert row.status == "sent"
    assert "timed out" in (row.reason or "")
    assert len([m for m in r.server.sent(ana.id) if QUESTION in (m.text or "")]) == 1


async def test_a_page_that_timed_out_is_sent_again(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", Fault.timeout(), chat_id=nurse.id)
    await r.say(ana, "I can't breathe properly")
    assert_instructed(r.server, ana.id)
    await r.advance(timedelta(seconds=30), step=timedelta(seconds=15))
    pages = [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "")]
    assert len(pages) == 1  # the lost attempt never arrived; the retry did


async def test_a_crashed_page_claim_is_taken_back_after_its_lease(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", Fault.timeout(), chat_id=nurse.id)  # the first try is lost
    await r.say(ana, "my tongue is swelling")
    async with r.db.unit_of_work() as uow:  # a worker claims the retry, then dies before sending
        claimed = await uow.queue.claim_due(
            Ping, r.clock.now() + timedelta(seconds=20), limit=10, lease=timedelta(minutes=2)
        )
    assert len(claimed) == 1
    r.clock.advance(seconds=30)
    await r.tick()
    assert [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "")] == []
    r.clock.advance(minutes=2)  # the lease runs out
    await r.tick()
    pages = [m for m in r.server.sent(nurse.id) if "EMERGENCY" in (m.text or "")]
    assert len(pages) == 1


async def test_a_504_from_a_front_is_read_as_a_timeout_and_a_502_as_a_retry() -> None:
    """Over HTTP, a timeout reaches the bot as 504 Gateway Timeout: the message may be on the
    phone, so it is a timeout (check-ins are not resent), not a plain network error."""
    front = SandboxHTTP(SandboxTelegram())
    ana = front.server.user("Ana")
    bot = Bot(front.server.token, base_url=f"{front.url}/bot", request=TelegramRequest())
    messenger = TelegramMessenger(bot)
    front.server.inject("sendMessage", Fault.timeout_after_delivery(), chat_id=ana.id)
    front.server.inject("sendMessage", Fault.server_error(), chat_id=ana.id)
    try:
        async with bot:
            with pytest.raises(MaybeDelivered):
                await messenger.send(ana.id, "Day 1")
            with pytest.raises(Transient):
                await messenger.send(ana.id, "Day 1")
    finally:
        await front.close()
    assert [m.text for m in front.server.sent(ana.id)] == ["Day 1"]  # performed once


async def test_a_page_goes_out_even_when_the_patients_reply_fails(rehearsal: Rehearsal) -> None:
    """The page a red flag raises is claimed by the handler that wrote it: if Telegram fails
    the patient's reply, the nurse is still paged at once, not after the claim lapses."""
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.clock.set(paris(2026, 11, 4, 3, 12))
    r.server.inject("sendMessage", Fault.server_error(), chat_id=ana.id)
    await r.say(ana, "can't get air, throat feels like its closing up")
    assert "EMERGENCY" in r.server.last(nurse.id).text
    async with r.db.unit_of_work() as uow:
        pings = (await uow.orm.exec(select(Ping))).all()
    assert [(p.status, p.attempts) for p in pings] == [("sent", 1)]


async def test_a_page_left_unsent_by_a_dead_handler_goes_out_soon_and_only_once(
    rehearsal: Rehearsal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page an answer raises is claimed by the handler that wrote it. If that process dies
    before sending it, the dispatcher sends it about 30 s later, not a whole lease later; and
    a handler that comes back late to a page the dispatcher took does not send it again."""
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.clock.set(paris(2026, 11, 4, 3, 12))
    paging = r.services.paging
    send_later, held = paging.send, []

    async def dies_first(pages: list[Page]) -> int:
        held.extend(pages)
        return 0

    monkeypatch.setattr(paging, "send", dies_first)
    await r.say(ana, "can't get air, throat feels like its closing up")
    assert [p.chat_id for p in held] == [nurse.id]

    def pages() -> list[BotMessage]:
        return [m for m in r.server.sent(nurse.id) if "EMERGENCY" in m.text]

    await r.advance(timedelta(seconds=20), step=timedelta(seconds=10))
    assert pages() == []  # still the handler's to send
    await r.advance(timedelta(seconds=20), step=timedelta(seconds=10))
    assert len(pages()) == 1  # the dispatcher took it back and sent it
    assert await send_later(held) == 0  # the late handler finds it taken: no second page
    assert len(pages()) == 1
