"""What patients and clinicians see when they tap, type, or send something odd."""

from __future__ import annotations

from sqlmodel import select

from bot.adapters.content_files import load_content
from bot.core import callbacks as cb
from bot.core.checkin_flow import Draft
from bot.core.texts import checkin_screen
from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from bot.store.models import Answer, Escalation
from tests.conftest import paris
from tests.fakes import assert_instructed

ALL_GOOD = "✅ All good"
STALE = "This button is no longer valid."


async def enrolled(r: Rehearsal, name: str = "Ana") -> SandboxUser:
    user = r.server.user(name)
    await r.enrol(user, session_at=paris(2026, 11, 3, 8, 0))
    return user


def photo_file_id(r: Rehearsal, user: SandboxUser) -> str:
    """The file id of the largest size of the last photo the user sent."""
    sent = [q for q in r.server.requests if q.method == "getFile"]
    return str(sent[-1].params["file_id"])


async def answers(r: Rehearsal) -> list[Answer]:
    async with r.db.unit_of_work() as uow:
        return list((await uow.orm.exec(select(Answer).order_by(Answer.id))).all())


async def escalations(r: Rehearsal) -> list[Escalation]:
    async with r.db.unit_of_work() as uow:
        return list((await uow.orm.exec(select(Escalation))).all())


async def test_trend_is_asked_only_for_a_symptom_reported_last_time(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 19, 5))
    await r.press(ana, "Swelling")
    await r.press(ana, "Mild")
    assert "So far: Swelling (mild)" in r.server.last(ana.id).text
    await r.press(ana, "Done")
    await r.run_until(paris(2026, 11, 4, 10, 5))
    await r.press(ana, "Swelling")
    await r.press(ana, "Moderate")
    assert r.server.last(ana.id).labels[:3] == ["Better", "Same", "Worse"]
    await r.press(ana, "Worse")
    await r.press(ana, "Bruising")
    await r.press(ana, "Mild")  # not reported last time: no trend question
    assert "Bruising (mild, new since last time)" in r.server.last(ana.id).text
    await r.press(ana, "Done")
    assert "passed this on to your clinic" in r.server.last(ana.id).text
    last = (await answers(r))[-1]
    assert last.level == "routine"
    assert "G3-worsening" in last.rules


async def test_a_severe_answer_is_urgent_and_says_when_to_expect_contact(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 19, 5))
    for label in ("Soreness", "Severe", "Done"):
        await r.press(ana, label)
    reply = r.server.last(ana.id).text
    # 19:05: the clinic is closed, so the on-call clinician is told, and the patient so.
    assert "alerted the on-call clinician" in reply
    assert "when the clinic opens, on Wednesday at 09:00" in reply
    assert "Pain relief your clinic approves" in reply
    ping = r.server.last(nurse.id).text
    assert "URGENT" in ping
    assert "Soreness (severe)" in ping
    assert "Why: graded severe" in ping
    assert "G4" not in ping
    assert "Day 0" in ping
    assert "areas: face" in ping


async def test_warning_signs_button_is_an_emergency_at_night_too(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 19, 5))
    r.clock.set(paris(2026, 11, 3, 23, 40))  # quiet hours: an emergency ignores them
    await r.press(ana, "⚠️ Warning signs")
    await r.press(ana, "Skin white")
    assert_instructed(r.server, ana.id)
    ping = r.server.last(nurse.id)
    assert "EMERGENCY" in ping.text
    assert ping.date == r.clock.now().replace(microsecond=0)


async def test_replayed_done_is_answered_once(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 19, 5))
    await r.press(ana, "Soreness")
    await r.press(ana, "Severe")
    checkin = r.server.last(ana.id)
    done = next(data for label, data in checkin.buttons[0] if label.startswith("Done"))
    await r.process(ana.press(checkin.message_id, done))
    await r.process(ana.press(checkin.message_id, done))
    assert r.server.callback_answers[-1]["text"] == "This check-in is already answered. Thank you!"
    assert len(await answers(r)) == 1
    assert len(await escalations(r)) == 1
    assert len([m for m in r.server.sent(nurse.id) if "URGENT" in m.text]) == 1


async def test_forged_and_garbage_presses_change_nothing(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r, "Ana")
    bob = await enrolled(r, "Bob")
    await r.run_until(paris(2026, 11, 3, 19, 5))
    ana_checkin = r.server.last(ana.id)
    ana_done = ana_checkin.buttons[0][0][1]  # Ana's "All good"
    await r.process(bob.press(r.server.last(bob.id).message_id, ana_done))
    assert r.server.callback_answers[-1]["text"] == STALE
    for data in ("c:99999:ok", "zz", "e:1:a", "k:1:y", "c:1:s:../../etc", "x"):
        await r.process(bob.press(r.server.last(bob.id).message_id, data))
        assert r.server.callback_answers[-1]["text"] in {
            STALE,
            "Sorry, this is only for the clinic's registered clinicians.",
            "This link has already been used. If you're the patient it was meant for, "
            "you're already enrolled: try /status. Otherwise ask Aftercare Clinic for a new link.",
        }
    assert await answers(r) == []
    assert ALL_GOOD in r.server.last(ana.id).labels  # Ana's check-in is untouched


async def test_a_patient_cannot_acknowledge_a_ping(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.say(ana, "I can't breathe")
    await r.process(ana.press(r.server.last(ana.id).message_id, cb.escalation(1, "a")))
    assert r.server.callback_answers[-1]["text"].startswith("Sorry, this is only")
    (escalation,) = await escalations(r)
    assert escalation.acked_at is None


async def test_free_text_is_stored_and_acknowledged_with_a_way_to_report(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.say(ana, "I put the cream on this morning as you said")
    reply = r.server.last(ana.id)
    assert "saved your message" in reply.text
    assert reply.labels == ["Report a symptom"]
    assert [(a.source, a.text) for a in await answers(r)] == [
        ("note", "I put the cream on this morning as you said")
    ]
    assert await escalations(r) == []
    await r.press(ana, "Report a symptom")
    assert "How are you feeling?" in r.server.last(ana.id).text
    await r.press(ana, ALL_GOOD)
    said = r.server.last(ana.id).text or ""
    assert said.startswith("Glad to hear it")  # a reply that fits "all good"
    assert "What you describe" not in said


async def test_negated_red_flag_is_not_an_emergency(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.say(ana, "No trouble breathing, just a small bruise")
    asked = r.server.last(ana.id)
    assert "Please call 112 now" not in asked.text  # not told to call: asked (issue 14)
    assert "None of these" in asked.labels
    assert await escalations(r) == []


async def test_a_photo_caption_with_a_red_flag_is_an_emergency(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.process(ana.send_photo(caption="the spot is turning blue and cold"))
    assert_instructed(r.server, ana.id)
    ping, photo = r.server.sent(nurse.id)[-2:]
    assert "vascular compromise" in (ping.text or "")
    assert "RF-VASC" not in (ping.text or "")
    assert photo.photo == r.server.file_bytes(photo_file_id(r, ana))
    assert "for escalation #1" in (photo.text or "")


async def test_huge_text_is_kept_and_answered(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.say(ana, "é" * 4096)
    assert "saved your message" in r.server.last(ana.id).text
    (answer,) = await answers(r)
    assert answer.text == "é" * 4096


async def test_stop_confirm_then_silence_then_start_resumes(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.say(ana, "/stop")
    await r.press(ana, "No")
    assert "continues" in r.server.last(ana.id).text
    await r.say(ana, "/stop")
    await r.press(ana, "Yes")
    assert "nothing more will be sent" in r.server.last(ana.id).text
    await r.tick()  # Tuesday 09:00: the clinic is open, the notice comes in the summary
    assert "stopped the follow-up" in r.server.last(nurse.id).text
    before = len(r.server.sent(ana.id))
    await r.run_until(paris(2026, 11, 5, 12, 0))
    assert len(r.server.sent(ana.id)) == before
    r.clock.set(paris(2026, 11, 6, 9, 0))
    await r.say(ana, "/start")
    assert "resumed" in r.server.last(ana.id).text
    await r.run_until(paris(2026, 11, 6, 10, 30))
    assert r.server.last(ana.id).text.startswith("Day 3")


async def test_status_and_help(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.say(ana, "/status")
    assert r.server.last(ana.id).text == (
        "Day 0 after your treatment. Next check-in: Tue 03 Nov 19:00. "
        "The follow-up ends on Tue 01 Dec."
    )
    await r.say(ana, "/help")
    assert "/report" in r.server.last(ana.id).text


async def test_strangers_unknown_commands_stickers_and_groups(rehearsal: Rehearsal) -> None:
    r = rehearsal
    stranger = r.server.user("Stranger")
    await r.say(stranger, "/status")
    assert "open the link your clinic gave you" in r.server.last(stranger.id).text
    await r.say(stranger, "hello?")
    assert "open the link your clinic gave you" in r.server.last(stranger.id).text
    await r.say(stranger, "/frobnicate")
    assert "don't know that command" in r.server.last(stranger.id).text
    await r.process(stranger.send_sticker())
    assert "text messages, photos and button taps" in r.server.last(stranger.id).text
    group = r.server.group()
    before = len(r.server.requests)
    await r.process(stranger.say("/start hello", chat_id=group))
    assert [q.method for q in r.server.requests[before:]] == []


async def test_clinician_text_gets_clinician_help(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    await r.say(nurse, "hi")
    assert "Escalations from patients arrive here" in r.server.last(nurse.id).text


async def test_forged_severity_codes_are_refused(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.run_until(paris(2026, 11, 3, 19, 5))
    await r.press(ana, "Soreness")
    screen = r.server.last(ana.id)
    checkin_id = screen.buttons[0][0][1].split(":")[1]  # type: ignore[union-attr]
    for forged in (f"c:{checkin_id}:v", f"c:{checkin_id}:v:12", f"c:{checkin_id}:v:9"):
        await r.process(ana.press(screen.message_id, forged))
        assert r.server.callback_answers[-1]["text"] == STALE
    await r.press(ana, "Mild")
    assert "Soreness (mild)" in r.server.last(ana.id).text


async def test_off_topic_messages_get_a_polite_answer_and_trigger_nothing(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.say(ana, "thanks so much, see you next week!")
    assert r.server.last(ana.id).text.startswith("You're welcome!")
    await r.say(ana, "how much is the next session? can I book for december")
    assert "appointments, prices" in r.server.last(ana.id).text
    await r.say(ana, "all good here 👍")
    assert r.server.last(ana.id).text.startswith("Glad to hear")
    assert await escalations(r) == []
    assert [a.source for a in await answers(r)] == ["note", "note", "note"]


async def test_written_symptom_gets_tips_or_a_clarifying_question(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.say(ana, "just a little itchy tonight")
    reply = r.server.last(ana.id).text
    assert "normal course" in reply
    assert "Don't scratch" in reply
    r.clock.set(paris(2026, 11, 6, 11, 0))  # day 3
    await r.say(ana, "still itching, and my cheek is swollen now")
    await r.say(ana, "the itching drives me mad")
    question = r.server.last(ana.id)
    assert question.text.startswith("Itching: compared with your last check-in")
    assert question.labels == ["Better", "Same", "Worse"]
    await r.press(ana, "Worse")
    assert "passed this on to your clinic" in r.server.last(ana.id).text
    await r.tick()  # routine: in the summary, which goes out during clinic hours
    summary = r.server.last(nurse.id)
    assert "worse than at the previous check-in" in (summary.text or "")
    assert "G3" not in (summary.text or "")
    better = question.buttons[0][0][1]
    assert better is not None
    await r.process(ana.press(question.message_id, better))  # a replay changes nothing
    assert r.server.callback_answers[-1]["text"] == STALE
    await r.tick()
    assert len([m for m in r.server.sent(nurse.id) if "ROUTINE" in m.text]) == 1


async def test_a_typed_red_flag_pages_in_the_same_second_at_night(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    r.clock.set(paris(2026, 11, 4, 3, 12))
    await r.say(ana, "can't get air, throat feels like its closing up")
    assert_instructed(r.server, ana.id)
    ping = r.server.last(nurse.id)
    assert "EMERGENCY" in ping.text
    assert ping.date == r.clock.now().replace(microsecond=0)


def test_the_cached_opening_screen_addresses_each_check_in() -> None:
    """The dispatcher reuses one opening keyboard per step; every button must still name the
    check-in it belongs to, exactly as a keyboard built for that check-in would."""
    content = load_content()
    template = checkin_screen(content, 0, "Day 1.", Draft())[1]
    for checkin_id in (1, 123, 9_876_543_210):
        built = checkin_screen(content, checkin_id, "Day 1.", Draft())[1]
        assert cb.for_checkin(template, checkin_id) == built
        assert all(
            isinstance(p := cb.parse(b.data), cb.CheckinPress) and p.checkin_id == checkin_id
            for row in built for b in row
        )
