"""The schedule is rows: due check-ins go out once, late ones are explained, restarts lose
nothing. Time moves only through the fake clock; the dispatcher runs when ticked."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal
from bot.sandbox import BotMessage, SandboxTelegram
from bot.store.db import Database
from bot.store.models import CheckIn, Status
from scheduler import jobs
from tests.conftest import paris

PARIS = ZoneInfo("Europe/Paris")
HOUR = timedelta(hours=1)
QUESTION = "How are you feeling?"
NUDGE = "Just checking in again"


def checkins(server: SandboxTelegram, chat_id: int) -> list[BotMessage]:
    """Check-in messages as first sent (re-asks of an unanswered one are not new check-ins)."""
    return [
        m for m in server.sent(chat_id) if QUESTION in m.text and not m.text.startswith(NUDGE)
    ]


def checkins_sent(server: SandboxTelegram, chat_id: int) -> list[str]:
    return [m.text.split("\n")[0] for m in checkins(server, chat_id)]


async def rows(r: Rehearsal, patient_id: int | None) -> dict[str, CheckIn]:
    async with r.db.unit_of_work() as uow:
        return {c.step_id: c for c in await uow.checkins.checkins_of(patient_id or 0)}


async def test_late_enrolment_sends_todays_checkin_at_once_and_explains_the_rest(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    r.clock.set(paris(2026, 11, 5, 15, 0))  # day 2 of a session on 3 November
    ana = r.server.user("Ana")
    invitation = await r.enrol(ana, session_at=paris(2026, 11, 3, 10, 0))
    assert checkins_sent(r.server, ana.id) == ["Day 2. Tenderness usually fades by today."]
    by_step = await rows(r, invitation.patient_id)
    for step in ("day0", "day1"):
        assert by_step[step].status == Status.SKIPPED
        assert "had passed" in (by_step[step].reason or "")
    assert by_step["day2"].status == Status.SENT
    assert by_step["day3"].status == Status.PENDING


async def test_consent_in_quiet_hours_waits_for_morning_then_the_day_s_own_checkin(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    r.clock.set(paris(2026, 11, 5, 22, 30))  # day 2, after its 10:00 check-in, quiet hours
    ana = r.server.user("Ana")
    invitation = await r.enrol(ana, session_at=paris(2026, 11, 3, 10, 0))
    assert checkins_sent(r.server, ana.id) == []
    await r.run_until(paris(2026, 11, 6, 10, 30))
    assert checkins_sent(r.server, ana.id) == [
        "Day 3. Swelling, itching and discoloration normally settle within a few days."
    ]
    assert r.server.sent(ana.id)[-1].date.astimezone(PARIS).hour == 10
    by_step = await rows(r, invitation.patient_id)
    assert by_step["day2"].status == Status.SKIPPED
    assert "quiet hours" in (by_step["day2"].reason or "")


async def test_nothing_is_sent_during_quiet_hours_and_early_morning_waits_till_8(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    r.clock.set(paris(2026, 11, 3, 20, 0))
    await r.enrol(ana, session_at=paris(2026, 11, 3, 17, 0))  # day-0 check-in due 19:00
    await r.run_until(paris(2026, 11, 18, 12, 0), step=HOUR)
    for m in r.server.sent(ana.id):
        local = m.date.astimezone(PARIS).time()
        assert 8 <= local.hour < 21, m.text


async def test_downtime_sends_only_the_current_checkin_and_skips_older_ones(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    invitation = await r.enrol(ana, session_at=paris(2026, 11, 3, 9, 0))
    await r.run_until(paris(2026, 11, 4, 12, 0))  # day 0 and day 1 sent
    r.clock.set(paris(2026, 11, 8, 10, 30))  # the bot was down from day 1 to day 5
    await r.tick()
    assert checkins_sent(r.server, ana.id)[-1].startswith("Day 5")
    by_step = await rows(r, invitation.patient_id)
    assert [by_step[s].status for s in ("day2", "day3")] == [Status.SKIPPED, Status.SKIPPED]
    assert by_step["day5"].status == Status.SENT


async def test_the_whole_plan_across_dst_one_checkin_a_day_at_local_hour(
    database: Database,
) -> None:
    clock = FakeClock(paris(2027, 3, 23, 9, 30))
    async with Rehearsal(database, clock) as r:
        ana = r.server.user("Ana")
        invitation = await r.enrol(ana, session_at=paris(2027, 3, 23, 9, 0))
        await r.run_until(paris(2027, 4, 21, 12, 0), step=HOUR)
        sent = checkins(r.server, ana.id)
        local = [m.date.astimezone(PARIS) for m in sent]
        assert [t.date().day for t in local] == [23, 24, 25, 26, 28, 30, 2, 6, 13, 20]
        assert [t.hour for t in local] == [19] + [10] * 9  # 10:00 both sides of 28 March
        assert max(Counter(t.date() for t in local).values()) == 1
        statuses = Counter(c.status for c in (await rows(r, invitation.patient_id)).values())
        assert statuses == Counter({Status.SENT: 10})
        assert r.server.violations == []


async def test_restart_mid_course_loses_and_duplicates_nothing(
    database: Database, clock: FakeClock
) -> None:
    server = SandboxTelegram(clock=clock.now)
    async with Rehearsal(database, clock, server=server) as first:
        ana = server.user("Ana")
        invitation = await first.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
        await first.run_until(paris(2026, 11, 6, 12, 0), step=HOUR)
        # Crash in the middle of a dispatch: day 5's row is claimed and never recorded.
        clock.set(paris(2026, 11, 8, 10, 0))
        async with first.db.unit_of_work() as uow:
            claimed = await uow.queue.claim_due(
                CheckIn, clock.now(), limit=10, lease=timedelta(minutes=2)
            )
        assert [c.step_id for c in claimed] == ["day5"]
    async with Rehearsal(database, clock, server=server) as second:  # a new Application
        await second.tick()
        assert checkins_sent(server, ana.id)[-1].startswith("Day 1") is False
        assert not any(t.startswith("Day 5") for t in checkins_sent(server, ana.id))
        clock.advance(minutes=3)  # the crashed claim's lease expires
        await second.tick()
        await second.run_until(paris(2026, 12, 2, 12, 0), step=HOUR)
        by_step = await rows(second, invitation.patient_id)
    sent = checkins_sent(server, ana.id)
    assert len(sent) == 10
    assert len(set(sent)) == 10
    assert all(c.status == Status.SENT for c in by_step.values())
    assert by_step["day5"].attempts == 2


async def test_429_is_honoured_and_the_checkin_retried(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    invitation = await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    from bot.sandbox import Fault

    r.server.inject("sendMessage", Fault.retry_after(30), chat_id=ana.id)
    r.clock.set(paris(2026, 11, 3, 19, 0))
    await r.tick()
    assert checkins_sent(r.server, ana.id) == []
    day0 = (await rows(r, invitation.patient_id))["day0"]
    assert day0.status == Status.PENDING
    assert day0.due_at == r.clock.now() + timedelta(seconds=30)
    r.clock.advance(seconds=30)
    await r.tick()
    assert len(checkins_sent(r.server, ana.id)) == 1


async def test_a_blocked_patient_is_marked_unreachable_and_the_clinic_told(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana, nurse = r.server.user("Ana"), r.server.user("Nurse")
    await r.invite_clinician(nurse)
    invitation = await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    r.server.inject("sendMessage", __import__("bot.sandbox").sandbox.Fault.blocked(),
                    chat_id=ana.id)
    await r.run_until(paris(2026, 11, 4, 9, 10))  # the notice waits for the morning summary
    assert "blocked the bot" in r.server.last(nurse.id).text
    by_step = await rows(r, invitation.patient_id)
    assert all(c.status == Status.CANCELLED for c in by_step.values())
    await r.run_until(paris(2026, 11, 6, 12, 0), step=HOUR)
    assert checkins_sent(r.server, ana.id) == []


async def test_blocking_via_my_chat_member_stops_the_schedule(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana, nurse = r.server.user("Ana"), r.server.user("Nurse")
    await r.invite_clinician(nurse)
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.process(ana.block())
    await r.tick()
    assert "blocked the bot" in r.server.last(nurse.id).text
    await r.process(ana.unblock())
    await r.run_until(paris(2026, 11, 4, 12, 0))
    assert checkins_sent(r.server, ana.id) == []
    await r.say(ana, "/start")  # coming back resumes what has not passed
    assert "resumed" in r.server.sent(ana.id)[-2].text or "resumed" in r.server.last(ana.id).text


def test_the_dispatcher_runs_on_the_job_queue_and_never_drops_late_runs(
    rehearsal: Rehearsal,
) -> None:
    job_queue = rehearsal.app.job_queue
    assert job_queue is not None
    job = jobs.install(job_queue, 20)
    assert job.name == "dispatcher"
    assert job.callback is jobs.dispatch_tick
    apscheduler_job = job.job
    assert apscheduler_job.misfire_grace_time is None
    assert apscheduler_job.coalesce is True
    assert apscheduler_job.max_instances == 1
