"""Messages in a language the clinic does not ship (Italian, Swedish...). The bot
cannot read them, so it neither reassures nor stays silent: the patient is told in their
language that the message went to their care team as written, with the emergency number,
and gets the red-flag question; the clinic gets the message as a routine item marked with
its language."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.adapters.languages import FastLangdetect
from bot.core.content import Content
from bot.core.language import language_name, reading_order
from bot.core.triage import Readers
from bot.rehearsal import Rehearsal
from bot.sandbox import SandboxUser
from bot.store.models import Answer, Escalation
from tests.conftest import paris
from tests.fakes import assert_instructed

EN = frozenset({"en"})
FRENCH = "j'ai les lèvres qui gonflent et du mal à respirer depuis ce matin"
ITALIAN = "mi si stanno gonfiando le labbra e faccio fatica a respirare da stamattina"


@pytest.mark.parametrize(
    ("text", "guess", "unread"),
    [
        (FRENCH, ("fr", 0.99), "fr"),
        ("my lips are swelling since this morning", ("en", 0.95), None),  # shipped
        ("ok merci", ("fr", 0.99), None),  # too short to tell
        ("ciao bella ciao", ("it", 0.40), None),  # not sure enough
        ("mi duele mucho la cara hoy", ("es", 0.97), "es"),
        ("у меня опухли губы и трудно дышать", ("ru", 0.99), "ru"),
    ],
)
def test_only_a_confident_guess_on_a_long_enough_message_counts(
    text: str, guess: tuple[str, float], unread: str | None
) -> None:
    found = reading_order(text, guess=guess, read=EN, knows=lambda _c, _w: False, own="",
                          clinic="en")
    assert found[1] == unread


@pytest.mark.parametrize(
    "text", ["im in pain", "im so dizzy", "nah im ok", "im choking cant breathe", "ya it hurts"]
)
def test_chat_english_an_identifier_takes_for_german_is_read_as_english(
    text: str, content: Content
) -> None:
    guess = FastLangdetect().guess(text)
    knows = Readers([content], "en").knows
    assert reading_order(text, guess=guess, read=EN, knows=knows, own="", clinic="en") == (
        ["en"], None)


def test_the_identifier_runs_on_this_machine_with_the_model_its_wheel_carries() -> None:
    guesser = FastLangdetect()
    assert guesser.guess(FRENCH) == (pytest.approx("fr"), pytest.approx(1.0, abs=0.1))
    assert (guesser.guess("me duelen los labios y no puedo respirar") or ("", 0))[0] == "es"
    assert (guesser.guess("my cheek is a little sore today") or ("", 0))[0] == "en"
    assert language_name("fr") == "French"
    assert language_name("zz") == "zz"


async def enrolled(r: Rehearsal) -> tuple[SandboxUser, SandboxUser]:
    nurse, marie = r.server.user("Nurse"), r.server.user("Marie")
    await r.invite_clinician(nurse)
    await r.enrol(marie, session_at=paris(2026, 11, 3, 8, 0))
    await r.run_until(paris(2026, 11, 3, 12, 0))
    return nurse, marie


async def test_a_message_in_italian_is_not_answered_as_if_read(rehearsal: Rehearsal) -> None:
    r = rehearsal
    nurse, marie = await enrolled(r)
    before = len(r.server.sent(marie.id))
    await r.say(marie, ITALIAN)
    told, question = r.server.sent(marie.id)[before:]
    assert "non so leggere i messaggi in italiano" in (told.text or "")
    assert "chiami subito il 112" in (told.text or "")
    assert "None of these" in question.labels  # the red-flag question
    assert not [m for m in r.server.sent(marie.id) if "saved your message" in (m.text or "")]
    async with r.db.unit_of_work() as uow:
        [item] = (await uow.orm.exec(select(Escalation))).all()
        [answer] = (await uow.orm.exec(select(Answer).where(Answer.text == ITALIAN))).all()
    assert (item.level, item.rules) == ("routine", ["unread-language"])
    assert "Italian (it)" in item.body
    assert ITALIAN in item.body
    assert answer.text == ITALIAN  # kept as written
    # A sign tapped on the question is an emergency like any other.
    await r.press(marie, "Lips, tongue or throat swelling")
    await r.services.outbox.idle()
    assert_instructed(r.server, marie.id)
    assert any("EMERGENCY" in (m.text or "") for m in r.server.sent(nurse.id))


async def test_a_language_without_a_line_gets_the_english_one_naming_it(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    _, marie = await enrolled(r)
    await r.say(marie, "Jag har svullna läppar och det är svårt att andas nu")  # Swedish
    told = next(m.text or "" for m in r.server.sent(marie.id) if "Swedish" in (m.text or ""))
    assert "looks like Swedish" in told
    assert "call 112 now" in told
