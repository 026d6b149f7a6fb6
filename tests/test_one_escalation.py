"""One open escalation per patient, and a call request answered with when (issue 17, point 4)."""

from __future__ import annotations

from sqlmodel import select

from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from bot.store.models import Escalation, Ping
from tests.conftest import paris
from tests.fakes import assert_instructed


async def enrolled(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    r.clock.set(paris(2026, 11, 5, 10, 0))  # a Thursday, the clinic open
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    return nurse, ana


async def rows(r: Rehearsal) -> tuple[list[Escalation], list[Ping]]:
    async with r.db.unit_of_work() as uow:
        return (list((await uow.orm.exec(select(Escalation))).all()),
                list((await uow.orm.exec(select(Ping))).all()))


async def test_a_second_finding_joins_the_open_escalation(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.say(ana, "the pain in my cheek is unbearable, I can't sleep")
    await r.services.outbox.idle()
    page = r.server.last(nurse.id)
    assert (page.text or "").startswith("🟠 URGENT · Ana")
    await r.say(ana, "and the swelling is really bad too")
    await r.services.outbox.idle()
    assert "I've alerted your clinic" in (r.server.last(ana.id).text or "")  # as it was
    [escalation], pings = await rows(r)
    assert escalation.level == "urgent"
    assert len(pings) == 1
    shown = r.server.message_json(nurse.id, page.message_id)
    assert "➕ Also reported at" in (shown["text"])
    assert "Swelling" in shown["text"]


async def test_a_higher_finding_raises_it_and_pages_again_and_it_never_falls(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.say(ana, "the pain in my cheek is unbearable, I can't sleep")
    await r.services.outbox.idle()
    await r.press(nurse, "Acknowledge")
    await r.say(ana, "now my lips are swelling and my throat feels tight")
    await r.services.outbox.idle()
    assert_instructed(r.server, ana.id)
    [escalation], pings = await rows(r)
    assert escalation.level == "emergency"
    assert escalation.acked_at is None  # an emergency needs its own acknowledgement
    assert len(pings) == 2
    page = r.server.last(nurse.id).text or ""
    assert page.startswith("🔴 EMERGENCY · Ana")
    assert "Raised from what was open since" in page
    assert "graded severe" in page
    await r.say(ana, "the pain is still really bad")
    await r.services.outbox.idle()
    [escalation], pings = await rows(r)
    assert escalation.level == "emergency"
    assert len(pings) == 2


async def test_a_call_request_is_told_when_the_clinic_will_call(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _nurse, ana = await enrolled(r)
    await r.say(ana, "can someone call me please?")
    said = r.server.last(ana.id).text or ""
    # Thursday 10:00: today's summary has gone; the request is in Friday's, at opening.
    assert "asked your clinic to call you. Your request reaches them at the latest " \
        "when the clinic opens, on Friday at 09:00" in said
    assert "if needed" not in said
    r.clock.set(paris(2026, 11, 6, 19, 30))  # Friday evening: closed until Monday
    await r.say(ana, "could you phone me? I'm worried")
    said = r.server.last(ana.id).text or ""
    assert "when the clinic opens, on Monday at 09:00" in said


async def test_a_new_emergency_pages_again_even_when_one_is_open_and_acknowledged(
    rehearsal: Rehearsal,
) -> None:
    """An edit makes no sound on a clinician's phone: a second red flag is paged afresh."""
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.say(ana, "my lips are swelling and my throat feels tight")
    await r.services.outbox.idle()
    await r.press(nurse, "Acknowledge")
    await r.say(ana, "now one side of my face is drooping")
    await r.services.outbox.idle()
    [escalation], pings = await rows(r)
    assert escalation.level == "emergency"
    assert escalation.acked_at is None
    assert len(pings) == 2
    assert "Acknowledge" in r.server.last(nurse.id).labels
