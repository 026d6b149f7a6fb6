"""Issue 14: when the triage cannot tell whether a red-flag topic is a present red flag, the
patient is asked the red-flag question (the warning signs as buttons, "None of these"),
neither reassured nor told to call emergency services; an unanswered question becomes an
escalation after the content's time."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from bot.store.models import CheckIn, Escalation
from tests.conftest import paris
from tests.fakes import assert_instructed

SIGN = "Trouble breathing or swallowing"
NONE = "None of these"
CALL = "Please call 112 now"


async def enrolled(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 5, 10, 0))  # day 2, daytime
    return nurse, ana


async def escalations(r: Rehearsal) -> list[Escalation]:
    """Escalations about what the patient said (not the silence of the days before)."""
    async with r.db.unit_of_work() as uow:
        raised = (await uow.orm.exec(select(Escalation))).all()
    return [e for e in raised if e.rules != ["non-response"]]


async def test_an_unsure_red_flag_is_asked_about_and_none_carries_on(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    before = len(r.server.sent(ana.id))
    await r.say(ana, "What should I do if my lips ever swell? Everything is fine now")
    [asked] = r.server.sent(ana.id)[before:]  # one short message, nothing else
    assert "one quick safety question" in asked.text
    assert SIGN in asked.labels
    assert NONE in asked.labels
    assert CALL not in asked.text
    assert "normal course" not in asked.text
    assert await escalations(r) == []
    await r.press(ana, NONE, message_id=asked.message_id)
    edited = next(m for m in r.server.sent(ana.id) if m.message_id == asked.message_id)
    assert "✔ None of these" in edited.text
    assert edited.buttons == []
    assert "Glad to hear" in r.server.last(ana.id).text  # what it would have said
    assert not any(CALL in (m.text or "") for m in r.server.sent(ana.id))
    await r.advance(timedelta(minutes=30))
    assert await escalations(r) == []  # answered: nothing for the clinic
    await r.say(nurse, "/patient 1")
    timeline = next(m.text or "" for m in r.server.sent(nurse.id)
                    if (m.text or "").startswith("📋 Ana"))
    assert "warning-sign question after a message sent, answered" in timeline
    assert ": none of these" in timeline


async def test_a_sign_tapped_on_the_question_is_an_emergency(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.say(ana, "no trouble breathing I think, just a bit sore")
    asked = r.server.last(ana.id)
    assert NONE in asked.labels
    await r.press(ana, SIGN, message_id=asked.message_id)
    assert_instructed(r.server, ana.id)
    assert any("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id))
    [raised] = await escalations(r)
    assert raised.level == "emergency"


async def test_an_unanswered_question_becomes_an_escalation_once(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.say(ana, "I fainted as a kid at the dentist, just so you know")
    assert NONE in r.server.last(ana.id).labels
    await r.advance(timedelta(minutes=14), step=timedelta(minutes=1))
    assert await escalations(r) == []  # the patient has the content's 15 minutes
    await r.advance(timedelta(minutes=2), step=timedelta(minutes=1))
    [raised] = await escalations(r)
    assert raised.level == "urgent"
    assert "red-flag-question" in raised.rules  # joined to what was open, if anything
    page = r.server.last(nurse.id).text
    assert "warning-sign question" in page
    assert "Ana" in page
    await r.advance(timedelta(hours=2))
    assert len(await escalations(r)) == 1  # asked once, escalated once
    async with r.db.unit_of_work() as uow:
        [question] = (await uow.orm.exec(select(CheckIn).where(CheckIn.kind == "screen"))).all()
    assert question.answered_at is None  # still answerable: a sign tapped now still counts


async def test_an_urgent_reading_pages_at_once_while_the_question_waits(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    pages_before = len(r.server.sent(nurse.id))
    await r.say(ana, "the pain is unbearable, 9/10. I fainted as a kid, could that happen now?")
    asked = r.server.last(ana.id)
    assert NONE in asked.labels
    assert len(r.server.sent(nurse.id)) > pages_before  # the urgent page did not wait
    [raised] = await escalations(r)
    assert raised.level == "urgent"
    await r.press(ana, NONE, message_id=asked.message_id)
    assert "clinician" in r.server.last(ana.id).text  # the urgent reply, held back till now


async def test_what_none_carries_on_with_keeps_its_buttons(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _nurse, ana = await enrolled(r)
    await r.say(ana, "my friend said lips can swell up after this, could mine?")
    asked = r.server.last(ana.id)
    await r.press(ana, NONE, message_id=asked.message_id)
    held_back = r.server.last(ana.id)
    assert "saved your message" in held_back.text
    assert held_back.labels == ["Report a symptom"]
    assert await escalations(r) == []  # a friend's lips: nothing of the patient's to page


async def test_a_burst_of_unsure_messages_is_one_escalation(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _nurse, ana = await enrolled(r)
    await r.say(ana, "could my lips swell up from this?")
    await r.say(ana, "I fainted as a kid at the dentist, just so you know")
    questions = [m for m in r.server.sent(ana.id) if NONE in m.labels]
    assert len(questions) == 2  # each message asked, and each still answerable
    await r.advance(timedelta(minutes=20), step=timedelta(minutes=1))
    [raised] = await escalations(r)  # only the newest question escalates
    assert "red-flag-question" in raised.rules


async def test_words_after_the_question_answer_it(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _nurse, ana = await enrolled(r)
    await r.say(ana, "could my lips swell up from this?")
    assert NONE in r.server.last(ana.id).labels
    await r.say(ana, "no none of those, all fine, just curious")
    await r.advance(timedelta(minutes=30), step=timedelta(minutes=1))
    assert await escalations(r) == []
