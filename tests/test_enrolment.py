"""Enrolment through deep links: tokens, consent, clinicians, and later sessions merged."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlmodel import select

from bot.core import callbacks as cb
from bot.rehearsal import Rehearsal
from bot.store.models import Invite, Patient, Status
from tests.conftest import paris


async def _patients(r: Rehearsal) -> list[Patient]:
    async with r.db.unit_of_work() as uow:
        return list((await uow.orm.exec(select(Patient))).all())


async def test_invalid_token_gets_a_clear_answer_and_changes_nothing(rehearsal: Rehearsal) -> None:
    r = rehearsal
    await r.services.enrolment.invite_patient(name="Ana", session_at=paris(2026, 11, 3, 8))
    mallory = r.server.user("Mallory")
    await r.say(mallory, "/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert "isn't valid" in r.server.last(mallory.id).text
    assert r.server.last(mallory.id).labels == []
    assert all(p.chat_id is None for p in await _patients(r))


async def test_expired_token_is_refused(rehearsal: Rehearsal) -> None:
    r = rehearsal
    invitation = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 3, 8)
    )
    r.clock.advance(days=7, minutes=1)
    ana = r.server.user("Ana")
    await r.say(ana, f"/start {invitation.token}")
    assert "expired" in r.server.last(ana.id).text
    assert all(p.chat_id is None for p in await _patients(r))


async def test_used_token_cannot_enrol_anyone_else(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana, eve = r.server.user("Ana"), r.server.user("Eve")
    invitation = await r.enrol(ana, session_at=paris(2026, 11, 3, 8))
    await r.say(eve, f"/start {invitation.token}")
    assert "already been used" in r.server.last(eve.id).text
    # Eve forges Ana's consent button under a message of her own chat: nothing changes.
    await r.process(eve.press(r.server.last(eve.id).message_id, cb.consent(1, yes=True)))
    assert r.server.callback_answers[-1]["text"] == "This button is no longer valid."
    patients = await _patients(r)
    assert [p.chat_id for p in patients] == [ana.id]


async def test_consent_buttons_of_an_unused_link_opened_elsewhere_are_refused(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana, eve = r.server.user("Ana"), r.server.user("Eve")
    invitation = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 3, 8)
    )
    await r.say(ana, f"/start {invitation.token}")
    await r.say(eve, "hello")
    await r.process(eve.press(r.server.last(eve.id).message_id, cb.consent(1, yes=True)))
    assert all(p.chat_id is None for p in await _patients(r))


async def test_declining_keeps_the_link_usable(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    invitation = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 3, 8)
    )
    await r.say(ana, f"/start {invitation.token}")
    await r.press(ana, "No")
    assert "nothing more will be sent" in r.server.last(ana.id).text
    assert all(p.chat_id is None for p in await _patients(r))
    await r.say(ana, f"/start {invitation.token}")
    await r.press(ana, "Yes")
    assert [p.chat_id for p in await _patients(r)] == [ana.id]


async def test_tokens_are_long_random_and_stored_only_hashed(rehearsal: Rehearsal) -> None:
    r = rehearsal
    tokens = [
        (await r.services.enrolment.invite_patient(name=f"P{i}", session_at=r.clock.now())).token
        for i in range(5)
    ]
    assert len(set(tokens)) == 5
    assert all(len(t) >= 22 and len(t) <= 64 for t in tokens)  # >= 128 bits in base64url
    assert all(set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
               for t in tokens)
    async with r.db.unit_of_work() as uow:
        stored = [i.token_hash for i in (await uow.orm.exec(select(Invite))).all()]
    assert not set(tokens) & set(stored)


async def test_consent_is_recorded_with_time_and_wording(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8))
    (patient,) = await _patients(r)
    assert patient.consent_at == r.clock.now()
    assert patient.consent_text is not None
    assert "Do you agree" in patient.consent_text


async def test_clinician_link_registers_the_chat_once(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, other = r.server.user("Nurse"), r.server.user("Other")
    invitation = await r.invite_clinician(nurse)
    await r.say(other, f"/start {invitation.token}")
    assert "already been used" in r.server.last(other.id).text
    async with r.db.unit_of_work() as uow:
        clinicians = await uow.clinicians.active()
    assert [c.chat_id for c in clinicians] == [nurse.id]


async def test_a_later_session_merges_its_plan_without_two_checkins_a_day(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    first = await r.enrol(ana, session_at=paris(2026, 11, 3, 8))
    await r.run_until(paris(2026, 11, 8, 12, 0))  # day 5 done
    # The clinic enrols Ana again by name (a new record): her chat ties it to her course.
    second = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 10, 9, 0)
    )
    await r.say(ana, f"/start {second.token}")
    await r.press(ana, "Yes")
    patients = await _patients(r)
    assert [p.id for p in patients] == [first.patient_id]
    async with r.db.unit_of_work() as uow:
        rows = await uow.checkins.checkins_of(first.patient_id or 0)
    live = [c for c in rows if c.status != Status.CANCELLED]
    per_day = Counter(c.local_date for c in live)
    assert max(per_day.values()) == 1
    assert {c.session_id for c in live if c.local_date >= paris(2026, 11, 10).date()} == {
        second.session_id
    }
    replaced = [c for c in rows if c.status == Status.CANCELLED]
    assert replaced
    assert all("replaced by the plan" in (c.reason or "") for c in replaced)
    # And the course carries on: the next check-in comes from the new plan, once a day.
    await r.run_until(paris(2026, 11, 25, 12, 0))
    sent_days = Counter(
        m.date.astimezone(paris(2026, 1, 1).tzinfo).date()  # type: ignore[arg-type]
        for m in r.server.sent(ana.id)
        if "How are you feeling?" in m.text and not m.text.startswith("Just checking in again")
    )
    assert max(sent_days.values()) == 1


async def test_enrolling_a_known_patient_by_id_adds_a_session(rehearsal: Rehearsal) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    first = await r.enrol(ana, session_at=paris(2026, 11, 3, 8))
    r.clock.advance(timedelta(days=2))
    second = await r.services.enrolment.invite_patient(
        name="ignored", session_at=paris(2026, 11, 5, 9), patient_id=first.patient_id
    )
    assert second.patient_id == first.patient_id
    await r.say(ana, f"/start {second.token}")
    await r.press(ana, "Yes")
    async with r.db.unit_of_work() as uow:
        rows = await uow.checkins.checkins_of(first.patient_id or 0)
    assert any(c.session_id == second.session_id for c in rows)
    assert max(Counter(c.local_date for c in rows if c.status != Status.CANCELLED).values()) == 1
