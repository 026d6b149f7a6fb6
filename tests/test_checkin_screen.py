"""Lighter check-ins: two tips at most, few rows of buttons, a fitting "all good" reply
(issue 17, point 8)."""

from __future__ import annotations

from datetime import timedelta

from bot.rehearsal import Rehearsal
from bot.sandbox import Fault
from tests.conftest import paris


async def test_a_check_in_is_short_and_all_good_gets_a_fitting_reply(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 3, 19, 5))  # day 0's evening check-in: four tips
    step = r.services.deps.content.plan.steps[0]
    assert len(step.tips) > 2
    checkin = r.server.last(ana.id)
    text = checkin.text or ""
    assert text.count("\n• ") == 2  # the plan's first two
    assert len(checkin.buttons) <= 4  # rows: fits a phone without scrolling
    assert checkin.labels[:2] == ["✅ All good", "⚠️ Warning signs"]
    await r.press(ana, "✅ All good")
    said = r.server.last(ana.id).text or ""
    assert said.startswith("Glad to hear it")
    assert "What helps" not in said


async def test_the_welcome_always_arrives_before_the_first_check_in(
    rehearsal: Rehearsal,
) -> None:
    """Telegram refuses the welcome once (a 502; the welcome is the consent message, edited):
    the day's check-in, due at once, waits for it instead of overtaking it."""
    r = rehearsal
    ana = r.server.user("Ana")
    r.clock.set(paris(2026, 11, 3, 19, 30))  # the day-0 check-in is due at once
    invitation = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 3, 8, 0), areas="face")
    await r.say(ana, f"/start {invitation.token}")
    r.server.inject("editMessageText", Fault.server_error(), chat_id=ana.id)
    await r.press(ana, "Yes")
    await r.services.outbox.idle()
    await r.tick()
    await r.advance(timedelta(seconds=30), step=timedelta(seconds=2))
    said = [(q.method, q.status, str(q.params.get("text", ""))) for q in r.server.requests
            if str(q.params.get("chat_id")) == str(ana.id)]
    welcomed = max(i for i, (method, status, text) in enumerate(said)
                   if method == "editMessageText" and status == 200 and "enrolled" in text)
    asked = next(i for i, (method, _, text) in enumerate(said)
                 if method == "sendMessage" and text.startswith("Evening of your treatment"))
    assert welcomed < asked
