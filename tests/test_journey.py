"""A patient's follow-up end to end through the real Application and the sandbox."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.core.clock import FakeClock
from bot.core.content import Content
from bot.rehearsal import Rehearsal
from bot.store.db import Database
from tests.conftest import paris
from tests.fakes import assert_instructed

PARIS = ZoneInfo("Europe/Paris")


async def test_enrol_consent_and_first_checkin(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    assert "receives escalations" in r.server.last(nurse.id).text

    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 30))
    texts = [m.text for m in r.server.sent(ana.id)]
    assert texts[0].startswith("Hello Ana!")
    assert any("you're enrolled" in t for t in texts)
    assert any("Cold compress" in t for t in texts)  # day-0 tips with the welcome

    await r.run_until(paris(2026, 11, 3, 19, 5))
    checkin = r.server.last(ana.id)
    assert "Evening of your treatment" in checkin.text
    assert "✅ All good" in checkin.labels

    await r.press(ana, "Itching")
    await r.press(ana, "Mild")
    await r.press(ana, "Done")
    reply = r.server.last(ana.id).text
    assert "normal course" in reply
    assert "Don't scratch" in reply
    assert r.server.sent(nurse.id)[-1].text.startswith("Welcome")  # no ping for normal course


async def test_red_flag_pages_clinician_and_ack_updates_every_copy(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana, nurse, doctor = r.server.user("Ana"), r.server.user("Nurse"), r.server.user("Doctor")
    await r.invite_clinician(nurse)
    await r.invite_clinician(doctor)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 30))
    r.clock.advance(timedelta(hours=30))

    await r.say(ana, "my lips are swelling and I can't breathe properly")
    assert_instructed(r.server, ana.id)
    for clinician in (nurse, doctor):
        ping = r.server.last(clinician.id)
        assert "EMERGENCY" in ping.text
        assert "Ana" in ping.text
        assert "anaphylaxis / angioedema red flag" in ping.text
        assert ping.labels == ["Acknowledge", "Resolve", "📞 Call patient", "📈 Timeline"]

    await r.press(nurse, "Acknowledge")
    for clinician in (nurse, doctor):
        ping = r.server.last(clinician.id)
        assert "Acknowledged by Nurse" in ping.text
        assert ping.labels == ["Resolve", "📞 Call patient", "📈 Timeline"]
    await r.process(doctor.press(r.server.last(doctor.id).message_id, "e:1:a"))
    assert "Already acknowledged by Nurse" in r.server.callback_answers[-1]["text"]


async def test_fourteen_days_across_dst_with_answers_pings_and_acknowledgement(
    database: Database,
) -> None:
    clock = FakeClock(paris(2027, 3, 23, 10, 15))
    async with Rehearsal(database, clock) as r:
        ana, martin = r.server.user("Ana"), r.server.user("Martin")
        await r.invite_clinician(martin)
        await r.enrol(ana, session_at=paris(2027, 3, 23, 10, 0), areas="face, neck")
        scripted = {
            1: ["Itching", "Mild", "Done"],
            5: ["Bruising", "Mild", "Done"],
            7: ["Bruising", "Mild", "Same", "Done"],
        }
        answered: set[int] = set()
        replies: dict[int, str] = {}
        while clock.now() < paris(2027, 4, 6, 12, 0):
            await r.advance(timedelta(hours=1), step=timedelta(hours=1))
            last = r.server.last(ana.id)
            day = (clock.now().astimezone(PARIS).date() - date(2027, 3, 23)).days
            if "How are you feeling?" in last.text and last.message_id not in answered:
                answered.add(last.message_id)
                assert last.date.astimezone(PARIS).hour in {10, 19}
                for label in scripted.get(day, ["✅ All good"]):
                    await r.press(ana, label)
                replies[day] = r.server.last(ana.id).text
            if day == 8 and clock.now().astimezone(PARIS).hour == 18:
                await r.say(ana, "/report")
                for label in ("Bruising", "Moderate", "Worse", "Done"):
                    await r.press(ana, label)
                replies[8] = r.server.last(ana.id).text
            if day == 11 and clock.now().astimezone(PARIS).hour == 20:
                await r.say(ana, "one spot on my cheek is turning grey")
                assert_instructed(r.server, ana.id)
                replies[11] = r.server.last(ana.id).text
                await r.press(martin, "Acknowledge")

        assert sorted(replies) == [0, 1, 2, 3, 5, 7, 8, 10, 11, 14]
        assert "Don't scratch" in replies[1]
        assert "normal course" in replies[7]  # bruising on day 7 is still normal
        assert "passed this on to your clinic" in replies[8]
        assert "I've alerted your clinic" in replies[11]
        messages = [m.text or "" for m in r.server.sent(martin.id)[1:]]
        assert len(messages) == 2
        # The routine item (day 8, 18:00 on a Wednesday) waits for Thursday's summary.
        summary = next(m for m in r.server.sent(martin.id) if "Summary" in (m.text or ""))
        assert summary.date.astimezone(PARIS).strftime("%a %H") == "Thu 09"  # first tick
        # Still open on day 11, the routine item took the red flag in (one open escalation
        # per patient): raised to an emergency, paged, and every copy reads as it now is.
        assert "🔴 EMERGENCY · Ana (#1) · day 11" in (summary.text or "")
        emergency = next(m for m in messages if m.startswith("🔴 EMERGENCY · Ana"))
        assert "✅ Acknowledged by Martin" in emergency
        assert "Raised from what was open since" in emergency
        assert "present beyond its normal course" in emergency  # day 8's item, below


async def test_the_command_menu_reads_as_the_content_words_it(
    rehearsal: Rehearsal, content: Content
) -> None:
    menus = {q.params.get("language_code", ""): q for q in rehearsal.server.requests
             if q.method == "setMyCommands"}
    assert set(menus) == {"", "fr", "es", "ru"}  # the default, and one per other language
    shown = {c["command"]: c["description"] for c in menus[""].params["commands"]}
    assert shown["forget"] == content.messages["menu_forget"]
    assert list(shown) == ["start", "status", "report", "help", "language", "stop", "mydata",
                           "forget"]
    french = {c["command"]: c["description"] for c in menus["fr"].params["commands"]}
    assert french["forget"] == "Effacer vos données"
