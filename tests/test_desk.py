"""/enrol and the CLI share one rule for session times: booked sessions up to the clinic's
limit ahead, and the limit said (issue 17, point 7)."""

from __future__ import annotations

from bot.rehearsal import Rehearsal
from tests.conftest import paris


async def test_a_booked_session_is_taken_within_the_clinic_s_limit(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    r.clock.set(paris(2026, 11, 3, 9, 0))
    await r.say(nurse, "/enrol")
    await r.say(nurse, "Chloé Martin")
    await r.say(nurse, "2027-01-20 10:00")  # 78 days ahead: a typo of the year, say
    said = r.server.last(nurse.id).text or ""
    assert "more than 30 days ahead" in said
    await r.say(nurse, "2026-11-10 10:00")  # next week's booking
    assert "face" in r.server.last(nurse.id).labels  # on to the areas
