"""A patient's follow-up end to end through the real Application and the sandbox."""

from __future__ import annotations

from datetime import timedelta

from bot.rehearsal import Rehearsal
from tests.conftest import paris


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
    assert "call 112 now" in r.server.last(ana.id).text
    for clinician in (nurse, doctor):
        ping = r.server.last(clinician.id)
        assert "EMERGENCY" in ping.text
        assert "Ana" in ping.text
        assert "RF-ANA" in ping.text
        assert ping.labels == ["Acknowledge"]

    await r.press(nurse, "Acknowledge")
    for clinician in (nurse, doctor):
        ping = r.server.last(clinician.id)
        assert "Acknowledged by Nurse" in ping.text
        assert ping.labels == []
    await r.process(doctor.press(r.server.last(doctor.id).message_id, "a:1"))
    assert "Already acknowledged by Nurse" in r.server.callback_answers[-1]["text"]
