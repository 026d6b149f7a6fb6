"""Patients' rights: /mydata, /forget, retention; the audit log and what logs may carry."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from bot.__main__ import main
from bot.rehearsal import Rehearsal
from bot.sandbox import Fault, SandboxUser
from bot.services.privacy import Privacy
from bot.store.models import Answer, Escalation, Photo
from tests.conftest import paris
from tests.media_helpers import kept

WORDS = "my cheek is hot and the swelling is huge, pain 8/10"


async def followed(r: Rehearsal) -> tuple[SandboxUser, SandboxUser, SandboxUser]:
    """A nurse, Ana with an urgent message and a photo, and Bob with a message of his own."""
    nurse = r.server.user("Nurse")
    await r.invite_clinician(nurse)
    ana = r.server.user("Ana")
    await r.enrol(ana, session_at=paris(2026, 11, 3, 8, 0), phone="+33600000001")
    bob = r.server.user("Bob")
    await r.enrol(bob, session_at=paris(2026, 11, 3, 8, 0))
    await r.say(ana, WORDS)
    picture = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 60, 60)).save(picture, format="JPEG")
    await r.process(ana.send_photo(data=picture.getvalue(), caption="the cheek"))
    await r.say(bob, "bob's private words about his bruise")
    return nurse, ana, bob


async def test_mydata_sends_a_summary_and_everything_as_json(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _nurse, ana, _bob = await followed(r)
    await r.say(ana, "/mydata")
    document = r.server.last(ana.id)
    summary = ana.sent()[-2].text or ""
    assert "Name: Ana" in summary
    assert "Photos: 1" in summary
    assert document.file_name == "mydata-1.json"
    data = json.loads(document.document or b"")
    assert data["patient"]["name"] == "Ana"
    assert data["patient"]["phone"] == "+33600000001"
    assert data["patient"]["consent_text"]  # the wording shown, as recorded
    assert data["patient"]["consent_at"]
    assert any(a["text"] == WORDS for a in data["answers"])
    assert data["messages_to_clinicians"][0]["level"] in {"urgent", "emergency"}
    assert len(data["photos"]) == 1
    assert "path" not in data["photos"][0]
    assert "bob" not in json.dumps(data).lower()
    async with r.db.unit_of_work() as uow:
        events = await uow.records.audit_events()
    assert ("patient:1", "export") in [(e.actor, e.action) for e in events]


@pytest.mark.parametrize("keep", [True, False], ids=["record-kept", "all-erased"])
async def test_forget_asks_then_erases_words_name_photos_and_says_what_the_clinic_keeps(
    rehearsal: Rehearsal, keep: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = rehearsal
    if not keep:  # the clinic's content says so: keep_escalation_records: false
        monkeypatch.setattr(Privacy, "_keeps_records", property(lambda _self: False))
    nurse, ana, _bob = await followed(r)
    await r.say(ana, "/forget")
    asked = r.server.last(ana.id).text
    assert "cannot be undone" in asked
    assert ("What the clinic keeps, and why" in asked) is keep
    assert ("alerts its clinicians received about you are erased too" in asked) is not keep
    await r.press(ana, "No, keep it")
    assert r.server.last(ana.id).text == "Nothing was erased."
    async with r.db.unit_of_work() as uow:
        assert (await uow.patients.get(1)).name == "Ana"  # type: ignore[union-attr]
    await r.say(ana, "/forget")
    await r.press(ana, "Yes, erase my data")
    assert "your data has been erased" in r.server.last(ana.id).text
    async with r.db.unit_of_work() as uow:
        patient = await uow.patients.get(1)
        answers = list((await uow.orm.exec(
            select(Answer).where(Answer.patient_id == 1))).all())
        escalations = list((await uow.orm.exec(
            select(Escalation).where(Escalation.patient_id == 1))).all())
        photos = list((await uow.orm.exec(select(Photo))).all())
        bob_row = await uow.patients.get(2)
    assert patient is not None
    assert (patient.name, patient.phone, patient.chat_id) == ("(erased)", None, None)
    assert patient.erased_at is not None
    assert answers, "the anonymous rows stay for the clinic's figures"
    assert all(a.text is None for a in answers)
    assert {a.level for a in answers} >= {"urgent"} or {a.level for a in answers} >= {
        "emergency"}
    assert photos == []
    assert await kept(r) == []
    if keep:  # the clinic's medical record: the escalation whole, its copies untouched
        assert all("cheek" in e.body and "Ana" in e.body for e in escalations)
        assert not any("erased" in (m.text or "") for m in nurse.sent())
    else:  # the nurse's copy of the page no longer shows Ana's name or words
        assert all("cheek" not in e.body and "Ana" not in e.body for e in escalations)
        page = [m for m in nurse.sent() if m.text and "erased" in m.text]
        assert page, [m.text for m in nurse.sent()]
        assert all("cheek" not in (m.text or "") for m in nurse.sent() if m.edits)
    # Bob is untouched; Ana is a stranger now and /mydata has nothing on her.
    assert bob_row is not None
    assert bob_row.name == "Bob"
    await r.say(ana, "/mydata")
    assert r.server.last(ana.id).document is None
    figures = await r.services.stats.figures()
    assert figures.to_json()["enrolled"] == 2
    async with r.db.unit_of_work() as uow:
        events = await uow.records.audit_events(patient_id=1)
    assert ("patient:1", "erase", "request") in [(e.actor, e.action, e.detail) for e in events]


async def test_the_record_kept_at_forget_ends_with_the_retention_period(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, ana, _bob = await followed(r)
    await r.say(ana, "/forget")
    await r.press(ana, "Yes, erase my data")
    async with r.db.unit_of_work() as uow:
        kept = await uow.escalations.escalations_of(1)
    assert kept
    assert all("cheek" in e.body for e in kept)  # the clinic's record, for now
    r.clock.advance(days=r.services.deps.content.clinic.retention_days + 1)
    assert await r.services.privacy.expire() >= 1
    await r.services.outbox.idle()
    async with r.db.unit_of_work() as uow:
        ended = await uow.escalations.escalations_of(1)
    assert ended
    assert not any("cheek" in e.body or "Ana" in e.body for e in ended)
    assert all("cheek" not in (m.text or "") for m in nurse.sent() if m.edits)
    assert any("erased" in (m.text or "") for m in nurse.sent() if m.edits)
    assert await r.services.privacy.expire() == 0  # nothing is erased twice


async def test_retention_erases_courses_past_the_clinics_period(rehearsal: Rehearsal) -> None:
    r = rehearsal
    _nurse, _ana, _bob = await followed(r)
    assert await r.services.privacy.expire() == 0
    days = r.services.deps.content.clinic.retention_days
    r.clock.advance(days=days + 1)
    # A newer course for Bob keeps him.
    invitation = await r.services.enrolment.invite_patient(
        name="Bob", session_at=r.clock.now() - timedelta(days=1), patient_id=2
    )
    assert invitation.patient_id == 2
    assert await r.services.privacy.expire() == 1
    async with r.db.unit_of_work() as uow:
        ana_row, bob_row = await uow.patients.get(1), await uow.patients.get(2)
        events = await uow.records.audit_events(patient_id=1)
        escalations = list((await uow.orm.exec(
            select(Escalation).where(Escalation.patient_id == 1))).all())
    assert ana_row is not None
    assert ana_row.name == "(erased)"
    assert escalations
    assert all("Ana" not in e.body for e in escalations)
    assert bob_row is not None
    assert bob_row.name == "Bob"
    assert ("system", "erase", "retention") in [(e.actor, e.action, e.detail) for e in events]
    assert await r.services.privacy.expire() == 0
    with pytest.raises(LookupError):  # an erased record is never linked to anyone again
        await r.services.enrolment.invite_patient(
            name="Ana", session_at=r.clock.now(), patient_id=1
        )


async def test_logs_carry_ids_never_names_or_words(
    rehearsal: Rehearsal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = rehearsal
    await followed(r)
    r.server.inject("sendMessage", Fault.server_error(), times=1)  # an error, with traceback
    await r.say(r.server.user("Bob"), "my lips are swelling and I can't breathe")
    await r.say(r.server.user("Eve"), "/forget")
    assert any(rec.levelno >= logging.WARNING for rec in caplog.records)
    text = "\n".join(f"{rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records
                     if not rec.name.startswith(("telegram", "bot.sandbox", "httpx")))
    for secret in ("Ana", "Bob", "cheek", "bruise", "+33600000001", r.settings.telegram_bot_token
                   .get_secret_value()):  # type: ignore[union-attr]
        assert secret not in text


def test_audit_command_prints_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_USERNAME", "aftercare_test_bot")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["enrol", "--name", "Ana Lopez", "--session-at", "2026-11-20T10:00"]) == 0
    assert main(["clinician", "invite", "--name", "Dr Martin"]) == 0
    capsys.readouterr()
    assert main(["audit", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["actor"], e["action"]) for e in lines] == [("cli", "enrol"),
                                                          ("cli", "invite_clinician")]
    assert "Ana" not in json.dumps(lines)
    assert main(["audit", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["audit", "--since", "yesterday"]) == 2
