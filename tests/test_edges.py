"""Safe at every edge: people outside the follow-up, nobody on call, messages the bot
cannot read. Through the real Application against the sandbox Telegram."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.rehearsal import Rehearsal
from bot.store.models import Answer, Escalation, InboxUpdate, Photo, Ping
from tests.conftest import PARIS, enrolled, paris
from tests.fakes import assert_instructed

RED_FLAG = "my lips are swelling and I can't breathe"
NOT_FOLLOWED = "This chat isn't part of a clinic follow-up, so no clinician has been told."


async def rows(r: Rehearsal, table: type) -> list:  # type: ignore[type-arg]
    async with r.db.unit_of_work() as uow:
        return list((await uow.orm.exec(select(table))).all())


async def test_a_stranger_writing_a_red_flag_is_told_to_call_and_nothing_is_kept(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, stranger = r.server.user("Nurse"), r.server.user("Stranger")
    await r.invite_clinician(nurse)
    await r.say(stranger, RED_FLAG)
    told = [m.text or "" for m in r.server.sent(stranger.id)]
    assert "Please call 112 now" in told[0]
    assert NOT_FOLLOWED in told[1]
    assert len(told) == 2  # not also "open the link your clinic gave you"
    assert await rows(r, Answer) == []
    assert await rows(r, Escalation) == []  # nobody to tell: not a patient
    assert all(u.payload is None for u in await rows(r, InboxUpdate))  # words not kept
    await r.say(stranger, "hello")  # anything else: the usual answer
    assert "link" in (r.server.last(stranger.id).text or "")


async def test_someone_who_declined_gets_the_instruction_and_the_clinic_a_bare_notice(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    invitation = await r.services.enrolment.invite_patient(
        name="Ana Lopez", session_at=paris(2026, 11, 3, 8, 0), areas="face")
    await r.say(ana, f"/start {invitation.token}")
    await r.press(ana, "No")
    await r.say(ana, RED_FLAG)
    told = [m.text or "" for m in r.server.sent(ana.id)]
    assert "Please call 112 now" in told[-2]
    assert "your clinic has been alerted" in told[-1]
    [alarm] = await rows(r, Escalation)
    assert alarm.level == "emergency"  # paged at once, not left for the morning summary
    assert "Ana Lopez" in alarm.body
    assert "lips" not in alarm.body  # no health details
    assert "breathe" not in alarm.body
    page = r.server.last(nurse.id).text or ""
    assert "Ana Lopez" in page
    assert "lips" not in page
    assert await rows(r, Answer) == []


async def test_a_photo_from_a_stranger_with_a_red_flag_caption_is_answered(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    stranger = r.server.user("Stranger")
    await r.process(stranger.send_photo(caption="throat is closing, can't swallow"))
    told = [m.text or "" for m in r.server.sent(stranger.id)]
    assert "Please call 112 now" in told[0]
    assert NOT_FOLLOWED in told[1]


async def test_with_nobody_on_call_the_patient_is_not_told_the_clinic_was_alerted(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(ana, RED_FLAG)
    assert_instructed(r.server, ana.id, paged=False)
    assert "alerted your clinic" not in " ".join(m.text or "" for m in r.server.sent(ana.id))
    [escalation] = await rows(r, Escalation)
    assert escalation.level == "emergency"
    assert await rows(r, Ping) == []
    await r.say(ana, "the swelling is severe and keeps getting worse")  # urgent
    last = r.server.last(ana.id).text or ""
    assert "No clinician at" in last
    assert "I've alerted" not in last
    [flagged] = await rows(r, Escalation)  # the urgent finding joined the open emergency
    assert flagged.unpaged_at is not None  # marked, shown on the page and in summaries
    nurse = r.server.user("Nurse")  # a clinician registers: the next ladder step pages her
    await r.invite_clinician(nurse)
    await r.advance(timedelta(minutes=10), step=timedelta(minutes=1))
    summary = next(m.text or "" for m in r.server.sent(nurse.id) if "Summary" in (m.text or ""))
    assert "Nobody could be paged" in summary.splitlines()[2]  # at the top, marked
    page = next(m.text or "" for m in r.server.sent(nurse.id)
                if (m.text or "").startswith("🔴 EMERGENCY"))
    assert "lips" in page
    [flagged] = await rows(r, Escalation)
    assert flagged.unpaged_at is None


async def test_a_sticker_or_a_location_gets_what_the_bot_reads_and_the_emergency_line(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    for update in (ana.send_sticker(), ana.send_location(48.85, 2.35), ana.send_animation(),
                   ana.send_dice(), ana.send_contact("+33 6 12 34 56 78")):
        await r.process(update)
        last = r.server.last(ana.id).text or ""
        assert "I can read text messages" in last
        assert "call 112 now" in last


async def test_a_file_the_bot_cannot_keep_is_answered_with_the_emergency_line(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana, stranger = r.server.user("Ana"), r.server.user("Stranger")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.process(ana.send_document())  # a PDF
    last = r.server.last(ana.id).text or ""
    assert "not this kind of file" in last
    assert "call 112 now" in last
    await r.process(stranger.send_photo())  # nothing kept, and the emergency line
    last = r.server.last(stranger.id).text or ""
    assert "isn't part of a clinic follow-up" in last
    assert "call 112 now" in last
    assert await rows(r, Photo) == []


async def test_an_emergency_holds_the_check_ins_until_a_clinician_has_seen_it(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 12, 0))
    await r.say(ana, RED_FLAG)
    await r.run_until(paris(2026, 11, 3, 19, 30))  # the evening check-in is due at 19:00
    checkins = [m for m in r.server.sent(ana.id) if "How are you feeling?" in (m.text or "")]
    assert checkins == []  # not "how are you today?" while the emergency waits
    page = next(m for m in reversed(r.server.sent(nurse.id)) if "Acknowledge" in m.labels)
    await r.press(nurse, "Acknowledge", message_id=page.message_id)
    seen = r.server.last(ana.id).text or ""
    assert "Nurse from" in seen
    assert "has seen what you reported" in seen
    await r.advance(timedelta(minutes=10))
    checkins = [m for m in r.server.sent(ana.id) if "How are you feeling?" in (m.text or "")]
    assert len(checkins) == 1  # released by the acknowledgement


async def test_an_emergency_nobody_acknowledges_holds_the_check_ins_for_the_set_time_only(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    _nurse, ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 12, 0))
    await r.say(ana, RED_FLAG)
    await r.run_until(paris(2026, 11, 4, 11, 0), step=timedelta(minutes=30))
    checkins = [m for m in r.server.sent(ana.id) if "How are you feeling?" in (m.text or "")]
    assert checkins, "held past EMERGENCY_HOLD_HOURS (12 h)"
    assert all(8 <= m.date.astimezone(PARIS).hour < 22 for m in checkins)  # never at night


async def test_a_deep_link_that_spells_a_red_flag_is_not_an_emergency(
    rehearsal: Rehearsal,
) -> None:
    """A link's token is random letters with "-" and "_": one can read "pale" or "web"
    (seen once in 300 busy mornings). "/start <token>" is not the patient's words."""
    r = rehearsal
    ana = r.server.user("Ana")
    await r.say(ana, "/start Xk3_web-pale_Q9a")
    sent = [m.text or "" for m in r.server.sent(ana.id)]
    assert not any("Please call" in text for text in sent)
    assert "link" in sent[-1]  # the answer to a link that is not valid
    await r.say(ana, "/report my lips are swelling and I can't breathe")
    assert any("Please call 112 now" in (m.text or "") for m in r.server.sent(ana.id))


async def test_after_stop_a_red_flag_is_answered_but_not_kept_and_the_clinic_told_bare(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana = await enrolled(r)
    await r.say(ana, "/stop")
    await r.press(ana, "Yes")
    notices = len(await rows(r, Escalation))  # "stopped the follow-up"
    await r.say(ana, "my bruise is a bit bigger today")
    assert "You stopped the follow-up, so this message was not kept" in (
        r.server.last(ana.id).text or "")
    await r.say(ana, RED_FLAG)
    await r.process(ana.send_photo(caption="throat is closing, can't swallow"))
    told = [m.text or "" for m in r.server.sent(ana.id)]
    assert "Please call 112 now" in told[-4]  # the words, then the photo's caption
    assert "Please call 112 now" in told[-2]
    assert "your clinic has been alerted" in told[-1]
    escalations = await rows(r, Escalation)
    # The caption's red flag joined the emergency raised by the words: one page, one record.
    assert [e.level for e in escalations[notices:]] == ["emergency"]
    assert all("who stopped the follow-up" in e.body for e in escalations[notices:])
    assert not any("lips" in e.body or "throat" in e.body for e in escalations)
    assert await rows(r, Answer) == []  # no words, no photo kept
    assert await rows(r, Photo) == []
    assert len(await rows(r, Ping)) == 1  # the nurse is paged at once, without details
    assert "lips" not in (r.server.last(nurse.id).text or "")
    await r.process(ana.send_voice())
    assert "this message was not kept" in (r.server.last(ana.id).text or "")
    assert await rows(r, Photo) == []
