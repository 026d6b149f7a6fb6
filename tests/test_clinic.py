"""The clinic's side: the escalation ladder, summaries, roles, timelines, photos, silence."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlmodel import select

from bot.core import callbacks as cb
from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.sandbox import SandboxUser
from bot.store.db import Database
from bot.store.models import Escalation, Ping
from tests.conftest import paris
from tests.fakes import assert_instructed
from tests.media_helpers import kept

SORE_SEVERE = ("Soreness", "Severe", "Done")
REFUSAL = "Sorry, this is only for the clinic's registered clinicians."


def person(r: Rehearsal, name: str) -> SandboxUser:
    return next(u for u in r.server.users() if u.first_name == name)


async def patient_reports(r: Rehearsal, labels: tuple[str, ...], name: str = "Ana") -> SandboxUser:
    ana = r.server.user(name)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0), phone="+33 6 12 34 56 78")
    await r.say(ana, "/report")
    for label in labels:
        await r.press(ana, label)
    return ana


def pages(r: Rehearsal, name: str) -> list[str]:
    return [m.text or "" for m in r.server.sent(person(r, name).id) if "URGENT" in (m.text or "")
            or "EMERGENCY" in (m.text or "")]


async def test_an_unacknowledged_urgent_page_climbs_the_rota(clinic: Rehearsal) -> None:
    r = clinic
    await patient_reports(r, SORE_SEVERE)
    await r.tick()
    assert (len(pages(r, "Nurse")), len(pages(r, "Doctor")), len(pages(r, "Admin"))) == (1, 0, 0)
    await r.advance(timedelta(minutes=29))
    assert len(pages(r, "Doctor")) == 0  # still within the nurse's 30 minutes
    await r.advance(timedelta(minutes=2))
    assert (len(pages(r, "Nurse")), len(pages(r, "Doctor")), len(pages(r, "Admin"))) == (2, 1, 0)
    await r.advance(timedelta(minutes=30))
    assert (len(pages(r, "Nurse")), len(pages(r, "Doctor")), len(pages(r, "Admin"))) == (3, 2, 1)


async def test_acknowledging_stops_the_ladder_and_updates_every_copy(clinic: Rehearsal) -> None:
    r = clinic
    await patient_reports(r, SORE_SEVERE)
    await r.advance(timedelta(minutes=31))  # the nurse missed it: the doctor is paged too
    doctor = person(r, "Doctor")
    await r.press(doctor, "Acknowledge")
    copies = [m for name in ("Nurse", "Doctor") for m in r.server.sent(person(r, name).id)
              if "URGENT" in (m.text or "")]
    assert len(copies) == 3
    for copy in copies:
        assert "✅ Acknowledged by Doctor" in (copy.text or "")
        assert "Acknowledge" not in copy.labels
    await r.advance(timedelta(hours=3))
    assert len(pages(r, "Admin")) == 0
    await r.process(person(r, "Nurse").press(copies[0].message_id, cb.escalation(1, "a")))
    assert r.server.callback_answers[-1]["text"].startswith("Already acknowledged by Doctor")


async def test_a_ladder_step_is_paged_once_even_if_two_dispatchers_run_it(
    clinic: Rehearsal,
) -> None:
    r = clinic
    await patient_reports(r, SORE_SEVERE)
    r.clock.advance(minutes=31)
    first, second = r.services.escalations, r.services.escalations
    assert await first.advance_ladders() == [1]
    assert await second.advance_ladders() == []
    async with r.db.unit_of_work() as uow:
        steps = [(p.clinician_id, p.step) for p in await uow.escalations.pings_of(1)]
    assert sorted(steps) == [(1, 0), (1, 1), (2, 1)]


async def test_emergency_timeout_takes_fractions_of_a_minute(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(ana, "my throat is closing up")
    assert len(pages(r, "Nurse")) == 1
    await r.advance(timedelta(seconds=40), step=timedelta(seconds=10))
    assert len(pages(r, "Doctor")) == 1


async def test_routine_items_wait_for_one_morning_summary(clinic: Rehearsal) -> None:
    r = clinic
    r.clock.set(paris(2026, 11, 5, 19, 30))  # Thursday evening, clinic closed
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 10, 31, 8, 0))
    await r.say(ana, "/report")
    for label in ("Swelling", "Mild", "Done"):  # day 5: past swelling's normal course
        await r.press(ana, label)
    bea = r.server.user("Bea")
    await r.enrol(bea, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(bea, "can someone call me please")
    await r.run_until(paris(2026, 11, 6, 8, 55))
    nurse = person(r, "Nurse")
    assert not any("Summary" in (m.text or "") for m in r.server.sent(nurse.id))
    await r.run_until(paris(2026, 11, 6, 9, 20))
    summaries = [m for m in r.server.sent(nurse.id) if "Summary" in (m.text or "")]
    assert len(summaries) == 1
    summary = summaries[0]
    assert "2 items that can wait" in (summary.text or "")  # CLDR's plural forms
    assert "Ana (#1) · day 5" in (summary.text or "")
    assert "Bea (#2)" in (summary.text or "")
    await r.press(nurse, "✅ Take Ana", message_id=summary.message_id)
    for name in ("Nurse", "Doctor", "Admin"):
        shown = next(m for m in r.server.sent(person(r, name).id) if "Summary" in (m.text or ""))
        assert "✅ Acknowledged by Nurse" in (shown.text or "")
    await r.run_until(paris(2026, 11, 6, 17, 0))
    assert len([m for m in r.server.sent(nurse.id) if "Summary" in (m.text or "")]) == 1


async def test_resolve_asks_for_the_outcome_and_closes_every_copy(clinic: Rehearsal) -> None:
    r = clinic
    await patient_reports(r, SORE_SEVERE)
    await r.tick()
    nurse = person(r, "Nurse")
    await r.press(nurse, "Resolve")
    assert r.server.last(nurse.id).text.startswith("Resolving #1")
    await r.say(nurse, "called her, advised cold packs; review Monday")
    assert r.server.last(nurse.id).text == "#1 is resolved. Thank you."
    assert r.server.last(nurse.id).labels == ["📤 Send this note to the patient"]
    ping = next(m for m in r.server.sent(nurse.id) if "URGENT" in (m.text or ""))
    assert "✔️ Resolved by Nurse" in (ping.text or "")
    assert "called her, advised cold packs" in (ping.text or "")
    assert ping.labels == ["📈 Timeline"]
    await r.say(nurse, "/open")
    assert "No open escalations" in r.server.last(nurse.id).text
    await r.advance(timedelta(hours=2))
    assert len(pages(r, "Doctor")) == 0


async def test_a_resolved_note_goes_to_the_patient_once_if_the_clinician_chooses(
    clinic: Rehearsal,
) -> None:
    r = clinic
    ana = await patient_reports(r, SORE_SEVERE)
    await r.tick()
    nurse = person(r, "Nurse")
    await r.press(nurse, "Acknowledge")
    assert "Nurse from" in (r.server.last(ana.id).text or "")  # a person has seen it
    await r.press(nurse, "Resolve")
    await r.say(nurse, "cold packs twice a day; we will see you on Monday")
    await r.press(nurse, "📤 Send this note to the patient")
    told = r.server.last(ana.id).text or ""
    assert told.startswith("A note from Nurse at")
    assert "cold packs twice a day" in told
    forged = nurse.press(r.server.last(nurse.id).message_id, "e:1:s")  # a replayed press
    await r.process(forged)
    assert r.server.last(ana.id).text == told  # sent once


async def test_call_patient_shows_the_number_to_clinicians_only(clinic: Rehearsal) -> None:
    r = clinic
    ana = await patient_reports(r, SORE_SEVERE)
    await r.tick()
    nurse = person(r, "Nurse")
    await r.press(nurse, "📞 Call patient")
    answer = r.server.callback_answers[-1]
    assert answer["text"] == "Ana (#1): +33 6 12 34 56 78"
    assert answer["show_alert"] is True
    await r.process(ana.press(r.server.last(ana.id).message_id, cb.escalation(1, "c")))
    assert r.server.callback_answers[-1]["text"] == REFUSAL


async def test_nobody_else_can_use_clinician_commands_or_buttons(clinic: Rehearsal) -> None:
    r = clinic
    ana = await patient_reports(r, SORE_SEVERE)
    stranger = r.server.user("Stranger")
    for who in (ana, stranger):
        for command in ("/patients", "/patient 1", "/patient Ana", "/open", "/stats",
                        "/enrol", "/clinicians", "/rota 1", "/deactivate 1"):
            await r.say(who, command)
            assert r.server.last(who.id).text == REFUSAL, (who.first_name, command)
        for action in "arct":
            await r.process(who.press(r.server.last(who.id).message_id, cb.escalation(1, action)))
            assert r.server.callback_answers[-1]["text"] in {REFUSAL, None}
    nurse = person(r, "Nurse")
    for command in ("/clinicians", "/rota 2 1", "/deactivate 2"):
        await r.say(nurse, command)  # a clinician, but not an admin
        assert r.server.last(nurse.id).text == REFUSAL
    async with r.db.unit_of_work() as uow:
        (escalation,) = (await uow.orm.exec(select(Escalation))).all()
    assert escalation.acked_at is None


async def test_admin_manages_the_rota_and_deactivates(clinic: Rehearsal) -> None:
    r = clinic
    admin = person(r, "Admin")
    await r.say(admin, "/rota 2 1")
    assert r.server.last(admin.id).text == "On-call rota: Doctor → Nurse"
    await r.say(admin, "/deactivate 1")
    assert "Nurse (#1) is deactivated" in r.server.last(admin.id).text
    await r.say(person(r, "Nurse"), "/patients")
    assert r.server.last(person(r, "Nurse").id).text == REFUSAL
    await patient_reports(r, SORE_SEVERE)
    await r.tick()
    assert (len(pages(r, "Doctor")), len(pages(r, "Nurse"))) == (1, 0)


async def test_timeline_with_chart_from_a_ping_and_from_patient(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 3, 19, 5))
    for label in ("Bruising", "Moderate", "Done"):
        await r.press(ana, label)
    r.clock.set(paris(2026, 11, 12, 12, 0))  # day 9
    await r.say(ana, "bruise still there, about the same, and it hurts really badly now")
    nurse = person(r, "Nurse")
    await r.tick()
    await r.press(nurse, "📈 Timeline")
    texts = [m.text or "" for m in r.server.sent(nurse.id)[-3:]]
    timeline = next(t for t in texts if t.startswith("📋 Ana (patient #1)"))
    assert "day 0 check-in sent, answered" in timeline
    assert "Bruising (moderate" in timeline
    assert "🟠 URGENT #1" in timeline
    chart = r.server.sent(nurse.id)[-1]
    assert chart.photo is not None
    image = Image.open(io.BytesIO(chart.photo))
    assert image.format == "PNG"
    assert image.size[0] >= 600
    await r.say(nurse, "/patient ana")
    assert r.server.sent(nurse.id)[-2].text.startswith("📋 Ana (patient #1)")
    await r.say(nurse, "/patients")
    assert r.server.last(nurse.id).text.splitlines()[1].startswith("#1 Ana · day 9 · 🟠 URGENT")


async def test_a_photo_reaches_the_clinicians_with_its_escalation(clinic: Rehearsal) -> None:
    r = clinic
    ana = await patient_reports(r, SORE_SEVERE)
    await r.tick()
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 60)).save(picture, format="JPEG")
    await r.process(ana.send_photo(data=picture.getvalue(), caption="this is how it looks"))
    assert "the photo is with what you reported" in r.server.last(ana.id).text
    forwarded = r.server.last(person(r, "Nurse").id)
    assert forwarded.photo == picture.getvalue()
    assert "for escalation #1" in (forwarded.text or "")
    assert await kept(r) == [picture.getvalue()]
    await r.press(person(r, "Nurse"), "📈 Timeline")
    strip = r.server.last(person(r, "Nurse").id)
    assert strip.text == "Photos by day"
    assert Image.open(io.BytesIO(strip.photo or b"")).format == "PNG"


async def test_wrong_files_and_oversized_photos_get_a_clear_answer(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.process(ana.send_document(b"%PDF-1.4", "report.pdf", "application/pdf"))
    assert "not this kind of file" in r.server.last(ana.id).text
    big = b"\xff\xd8" + b"0" * (11 * 1024 * 1024)
    await r.process(ana.send_document(big, "huge.jpg", "image/jpeg"))
    assert "too large" in r.server.last(ana.id).text
    small = io.BytesIO()
    Image.new("RGB", (10, 10)).save(small, format="PNG")
    await r.process(ana.send_document(small.getvalue(), "cheek.png", "image/png"))
    assert "the photo is in your record" in r.server.last(ana.id).text


async def test_a_silent_patient_is_nudged_once_then_flagged(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 4, 10, 5))  # day-0 and day-1 check-ins, unanswered
    nudges = [m for m in r.server.sent(ana.id) if (m.text or "").startswith("Just checking")]
    assert len(nudges) == 0  # day 0's re-ask would fall at 01:00: quiet hours, then stale
    await r.run_until(paris(2026, 11, 4, 16, 30))
    nudges = [m for m in r.server.sent(ana.id) if (m.text or "").startswith("Just checking")]
    assert len(nudges) == 1
    assert "✅ All good" in nudges[0].labels
    await r.run_until(paris(2026, 11, 6, 9, 30))
    summary = next(m for m in r.server.sent(person(r, "Nurse").id) if "Summary" in (m.text or ""))
    assert "not responding: 2 check-ins in a row unanswered" in (summary.text or "")
    await r.run_until(paris(2026, 11, 9, 9, 30))
    alerts = [
        m for m in r.server.sent(person(r, "Nurse").id) if "not responding" in (m.text or "")
    ]
    assert len(alerts) == 1  # one alert per silence


async def test_enrol_in_the_chair_gives_a_working_link_and_qr(clinic: Rehearsal) -> None:
    r = clinic
    nurse = person(r, "Nurse")
    await r.say(nurse, "/enrol")
    await r.say(nurse, "Chloé Martin")
    await r.press(nurse, "Now")
    await r.press(nurse, "face")
    await r.press(nurse, "neck")
    await r.press(nurse, "✔ face")  # untick
    await r.press(nurse, "🌐 Español")  # what she reads (else her Telegram's at consent)
    assert "✔ Español" in r.server.last(nurse.id).labels
    await r.press(nurse, "Done")
    card = r.server.last(nurse.id)
    assert card.photo is not None
    assert Image.open(io.BytesIO(card.photo)).format == "PNG"
    link = (card.text or "").splitlines()[-1]
    assert link.startswith(f"https://t.me/{r.server.bot_username}?start=")
    chloe = r.server.user("Chloé")
    await r.say(chloe, f"/start {link.split('=', 1)[1]}")
    await r.press(chloe, r.server.last(chloe.id).labels[0])  # "Sí, acepto"
    async with r.db.unit_of_work() as uow:
        patient = await uow.patients.by_chat(chloe.id)
        sessions = await uow.patients.sessions_of(patient.id or 0) if patient else []
    assert patient is not None
    assert patient.name == "Chloé Martin"
    assert [s.areas for s in sessions] == ["neck"]
    assert patient.language == "es"


async def test_stats_after_some_follow_up(clinic: Rehearsal) -> None:
    r = clinic
    await patient_reports(r, SORE_SEVERE)
    await r.tick()
    r.clock.advance(minutes=12)
    await r.press(person(r, "Nurse"), "Acknowledge")
    figures = await r.services.stats.figures()
    assert (figures.enrolled, figures.active) == (1, 1)
    assert figures.escalations == {"urgent": 1}
    assert figures.ack_median_minutes == 12.0
    await r.say(person(r, "Admin"), "/stats")
    text = r.server.last(person(r, "Admin").id).text
    assert "Patients enrolled: 1, of whom consented: 1, active now: 1" in text
    assert "median 12 min" in text


async def test_pings_survive_a_restart_without_double_paging(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    settings = sandbox_settings(database.url, storage_dir=tmp_path)
    server = None
    async with Rehearsal(database, clock, settings=settings) as first:
        server = first.server
        await first.invite_clinician(server.user("Nurse"))
        ana = server.user("Ana")
        await first.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
        await first.say(ana, "/report")
        for label in SORE_SEVERE:
            await first.press(ana, label)
    async with Rehearsal(database, clock, settings=settings, server=server) as second:
        await second.advance(timedelta(minutes=31))
        async with second.db.unit_of_work() as uow:
            pings = (await uow.orm.exec(select(Ping))).all()
        assert sorted((p.step, p.status) for p in pings) == [(0, "sent"), (1, "sent")]


async def test_a_patient_who_answers_in_her_own_words_is_not_reasked(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 4, 10, 5))  # day 1's check-in
    await r.say(ana, "a little swollen but it's fine, thanks")
    await r.run_until(paris(2026, 11, 4, 19, 30))
    nudges = [m for m in r.server.sent(ana.id) if (m.text or "").startswith("Just checking")]
    assert nudges == []  # her words answered the check-in
    nurse = person(r, "Nurse")
    await r.say(nurse, "/patient 1")
    timeline = next(m.text or "" for m in reversed(r.server.sent(nurse.id))
                    if (m.text or "").startswith("📋 Ana"))
    assert "day 1 check-in sent, answered" in timeline
    await r.say(nurse, "/stats")
    assert "day 1: 1/1 (100%)" in (r.server.last(nurse.id).text or "")
    # Her words replied; the check-in's buttons still work: a warning sign is an emergency.
    checkin = next(m for m in reversed(r.server.sent(ana.id))
                   if "How are you feeling?" in (m.text or ""))
    await r.press(ana, "⚠️ Warning signs", message_id=checkin.message_id)
    await r.press(ana, "Skin white")
    assert_instructed(r.server, ana.id)


async def test_an_enrolment_in_the_chair_goes_on_whichever_worker_handles_each_step(
    clinic: Rehearsal,
) -> None:
    """Two workers share the inbox: each answer may reach either. The /enrol under way is
    kept with the clinician, not in one worker's memory."""
    one = clinic
    nurse = person(one, "Nurse")
    async with Rehearsal(one.db, one.clock, settings=one.settings, server=one.server) as two:
        await one.say(nurse, "/enrol")
        await two.say(nurse, "Chloé Martin")
        assert "When was the session" in (one.server.last(nurse.id).text or "")
        await one.press(nurse, "Now")
        await two.press(nurse, "neck")
        await one.press(nurse, "Done")
    card = one.server.last(nurse.id)
    assert card.photo is not None
    async with one.db.unit_of_work() as uow:
        [chloe] = [p for p in await uow.patients.all() if p.name == "Chloé Martin"]
        [session] = await uow.patients.sessions_of(chloe.id or 0)
    assert session.areas == "neck"


async def test_a_captioned_photo_answers_the_open_check_in(clinic: Rehearsal) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 4, 10, 5))  # day 1's check-in
    await r.process(ana.send_photo(caption="a little swollen, here is a picture"))
    await r.run_until(paris(2026, 11, 4, 19, 30))
    nudges = [m for m in r.server.sent(ana.id) if (m.text or "").startswith("Just checking")]
    assert nudges == []
    nurse = person(r, "Nurse")
    await r.say(nurse, "/stats")
    assert "day 1: 1/1 (100%)" in (r.server.last(nurse.id).text or "")


async def test_an_exhausted_ladder_is_told_to_the_admins_and_heads_every_summary(
    clinic: Rehearsal,
) -> None:
    r = clinic
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.clock.set(paris(2026, 11, 3, 14, 0))  # a Tuesday
    await r.say(ana, "my lips are swelling and I can't breathe")
    await r.advance(timedelta(minutes=10), step=timedelta(seconds=30))  # every step, no ack
    admin = person(r, "Admin")
    told = [m.text or "" for m in r.server.sent(admin.id) if "Nobody has acknowledged" in
            (m.text or "")]
    assert len(told) == 1
    assert "#1 (EMERGENCY)" in told[0]
    assert not [m for m in r.server.sent(person(r, "Nurse").id)
                if "Nobody has acknowledged" in (m.text or "")]  # the admins, not everyone
    for morning in (paris(2026, 11, 4, 9, 30), paris(2026, 11, 5, 9, 30)):
        await r.run_until(morning)
        summary = next(m.text or "" for m in reversed(r.server.sent(person(r, "Nurse").id))
                       if "Summary" in (m.text or ""))
        assert summary.splitlines()[1].startswith("1. 🔴")  # at the top, day after day
