"""Lighter check-ins: two tips at most, few rows of buttons, a fitting "all good" reply
(issue 17, point 8)."""

from __future__ import annotations

from bot.rehearsal import Rehearsal
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
