"""Use cases on the in-memory unit of work: no database, no Telegram."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.core.clock import FakeClock
from bot.core.content import Content
from bot.services.common import Deps
from bot.services.enrolment import Enrolment
from bot.services.ports import OfflineMessenger
from bot.store.models import AuditEvent, Clinician
from tests.conftest import paris
from tests.fakes import FakeDatabase


def enrolment(content: Content, db: FakeDatabase) -> Enrolment:
    deps = Deps(store=db, content=content, clock=FakeClock(paris(2026, 11, 3, 9)),
                messenger=OfflineMessenger(), clinic_tz=ZoneInfo("Europe/Paris"))
    return Enrolment(deps)


async def test_a_clinician_link_registers_its_chat_once_without_a_database(
    content: Content,
) -> None:
    db = FakeDatabase()
    use = enrolment(content, db)
    invitation = await use.invite_clinician(name="Nurse Joy", actor="cli")

    welcome = await use.open_link(4242, invitation.token)
    again = await use.open_link(5151, invitation.token)

    assert "Welcome, Nurse Joy" in welcome.text
    assert "already been used" in again.text
    [nurse] = db.store.of(Clinician)
    assert (nurse.chat_id, nurse.active) == (4242, True)
    assert [e.action for e in db.store.of(AuditEvent)] == ["invite_clinician"]


async def test_guessed_tokens_are_counted_and_refused_after_five_without_a_database(
    content: Content,
) -> None:
    db = FakeDatabase()
    use = enrolment(content, db)
    answers = [(await use.open_link(99, f"guess{n}")).text for n in range(6)]
    assert all("link" in a for a in answers[:5])
    assert "Too many invalid links" in answers[5]
