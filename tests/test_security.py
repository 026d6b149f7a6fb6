"""Who may do what: clinician commands and buttons, forged presses, token guessing, floods,
and the updates the bot ignores on purpose."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot.core import callbacks as cb
from bot.core.clock import FakeClock
from bot.rehearsal import Rehearsal, sandbox_settings
from bot.sandbox import SandboxUser
from bot.store.db import Database
from bot.store.models import Answer, AuditEvent, Escalation, Photo
from tests.conftest import paris

REFUSAL = "This is for the care team only."
CLINICIAN_COMMANDS = ["/patient 1", "/patients", "/open", "/stats", "/clinicians", "/rota 1",
                      "/deactivate 1", "/enrol"]
ADMIN_COMMANDS = ["/clinicians", "/rota 1", "/deactivate 1"]


async def enrolled(r: Rehearsal, name: str = "Ana") -> SandboxUser:
    user = r.server.user(name)
    await r.enrol(user, session_at=paris(2026, 11, 3, 8, 0))
    return user


async def urgent_ping(r: Rehearsal, patient: SandboxUser, nurse: SandboxUser) -> None:
    await r.say(patient, "the swelling is huge and the pain is 9/10")
    assert "URGENT" in r.server.last(nurse.id).text or "EMERGENCY" in r.server.last(nurse.id).text


async def test_a_patient_or_stranger_gets_one_refusal_for_every_clinician_command(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    stranger = r.server.user("Eve")
    for person in (ana, stranger):
        for command in CLINICIAN_COMMANDS:
            before = len(r.server.requests)
            await r.say(person, command)
            sent = [q for q in r.server.requests[before:] if q.method == "sendMessage"]
            assert [q.params["text"] for q in sent] == [r.services.deps.content.messages[
                "not_clinician"]], command
            assert "Ana" not in sent[0].params["text"]


async def test_a_clinician_is_refused_admin_commands(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    not_clinician = r.services.deps.content.messages["not_clinician"]
    for command in ADMIN_COMMANDS:
        await r.say(nurse, command)
        assert r.server.last(nurse.id).text == not_clinician, command
    async with r.db.unit_of_work() as uow:
        assert (await uow.clinicians.get(1)).active  # type: ignore[union-attr]


async def test_forged_and_other_chats_presses_change_nothing(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    eve = await enrolled(r, "Eve")
    await urgent_ping(r, ana, nurse)
    async with r.db.unit_of_work() as uow:
        escalation = (await uow.orm.exec(select(Escalation))).one()
    assert escalation.id is not None
    # A patient forges the clinician's Acknowledge and Call buttons on their own message.
    own = r.server.last(eve.id)
    for action in ("a", "r", "c", "t"):
        await r.process(eve.press(own.message_id, cb.escalation(escalation.id, action)))
        assert r.server.callback_answers[-1]["text"] == r.services.deps.content.messages[
            "not_clinician"]
    # Garbage and the other patient's trend button.
    async with r.db.unit_of_work() as uow:
        answer = (await uow.orm.exec(select(Answer))).first()
    assert answer is not None
    assert answer.id is not None
    for data in ("zz", "c:99999:ok", f"t:{answer.id}:w", "k:1:y", "e:1:a" * 20):
        await r.process(eve.press(own.message_id, data[:64]))
        assert r.server.callback_answers[-1]["text"] in {
            "This button is no longer valid.", r.services.deps.content.messages["not_clinician"]
        }
    async with r.db.unit_of_work() as uow:
        after = await uow.escalations.get(escalation.id)
    assert after is not None
    assert after.acked_at is None
    assert after.status == "open"
    assert not any(ana.first_name in m.text for m in eve.sent() if m.text)
    assert all("+33" not in (m.text or "") for m in eve.sent())


async def test_token_guessing_is_stopped_after_five_wrong_tokens(rehearsal: Rehearsal) -> None:
    r = rehearsal
    mallory = r.server.user("Mallory")
    for i in range(5):
        await r.say(mallory, f"/start guess{i:028d}")
        assert "not valid" in r.server.last(mallory.id).text.lower() or "link" in \
            r.server.last(mallory.id).text.lower()
    real = await r.services.enrolment.invite_patient(
        name="Mallory", session_at=paris(2026, 11, 3, 8, 0)
    )
    await r.say(mallory, f"/start {real.token}")
    assert "Too many invalid links" in r.server.last(mallory.id).text
    other = r.server.user("Bob")  # someone else is not affected
    await r.say(other, f"/start {real.token}")
    assert "agree" in r.server.last(other.id).text
    r.clock.advance(hours=1)  # a new hour: Mallory may try again
    await r.say(mallory, "/start stillwrong")
    assert "Too many" not in r.server.last(mallory.id).text


async def test_clinician_actions_are_audited(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await urgent_ping(r, ana, nurse)
    await r.press(nurse, "Acknowledge")
    await r.press(nurse, "📈 Timeline")
    await r.press(nurse, "Resolve")
    await r.say(nurse, "called her, cold compress advised")
    async with r.db.unit_of_work() as uow:
        events = list((await uow.orm.exec(select(AuditEvent))).all())
    actions = [(e.actor, e.action) for e in events]
    assert ("cli", "enrol") in actions
    for action in ("acknowledge", "view_timeline", "resolve"):
        assert ("clinician:1", action) in actions, actions
    assert all("cold compress" not in e.detail and "Ana" not in e.detail for e in events)


async def flood_rehearsal(database: Database, clock: FakeClock, tmp_path: Path) -> Rehearsal:
    settings = sandbox_settings(
        database.url, storage_dir=tmp_path / "storage", flood_burst=5, flood_per_minute=1
    )
    return Rehearsal(database, clock, settings=settings)


async def test_a_flood_from_one_user_is_limited_without_slowing_others(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    async with await flood_rehearsal(database, clock, tmp_path) as r:
        nurse = r.server.user("Nurse")
        await r.invite_clinician(nurse)
        ana = await enrolled(r)
        bob = await enrolled(r, "Bob")
        for i in range(30):
            await r.say(ana, f"just checking in number {i}")
        replies = [m.text for m in ana.sent() if m.text]
        slow = [t for t in replies if t and "very fast" in t]
        assert len(slow) == 1, "one notice per flood, not one per message"
        async with r.db.unit_of_work() as uow:
            stored = [a for a in (await uow.orm.exec(select(Answer))).all()
                      if a.text and a.text.startswith("just checking")]
        assert len(stored) < 30
        await r.say(bob, "feeling fine")
        assert "very fast" not in (r.server.last(bob.id).text or "")
        # Over the limit, a red flag still goes through and pages the clinic.
        await r.say(ana, "I can't breathe and my face is swelling")
        assert "112" in r.server.last(ana.id).text
        assert "EMERGENCY" in r.server.last(nurse.id).text
        assert r.server.violations == []


async def test_a_backlog_handled_at_once_after_an_outage_is_not_a_flood(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    """Messages sent a minute apart while the database was away are handled together
    when it is back: counted at the time they were sent, none is dropped as a flood."""
    async with await flood_rehearsal(database, clock, tmp_path) as r:
        ana = await enrolled(r)
        backlog = []
        for i in range(12):  # over an hour: within the limit of 5, then 1 a minute
            clock.advance(timedelta(minutes=5))
            backlog.append(ana.say(f"still a bit sore, note {i}"))
        await r.services.inbox.receive(backlog)
        await r.services.inbox.drain()
        assert not [m for m in ana.sent() if "very fast" in (m.text or "")]
        async with r.db.unit_of_work() as uow:
            stored = [a for a in (await uow.orm.exec(select(Answer))).all()
                      if a.text and a.text.startswith("still a bit sore")]
        assert len(stored) == 12


async def test_groups_channels_and_other_bots_are_ignored_and_the_bot_leaves_groups(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    group = r.server.group("Friends")
    before = len(r.server.requests)
    await r.process(r.server.added_to_group(ana.json, group))
    assert r.server.has_left(group)
    robot = r.server.user("Robot", is_bot=True)
    await r.process(robot.say("I have a fever of 40"))
    sent = [q for q in r.server.requests[before:] if q.method == "sendMessage"]
    assert sent == []
    async with r.db.unit_of_work() as uow:
        assert (await uow.orm.exec(select(Escalation))).first() is None


async def test_control_characters_are_dropped_and_the_message_kept(rehearsal: Rehearsal) -> None:
    """PostgreSQL refuses NUL in text: the words must still be stored and triaged."""
    r = rehearsal
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = await enrolled(r)
    await r.say(ana, "I can't\x00 breathe\x1b[31m and my lips\u0085 are swelling")
    assert "112" in r.server.last(ana.id).text
    assert "EMERGENCY" in r.server.last(nurse.id).text
    async with r.db.unit_of_work() as uow:
        answer = (await uow.orm.exec(select(Answer))).all()[-1]
    assert answer.text == "I can't breathe[31m and my lips are swelling"


async def test_a_later_sessions_link_opened_by_someone_else_hands_over_nothing(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    later = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 20, 8, 0), patient_id=1
    )
    eve = r.server.user("Eve")
    await r.say(eve, f"/start {later.token}")
    assert "belongs to another Telegram account" in r.server.last(eve.id).text
    await r.say(eve, "/mydata")
    assert r.server.last(eve.id).document is None
    await r.say(ana, f"/start {later.token}")  # Ana herself may use it
    assert "agree" in r.server.last(ana.id).text


async def test_business_messages_are_ignored(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    update = ana.say("I can't breathe")
    update["business_message"] = update.pop("message")
    update["business_message"]["business_connection_id"] = "conn"
    before = len(r.server.requests)
    await r.process(update)
    assert [q for q in r.server.requests[before:] if q.method == "sendMessage"] == []


def test_enrolment_codes_are_read_strictly() -> None:
    from bot.core import callbacks as cb

    assert cb.parse(cb.enrol("a", "3")) == cb.EnrolPress("a", "3")
    assert cb.parse(cb.enrol("now")) == cb.EnrolPress("now")
    for forged in ("n:a", "n:now:x", "n:done:1", "n:a:x", "n:zap"):
        assert cb.parse(forged) is None, forged


async def test_control_characters_in_a_photo_s_caption_are_dropped_and_the_photo_kept(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = await enrolled(r)
    await r.process(ana.send_photo(caption="my cheek\x00 today\x1b"))
    async with r.db.unit_of_work() as uow:
        [photo] = (await uow.orm.exec(select(Photo))).all()
    assert photo.words == "my cheek today"
