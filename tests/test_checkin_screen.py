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


async def test_the_tips_follow_what_the_patient_reported_last(rehearsal: Rehearsal) -> None:
    """Day 1's tips are arnica, head raised and make-up: after swelling on day 0, head raised
    comes first; after "all good", the plan's order. A press keeps the same tips."""
    r = rehearsal
    tips = r.services.deps.content.tips
    ana, bea = r.server.user("Ana"), r.server.user("Bea")
    for user in (ana, bea):
        await r.enrol(user, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 3, 19, 5))
    for label in ("Swelling", "Mild", "Done"):
        await r.press(ana, label)
    await r.press(bea, "✅ All good")
    await r.run_until(paris(2026, 11, 4, 10, 5))

    def bullets(text: str) -> list[str]:
        return [line[2:].split(":")[0] for line in text.splitlines() if line.startswith("• ")]

    checkin = r.server.last(ana.id)
    assert bullets(checkin.text or "") == [tips["head_raised"].title, tips["arnica_aloe"].title]
    assert bullets(r.server.last(bea.id).text or "") == [
        tips["arnica_aloe"].title, tips["head_raised"].title]
    await r.press(ana, "Bruising", message_id=checkin.message_id)
    edited = r.server.message_json(ana.id, checkin.message_id)["text"]
    assert bullets(edited) == bullets(checkin.text or "")
