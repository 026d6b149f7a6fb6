"""Use cases on the in-memory unit of work: no database, no Telegram."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.core.clock import FakeClock
from bot.core.content import Content
from bot.services.common import Deps
from bot.services.desk import Desk, EnrolDraft
from bot.services.enrolment import Enrolment
from bot.services.ports import OfflineMessenger, Reply
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


def desk(content: Content) -> Desk:
    deps = Deps(store=FakeDatabase(), content=content, clock=FakeClock(paris(2026, 11, 3, 9)),
                messenger=OfflineMessenger(), clinic_tz=ZoneInfo("Europe/Paris"))
    return Desk(deps, Enrolment(deps))


def test_the_desk_reads_times_as_typed_and_refuses_the_far_future(content: Content) -> None:
    d, draft = desk(content), EnrolDraft()
    assert not d.take_time(draft, "quarter past two").accepted
    assert d.take_time(EnrolDraft(), "10:30").accepted  # later today: booked (09:00 now)
    far = d.take_time(EnrolDraft(), "2027-03-01 10:00")
    assert not far.accepted
    assert "more than 30 days ahead" in far.reply.text
    answered = d.take_time(draft, "2026-11-02 14:30")
    assert answered.accepted
    assert draft.session_at == paris(2026, 11, 2, 14, 30)
    assert answered.reply.text == "Session: Mon 02 Nov 14:30. Which areas were treated?"


def test_the_desk_ticks_areas_and_refuses_a_forged_index(content: Content) -> None:
    d, draft = desk(content), EnrolDraft()
    d.take_time(draft, "08:00")
    d.toggle_area(draft, 0)
    screen = d.toggle_area(draft, 1)
    assert draft.areas == ["face", "neck"]
    assert screen is not None
    assert [b.label for b in screen.keyboard[0]][:2] == ["✔ face", "✔ neck"]  # type: ignore[index]
    assert d.toggle_area(draft, 99) is None
    assert not d.take_name(draft, "x" * 101).accepted


async def test_the_desk_needs_every_answer_before_it_invites(content: Content) -> None:
    reply = await desk(content).finish(EnrolDraft(name="Ana"), actor="t", bot_username="b")
    assert isinstance(reply, Reply)
    assert "start again with /enrol" in reply.text
