"""Readable lists for clinicians: /open and /patients by level then age, a line each, buttons
and rules in words (issue 17, point 2)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from tests.conftest import paris

CODES = re.compile(r"\b(G\d|RF-[A-Z]+)")  # rule ids: never shown to clinicians


async def three_patients(r: Rehearsal) -> SandboxUser:
    """Ana asks for a call (routine), then Bea's pain is severe (urgent), then Cleo's lips
    swell (emergency), ten minutes apart; the nurse is on call."""
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    r.clock.set(paris(2026, 11, 4, 10, 0))
    ana, bea, cleo = (r.server.user(n) for n in ("Ana Lopez", "Bea Marin", "Cleo Roy"))
    for user in (ana, bea, cleo):
        await r.enrol(user, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(ana, "can someone call me please")
    r.clock.advance(timedelta(minutes=10))
    await r.say(bea, "/report")
    for label in ("Soreness", "Severe", "Done"):
        await r.press(bea, label)
    r.clock.advance(timedelta(minutes=10))
    await r.say(cleo, "my lips are swelling up and my throat feels tight")
    await r.services.outbox.idle()
    r.clock.advance(timedelta(minutes=5))
    return nurse


async def test_open_lists_the_most_serious_first_in_words(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = await three_patients(r)
    await r.say(nurse, "/open")
    shown = r.server.last(nurse.id)
    text = shown.text or ""
    order = [text.index(name) for name in ("Cleo Roy", "Bea Marin", "Ana Lopez")]
    assert order == sorted(order), text
    assert "🔴 EMERGENCY · Cleo Roy" in text
    assert "🟠 URGENT · Bea Marin" in text
    assert "raised 5 minutes ago · NOT acknowledged" in text
    assert "raised 25 minutes ago" in text  # Ana's, the oldest
    assert "graded severe" in text
    assert "asks to be contacted" in text
    assert not CODES.search(text), text
    assert shown.labels[:3] == ["✅ Take Cleo R.", "Timeline Cleo R.", "Resolve Cleo R."]

    await r.press(nurse, "✅ Take Bea M.", message_id=shown.message_id)
    await r.say(nurse, "/open")
    text = r.server.last(nurse.id).text or ""
    assert "acknowledged by Nurse" in text
    assert "✅ Take Bea M." not in r.server.last(nurse.id).labels


async def test_patients_lists_open_escalations_first_with_their_age(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = await three_patients(r)
    dan = r.server.user("Dan")
    await r.enrol(dan, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(nurse, "/patients")
    text = r.server.last(nurse.id).text or ""
    lines = text.splitlines()
    assert [line.split(" · ")[0] for line in lines[1:]] == [
        "#3 Cleo Roy", "#2 Bea Marin", "#1 Ana Lopez", "#4 Dan"]
    assert "🔴 EMERGENCY open · raised 5 minutes ago · last reported: " in lines[1]
    assert "Swelling" in lines[2] or "Soreness" in lines[2]  # what Bea reported
    assert "day 1" in lines[1]
