"""Every patient in their own language: English, French, Spanish and Russian content that says
the same thing, a language per patient (set at enrolment, taken from Telegram at /start, or
changed with /language), and every word chosen when the message is sent."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.adapters.content_files import BUNDLED, ContentError, load_library
from bot.core import callbacks as cb
from bot.core.language import native_name, reading_order
from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from bot.store.models import Escalation, Patient
from tests.conftest import paris

FR_LIPS = "j'ai les lèvres qui gonflent et du mal à respirer depuis ce matin"


def test_the_shipped_languages_say_the_same_and_are_all_read() -> None:
    library = load_library(BUNDLED, "en")
    assert library.spoken == {"en", "fr", "es", "ru"}
    assert library.read == {"en", "fr", "es", "ru"}
    en, fr = library.speaks("en"), library.speaks("fr-CA")
    assert [s.day for s in fr.plan.steps] == [s.day for s in en.plan.steps]
    assert fr.clinic.emergency_number == en.clinic.emergency_number
    assert library.speaks("de") is en  # not shipped: the clinic's
    assert (native_name("fr"), native_name("ru"), native_name("es")) == (
        "Français", "Русский", "Español")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(BUNDLED, folder)
    return folder


def test_a_language_that_drifts_from_the_clinics_is_refused_with_file_line_and_field(
    tmp_path: Path,
) -> None:
    folder = _copy(tmp_path)
    plan = folder / "fr" / "careplan.yaml"
    plan.write_text(plan.read_text("utf-8").replace('at: "19:00"', 'at: "18:00"', 1), "utf-8")
    words = folder / "es" / "messages.yaml"
    text = words.read_text("utf-8")
    words.write_text(text.replace("{emergency_number}", "112", 1), "utf-8")
    rules = folder / "ru" / "rules.yaml"
    rules.write_text(rules.read_text("utf-8").replace("level: emergency", "level: urgent", 1),
                     "utf-8")
    with pytest.raises(ContentError) as caught:
        load_library(folder, "en")
    report = str(caught.value)
    assert f"{plan}:" in report
    assert "steps[0].at" in report
    assert "as in every language" in report
    assert f"{words}:" in report
    assert "placeholders" in report
    assert f"{rules}:" in report
    assert "[0].level" in report
    line = next(p.line for p in caught.value.problems if p.file == plan)
    assert plan.read_text("utf-8").splitlines()[line - 1].strip() == 'at: "18:00"'


def test_the_clinics_language_must_be_shipped(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="CLINIC_LANGUAGE"):
        load_library(_copy(tmp_path), "de")


async def _enrol(r: Rehearsal, user: SandboxUser, yes: str, **kwargs: object) -> None:
    invitation = await r.services.enrolment.invite_patient(
        name=user.first_name, session_at=paris(2026, 11, 3, 8, 0), areas="face", **kwargs)
    await r.say(user, f"/start {invitation.token}")
    await r.press(user, yes)


async def test_a_french_patient_reads_everything_in_french_and_can_switch_to_spanish(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, marie = r.server.user("Nurse"), r.server.user("Marie")
    await r.invite_clinician(nurse)
    await _enrol(r, marie, "Oui, j'accepte", language="fr")  # Telegram says English
    welcome = marie.sent()[-1].text or ""
    assert "Marie" in welcome
    assert "112" in welcome
    assert "Compresse froide" in welcome
    assert "Ce qui aide" in welcome
    await r.run_until(paris(2026, 11, 3, 19, 30))  # the day-0 check-in, worded in French
    checkin = marie.sent()[-1]
    assert "C'est le soir de votre séance" in (checkin.text or "")
    assert "✅ Tout va bien" in checkin.labels
    # /language: the choice, each language in its own words.
    await r.say(marie, "/language")
    assert marie.sent()[-1].labels == ["English", "Español", "✔ Français", "Русский"]
    await r.press(marie, "Español")
    assert "le escribiré en español" in (marie.sent()[-1].text or "")
    # The next check-in was scheduled while she read French: it is worded when sent.
    await r.run_until(paris(2026, 11, 4, 10, 30))
    day1 = marie.sent()[-1]
    assert (day1.text or "").startswith("Día 1 después de su tratamiento")
    assert "Todo bien" in " ".join(day1.labels)
    # Dates in her language's words (CLDR, through Babel).
    await r.say(marie, "/status")
    assert "Próximo control: jue 05 nov 10:00" in (marie.sent()[-1].text or "")
    async with r.db.unit_of_work() as uow:
        [patient] = (await uow.orm.exec(select(Patient))).all()
    assert patient.language == "es"


async def test_telegrams_language_is_taken_at_start_when_the_clinic_chose_none(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    olga = r.server.user("Olga", language_code="ru")
    invitation = await r.services.enrolment.invite_patient(
        name="Olga", session_at=paris(2026, 11, 3, 8, 0), areas="face")
    await r.say(olga, f"/start {invitation.token}")
    consent = olga.sent()[-1]
    assert "Olga" in (consent.text or "")
    assert "/stop" in (consent.text or "")
    assert consent.labels[0] != "Yes, I agree"
    await r.press(olga, consent.labels[0])
    async with r.db.unit_of_work() as uow:
        [patient] = (await uow.orm.exec(select(Patient))).all()
    assert patient.language == "ru"
    # A stranger whose Telegram speaks Spanish is told in Spanish who the bot is for.
    pablo = r.server.user("Pablo", language_code="es-MX")
    await r.say(pablo, "/start")
    assert "clínica" in (pablo.sent()[-1].text or "").lower()


async def test_a_french_patients_red_flag_in_french_is_an_emergency_in_french(
    rehearsal: Rehearsal,
) -> None:
    """Read in French: the instruction in French at once, the page in the clinic's English
    with her words quoted as written."""
    r = rehearsal
    nurse, marie = r.server.user("Nurse"), r.server.user("Marie")
    await r.invite_clinician(nurse)
    await _enrol(r, marie, "Oui, j'accepte", language="fr")
    await r.run_until(paris(2026, 11, 3, 12, 0))
    await r.say(marie, FR_LIPS)
    await r.services.outbox.idle()
    assert any("112" in (m.text or "") and "Appelez" in (m.text or "")
               for m in marie.sent()[-3:])
    pages = [m.text or "" for m in nurse.sent()]
    assert any("EMERGENCY" in p for p in pages)  # the clinic reads English
    assert any(f'Their words, in French: "{FR_LIPS}"' in p for p in pages)
    async with r.db.unit_of_work() as uow:
        [item] = (await uow.orm.exec(select(Escalation))).all()
    assert item.level == "emergency"


async def test_a_forged_or_unshipped_language_press_changes_nothing(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    ana = r.server.user("Ana")
    await _enrol(r, ana, "Yes")
    await r.say(ana, "/language")
    await r.process(ana.press(ana.sent()[-1].message_id, cb.language("de")))
    async with r.db.unit_of_work() as uow:
        [patient] = (await uow.orm.exec(select(Patient))).all()
    assert patient.language == "en"


async def test_enrolment_refuses_a_language_the_clinic_does_not_ship(
    rehearsal: Rehearsal,
) -> None:
    with pytest.raises(ValueError, match="not shipped"):
        await rehearsal.services.enrolment.invite_patient(
            name="Hans", session_at=paris(2026, 11, 3, 8, 0), language="de")


@pytest.mark.parametrize(
    ("text", "guess", "own", "unread"),
    [
        ("me ahogo", ("es", 0.6), "es", "es"),  # too short to tell: theirs, so asked about
        ("che se me estan hinchando los labios", ("pt", 0.5), "es", "es"),
        ("my lips are swelling since this morning", ("en", 0.95), "es", None),  # English: read
        ("my lips", ("en", 0.95), "es", "es"),  # too short to be sure it is English
        ("me ahogo", ("es", 0.6), "en", None),  # an English reader: as before
        ("у меня опухли губы и трудно дышать", ("ru", 0.99), "fr", "ru"),  # what it is in
    ],
)
def test_a_patient_whose_language_is_not_read_is_asked_unless_surely_in_one_that_is(
    text: str, guess: tuple[str, float], own: str, unread: str | None
) -> None:
    found = reading_order(text, guess=guess, read=frozenset({"en"}),
                          knows=lambda _c, _w: False, own=own, clinic="en")
    assert found[1] == unread


async def test_an_italian_caption_on_a_photo_is_asked_about_not_reassured(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    lucia = r.server.user("Lucia", language_code="it")  # not shipped: English is spoken
    await _enrol(r, lucia, "Yes, I agree")
    await r.run_until(paris(2026, 11, 3, 12, 0))
    before = len(lucia.sent())
    await r.process(lucia.send_photo(caption="la mia guancia è diventata tutta bianca, va bene?"))
    said = lucia.sent()[before:]
    assert any("None of these" in m.labels for m in said)  # the red-flag question
    assert not any("Glad" in (m.text or "") for m in said)
    async with r.db.unit_of_work() as uow:
        [item] = (await uow.orm.exec(select(Escalation))).all()
    assert item.rules == ["unread-language"]


async def test_more_unread_messages_do_not_push_the_questions_escalation_back(
    rehearsal: Rehearsal,
) -> None:
    """An Italian patient writing every few minutes (the engine cannot read any of it): the
    question left unanswered escalates 15 minutes after the first, not after the last."""
    r = rehearsal
    nurse, lucia = r.server.user("Nurse"), r.server.user("Lucia", language_code="it")
    await r.invite_clinician(nurse)
    await _enrol(r, lucia, "Yes, I agree")
    await r.run_until(paris(2026, 11, 3, 12, 0))
    for words in ("mi sto gonfiando dappertutto e non passa", "respiro sempre peggio adesso",
                  "aiutatemi per favore non so cosa fare"):
        await r.say(lucia, words)
        await r.advance(timedelta(minutes=6), step=timedelta(minutes=1))
    # 18 minutes after the first message, 6 after the last: it is escalated already.
    async with r.db.unit_of_work() as uow:
        escalations = (await uow.orm.exec(select(Escalation))).all()
    # One open escalation: the unread messages' routine item, raised by the question.
    assert any("red-flag-question" in e.rules and e.level == "urgent" for e in escalations)


def test_lexicons_that_would_read_a_message_differently_are_refused_with_where(
    tmp_path: Path,
) -> None:
    """What a message means must not depend on its language: the same symptoms, the same
    combinations and thresholds in every lexicon (only the words differ)."""
    folder = _copy(tmp_path)
    lexicon = folder / "fr" / "lexicon.yaml"
    text = lexicon.read_text("utf-8")
    assert "at_least: 120" in text
    assert "  - id: red-streaks\n" in text
    text = text.replace("at_least: 120", "at_least: 150")
    lexicon.write_text(text.replace("  - id: red-streaks\n", "  - id: red-streakz\n"), "utf-8")
    with pytest.raises(ContentError) as raised:
        load_library(folder, "en")
    report = str(raised.value)
    assert re.search(r"fr/lexicon\.yaml:\d+: measures\.racing_heart.*150.*120", report)
    assert re.search(r"fr/lexicon\.yaml:\d+: combinations.*'red-streaks' missing", report)


async def test_opening_a_link_fixes_no_language_only_consenting_does(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    relative = r.server.user("Sasha", language_code="ru")
    invitation = await r.services.enrolment.invite_patient(
        name="Ana", session_at=paris(2026, 11, 3, 8, 0), areas="face")
    await r.say(relative, f"/start {invitation.token}")
    async with r.db.unit_of_work() as uow:
        [patient] = (await uow.orm.exec(select(Patient))).all()
    assert patient.language == ""  # not theirs to choose by opening a link


@pytest.mark.parametrize(
    ("given", "phone", "number"),
    [
        ({"country": "GB"}, None, "999 / 112"),
        ({}, "+1 415 555 0100", "911"),  # read from the phone number the clinic recorded
        ({}, "+7 912 345-67-89", "103 / 112"),
        ({"country": "us"}, "+33 6 12 34 56 78", "911"),  # given wins over the phone's
        ({}, "06 12 34 56 78", "112"),  # a national number tells nothing: the clinic's
    ],
)
async def test_a_patient_is_told_the_emergency_number_of_their_country(
    rehearsal: Rehearsal, given: dict[str, str], phone: str | None, number: str
) -> None:
    r = rehearsal
    nurse, ana = r.server.user("Nurse"), r.server.user("Ana")
    await r.invite_clinician(nurse)
    await _enrol(r, ana, "Yes, I agree", phone=phone, **given)
    assert number in (ana.sent()[-1].text or "")  # the welcome
    await r.run_until(paris(2026, 11, 3, 12, 0))
    await r.say(ana, "my lips are swelling and I can't breathe")
    await r.services.outbox.idle()
    told = " ".join(m.text or "" for m in ana.sent()[-2:])
    assert f"Call {number}" in told or f"call {number}" in told
    assert any(f"The patient was told to call {number} now." in (m.text or "")
               for m in nurse.sent())  # the page says which number they were given


def test_a_clinic_listing_a_country_libphonenumber_does_not_know_is_told_so() -> None:
    clinic = load_library(BUNDLED, "en").speaks("en").clinic.model_dump()
    with pytest.raises(ValueError, match="'UK'"):
        type(load_library(BUNDLED, "en").speaks("en").clinic).model_validate(
            clinic | {"emergency_numbers": {"UK": "999"}})  # GB is the code


async def test_enrolment_refuses_an_unknown_country(rehearsal: Rehearsal) -> None:
    with pytest.raises(ValueError, match="unknown country"):
        await rehearsal.services.enrolment.invite_patient(
            name="Ana", session_at=paris(2026, 11, 3, 8, 0), country="XX")


def test_plural_forms_follow_each_languages_cldr_rules(tmp_path: Path) -> None:
    library = load_library(BUNDLED, "en")
    ru = library.speaks("ru").messages
    for days, words in ((1, "1 день."), (3, "3 дня."), (7, "7 дней."), (21, "21 день.")):
        assert words in ru.format("enrol_link", name="А", id=1, days=days, link="L")
    en = library.speaks("en").messages
    assert "1 item that" in en.format("digest_header", date="Mon", count=1)
    assert "4 items that" in en.format("digest_header", date="Mon", count=4)
    folder = _copy(tmp_path)
    words = folder / "ru" / "messages.yaml"
    text = words.read_text("utf-8")
    link = text.index("\nenrol_link:")  # its own "few", not another message's
    few = next(line for line in text[link:].splitlines() if line.startswith("  few: "))
    words.write_text(text[:link] + text[link:].replace(few + "\n", "", 1), "utf-8")
    with pytest.raises(ContentError) as caught:
        load_library(folder, "en")
    assert re.search(r"ru/messages\.yaml:\d+: enrol_link: no plural form 'few'", str(caught.value))
