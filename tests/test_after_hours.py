"""Paging that respects people: outside clinic hours an urgent page reaches the on-call
clinician only, at a slower pace, and everyone when the clinic opens; emergencies keep the
ladder; the patient is told what to expect at that hour (issue 17, point 3)."""

from __future__ import annotations

from datetime import timedelta

from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from tests.conftest import paris
from tests.fakes import assert_instructed

ITCH = "the itching is unbearable, I can't sleep at all"


def pages(r: Rehearsal, name: str, mark: str = "URGENT") -> int:
    user = next(u for u in r.server.users() if u.first_name == name)
    return sum(1 for m in r.server.sent(user.id) if mark in (m.text or "").split("\n")[0])


async def patient(r: Rehearsal, name: str = "Ana", timezone: str = "Europe/Paris") -> SandboxUser:
    user = r.server.user(name)
    r.clock.set(paris(2026, 11, 4, 12, 0))  # a Wednesday, enrolled at the desk
    await r.enrol(user, session_at=paris(2026, 11, 4, 10, 0), timezone=timezone)
    return user


async def test_an_urgent_message_at_3am_pages_the_on_call_clinician_then_all_at_opening(
    clinic: Rehearsal,
) -> None:
    r = clinic
    ana = await patient(r, timezone="America/New_York")
    r.clock.set(paris(2026, 11, 5, 3, 3))  # Thursday, 03:03 at the clinic
    await r.say(ana, ITCH)
    await r.services.outbox.idle()
    told = r.server.last(ana.id).text or ""
    assert "on-call clinician" in told
    assert "when the clinic opens, on Thursday at 03:00" in told
    page = r.server.last(next(u for u in r.server.users() if u.first_name == "Nurse").id)
    assert "Thu 05 Nov 03:03 (Europe/Paris); Wed 04 Nov 21:03 for the patient" in (
        page.text or "")
    assert (pages(r, "Nurse"), pages(r, "Doctor"), pages(r, "Admin")) == (1, 0, 0)
    await r.run_until(paris(2026, 11, 5, 5, 2), step=timedelta(minutes=10))
    assert (pages(r, "Nurse"), pages(r, "Doctor"), pages(r, "Admin")) == (1, 0, 0)
    await r.run_until(paris(2026, 11, 5, 8, 59), step=timedelta(minutes=10))
    assert (pages(r, "Nurse"), pages(r, "Doctor"), pages(r, "Admin")) == (3, 0, 0)  # 05:03, 07:03
    await r.run_until(paris(2026, 11, 5, 9, 2), step=timedelta(minutes=1))
    assert (pages(r, "Nurse"), pages(r, "Doctor"), pages(r, "Admin")) == (4, 1, 1)


async def test_by_day_the_same_message_climbs_the_rota_and_says_within_hours(
    clinic: Rehearsal,
) -> None:
    r = clinic
    ana = await patient(r)
    r.clock.set(paris(2026, 11, 5, 11, 0))
    await r.say(ana, ITCH)
    await r.services.outbox.idle()
    assert "someone will contact you within a few hours" in (r.server.last(ana.id).text or "")
    await r.run_until(paris(2026, 11, 5, 11, 32), step=timedelta(minutes=1))
    assert (pages(r, "Nurse"), pages(r, "Doctor"), pages(r, "Admin")) == (2, 1, 0)


async def test_an_emergency_at_night_climbs_the_whole_ladder_at_once(clinic: Rehearsal) -> None:
    r = clinic
    ana = await patient(r)
    r.clock.set(paris(2026, 11, 5, 3, 0))
    await r.say(ana, "my lips are swelling and I can't breathe")
    assert_instructed(r.server, ana.id)
    await r.run_until(paris(2026, 11, 5, 3, 2), step=timedelta(seconds=20))
    assert pages(r, "Doctor", "EMERGENCY") >= 1
    assert pages(r, "Admin", "EMERGENCY") >= 1


async def test_a_weekend_of_on_call_pages_still_reaches_everyone_on_monday(
    clinic: Rehearsal,
) -> None:
    """Friday 18:30 to Monday 09:00: the on-call clinician is paged every two hours, and the
    night's steps do not use up the ladder: on Monday everyone is paged, then by day."""
    r = clinic
    ana = await patient(r)
    r.clock.set(paris(2026, 11, 6, 18, 30))  # a Friday, just closed
    await r.say(ana, ITCH)
    await r.run_until(paris(2026, 11, 9, 8, 59), step=timedelta(minutes=30))
    nurse_nights = pages(r, "Nurse")
    assert nurse_nights >= 30  # every two hours, all weekend
    assert (pages(r, "Doctor"), pages(r, "Admin")) == (0, 0)
    await r.run_until(paris(2026, 11, 9, 9, 2), step=timedelta(minutes=1))
    assert (pages(r, "Doctor"), pages(r, "Admin")) == (1, 1)  # everyone at opening
    await r.run_until(paris(2026, 11, 9, 9, 33), step=timedelta(minutes=1))
    assert (pages(r, "Doctor"), pages(r, "Admin")) == (2, 2)  # and the ladder goes on
