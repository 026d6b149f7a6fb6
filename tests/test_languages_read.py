"""A whole course in each language the clinic ships: every word the patient reads is theirs,
their words are read in their language, and the clinic reads its own (issue 15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.adapters.content_files import load_library
from bot.core.triage import Readers
from bot.rehearsal import Rehearsal
from bot.store.models import Escalation
from tests.conftest import paris

LIBRARY = load_library()
READERS = Readers(LIBRARY.contents.values(), LIBRARY.clinic)


def level_of(language: str, text: str, day: int) -> str:
    """The level a message in `language` is read at on `day`."""
    return READERS.read_in([language], text, day=day).assessment.level.label


def assert_emergency(language: str, text: str, emergency: bool, *, day: int) -> None:
    """Whether a message is read as an emergency (the instruction to call is sent)."""
    assert (level_of(language, text, day) == "emergency") is emergency, text


def assert_asked_or_emergency(language: str, text: str, emergency: bool, *, day: int) -> None:
    """An emergency, or not one but never reassured: the red-flag question is asked."""
    reading = READERS.read_in([language], text, day=day)
    assert (reading.assessment.level.label == "emergency") is emergency, text
    assert emergency or reading.screen, text

# What a patient writes in each language: a harmless bruise, a worsening urgent sign, and a
# red flag; each as a patient would write it (not a lexicon phrase).
SAID = {
    "fr": ("J'ai un petit bleu sur la joue, rien de méchant",
           "La zone est rouge, chaude et ça fait de plus en plus mal depuis hier",
           "Mes lèvres gonflent à vue d'oeil et j'ai du mal à respirer"),
    "es": ("Tengo un moretón pequeño en la mejilla, nada más",
           "La zona está roja, caliente y me duele cada vez más desde ayer",
           "Se me están hinchando los labios y me cuesta respirar"),
    "ru": ("У меня небольшой синяк на щеке, больше ничего",
           "Место уколов красное, горячее и болит всё сильнее со вчерашнего дня",
           "У меня опухают губы и тяжело дышать"),
}


@pytest.mark.parametrize("language", sorted(SAID))
def test_each_language_is_read_in_its_own_words(language: str) -> None:
    harmless, urgent, emergency = SAID[language]
    levels = [level_of(language, text, 2)
              for text in SAID[language]]
    assert levels == ["none", "urgent", "emergency"], (harmless, urgent, emergency)


@pytest.mark.parametrize("language", sorted(SAID))
async def test_a_whole_course_in_each_language(rehearsal: Rehearsal, language: str) -> None:
    r = rehearsal
    content = LIBRARY.speaks(language)
    m = content.messages
    nurse, patient = r.server.user("Nurse"), r.server.user("Pat")  # Telegram: English
    await r.invite_clinician(nurse)
    invitation = await r.services.enrolment.invite_patient(
        name="Pat", session_at=paris(2026, 11, 3, 8, 0), areas="face", language=language)
    await r.say(patient, f"/start {invitation.token}")
    await r.press(patient, patient.sent()[-1].labels[0])  # yes, in their language
    assert "Pat" in (patient.sent()[-1].text or "")
    harmless, urgent, emergency = SAID[language]
    # Every check-in of the plan, in their words, answered with a tap; on the first day,
    # what they write is read in their language and answered in it.
    for step in content.plan.steps:
        due = paris(2026, 11, 3, step.at.hour, step.at.minute) + timedelta(days=step.day)
        await r.run_until(due + timedelta(minutes=5), step=timedelta(hours=3))
        checkin = patient.sent()[-1]
        assert step.message.splitlines()[0] in (checkin.text or ""), step.id
        await r.press(patient, m["all_good"])
        if step.day == 0:
            await r.say(patient, harmless)
            assert (patient.sent()[-1].text or "").startswith(m["reply_none"][:7])
            await r.say(patient, urgent)
            await r.services.outbox.idle()
            assert any(m["reply_urgent"][:25] in (x.text or "") for x in patient.sent()[-2:])
    await r.say(patient, emergency)
    await r.services.outbox.idle()
    told = " ".join(x.text or "" for x in patient.sent()[-3:])
    assert m["reply_emergency"].split("{")[0].strip()[:20] in told
    pages = " ".join(x.text or "" for x in nurse.sent())
    assert "EMERGENCY" in pages  # the clinic reads English
    assert emergency in pages  # with the patient's words as written
    async with r.db.unit_of_work() as uow:
        levels = sorted(e.level for e in (await uow.orm.exec(select(Escalation))).all())
    assert levels == ["emergency"]  # the urgent one, still open, rose to an emergency
    # No English reached the patient after consent (the clinic's words aside).
    english = LIBRARY.speaks("en").messages
    texts = [x.text or "" for x in patient.sent()]
    assert not any(english["reply_none"][:25] in t or english["all_good"] in t for t in texts)


async def test_a_language_change_mid_course_changes_how_words_are_answered(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    nurse, marie = r.server.user("Nurse"), r.server.user("Marie")
    await r.invite_clinician(nurse)
    invitation = await r.services.enrolment.invite_patient(
        name="Marie", session_at=paris(2026, 11, 3, 8, 0), areas="face", language="fr")
    await r.say(marie, f"/start {invitation.token}")
    await r.press(marie, "Oui, j'accepte")
    await r.run_until(paris(2026, 11, 4, 12, 0))
    await r.say(marie, "/language")
    await r.press(marie, "Español")
    # She still writes in French sometimes: read in French (identified), answered in Spanish.
    await r.say(marie, SAID["fr"][2])
    await r.services.outbox.idle()
    es = LIBRARY.speaks("es").messages
    told = " ".join(x.text or "" for x in marie.sent()[-3:])
    assert es["reply_emergency"].split("{")[0].strip()[:20] in told


@pytest.mark.parametrize(("language", "text", "level"), [
    ("es", "sí se me hincha la lengua", "emergency"),  # "sí" (yes) is not "si" (if)
    ("ru", "мне 40 и 3 дня болит", "routine"),  # pain for 3 days at 40, not 40.3 °C
    ("es", "treinta y ocho y medio y escalofríos", "emergency"),  # 38.5 °C, with chills
    ("fr", "trente-neuf deux depuis ce matin avec des frissons", "emergency"),  # 39.2 °C
])
def test_words_that_look_alike_once_folded_or_counted_are_told_apart(
    language: str, text: str, level: str
) -> None:
    assert level_of(language, text, 3) == level


@pytest.mark.parametrize("text", ["፩፩ hola", "𐩀𐩀 lips swelling", "٣٩٫٥ fièvre", "x" * 5000])
def test_odd_digits_and_huge_words_are_read_without_failing(text: str) -> None:
    """Characters Python calls digits that are no decimal digits once crashed the reading
    of every message on receipt."""
    for language in sorted(READERS.read):
        assert READERS.by[language].phrases.forms.tokens(text) is not None
        READERS.read_in([language], text, day=1)
        assert not any(READERS.knows(language, w) is None for w in text.split())


async def test_the_instruction_on_receipt_knows_each_patients_country_after_a_restart(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    jo = r.server.user("Jo")
    invitation = await r.services.enrolment.invite_patient(
        name="Jo", session_at=paris(2026, 11, 3, 8, 0), areas="face", country="GB")
    await r.say(jo, f"/start {invitation.token}")
    await r.press(jo, "Yes, I agree")
    r.services.deps.whereabouts.forget(jo.id)  # as after a restart
    assert await r.services.patients.recall_whereabouts() == 1
    assert r.services.deps.whereabouts.of(jo.id) == ("en", "GB")


@pytest.mark.parametrize(("language", "text"), [
    ("en", "the bruise still hasn't gone away"),
    ("fr", "le bleu n'est toujours pas résorbé"),
    ("es", "el moretón todavía no se ha ido"),
    ("ru", "синяк до сих пор не сошел, две недели уже"),
])
def test_a_negated_resolution_keeps_the_sign(language: str, text: str) -> None:
    """"Not gone" is still there: two weeks on, a bruise is for the clinic to review."""
    reading = READERS.read_in([language], text, day=15)
    assert reading.assessment.level.label == "routine"
    assert "bruising" in {o.symptom for o in reading.report.observations}


@pytest.mark.parametrize(("language", "asked", "confirmed"), [
    ("en", "turning white? no, nothing is white. all pink as usual",
     "turning white? yes, it stays white"),
    ("fr", "blanc ? non, rien de blanc, tout est rose", "blanc ? oui, ça reste tout blanc"),
    ("ru", "побелело? нет, ничего не белеет. розовое всё как обычно",
     "побелело? да, кожа белая и не розовеет"),
])
def test_a_sign_asked_and_answered_no_is_no_emergency(
    language: str, asked: str, confirmed: str
) -> None:
    """A checklist that answers its own questions: "no" denies, "yes" does not."""
    assert level_of(language, asked, 2) != "emergency"
    assert level_of(language, confirmed, 2) == "emergency"


@pytest.mark.parametrize(("language", "text"), [
    ("en", "lips numb and puffy"),
    ("en", "throat itchy and tight"),
    ("fr", "lèvres engourdies et gonflées"),
    ("es", "labios con hormigueo y se hinchan"),
    ("ru", "губы онемели и опухли"),
])
def test_two_signs_of_the_lips_or_throat_joined_by_and_are_an_emergency(
    language: str, text: str
) -> None:
    """"and" starts a new clause, except right between two signs of one part."""
    assert level_of(language, text, 0) == "emergency"


@pytest.mark.parametrize(("language", "text", "level"), [
    ("en", "Chills so bad my teeth are chattering, and I feel really hot.", "emergency"),
    ("fr", "je voyais un peu double ce matin", "emergency"),
    ("en", "bruising nearly faded, cant really see it under concealer", "none"),
    ("fr", "une bosse dure sur la cuisse qui fait très mal", "urgent"),
])
def test_an_intensifier_inside_a_phrase_does_not_break_it(
    language: str, text: str, level: str
) -> None:
    """'feel *really* hot' is 'feel hot'; 'can't *really* see it' is no loss of sight; a
    word left out keeps its grade."""
    assert level_of(language, text, 2) == level


@pytest.mark.parametrize(("language", "text", "emergency"), [
    ("en", "those vitamin tablets are huge lol so hard to swallow them", False),
    ("en", "Cannot swallow my pills, feels like something is stuck in my throat", True),
    ("en", "it's hard to swallow, even water", True),
    ("fr", "ces comprimés sont énormes, durs à avaler", False),
])
def test_pills_hard_to_swallow_are_asked_about_a_throat_is_an_emergency(
    language: str, text: str, emergency: bool
) -> None:
    assert_asked_or_emergency(language, text, emergency, day=3)


@pytest.mark.parametrize(("language", "text", "level"), [
    ("en", "it's 39 degrees out here, can i go to the beach?", "none"),
    ("en", "Temperature 37.0, pulse 78, pressure 120 on 80. all is good.", "none"),
    ("en", "bp 130/85 pulse 72", "none"),
    ("en", "pulse 130 and I feel awful", "emergency"),
    ("es", "tengo 39 de fiebre desde hace 2 días", "emergency"),
])
def test_the_weather_and_a_blood_pressure_are_no_fever_or_racing_heart(
    language: str, text: str, level: str
) -> None:
    assert level_of(language, text, 3) == level


@pytest.mark.parametrize(("language", "text", "emergency"), [
    ("en", "my husband has a fever of 39 and the flu, can I still come in? Im fine myself", False),
    ("es", "Mi mamá tuvo fiebre de 39, pero yo estoy perfecta. ¿Eso me podría pasar?", False),
    ("en", "my mum's lips are swelling and she can't breathe", True),
    ("es", "si, se me hinchan los labios y no puedo respirar", True),  # "si" is yes
])
def test_someone_elses_sign_beside_im_fine_is_asked_about(
    language: str, text: str, emergency: bool
) -> None:
    """Never reassured either way: asked about, or an emergency (a carer writing alone)."""
    assert_asked_or_emergency(language, text, emergency, day=2)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "no rash and throat tightening"),  # a joining "and" stops the negation
    ("fr", "pas de bleu et lèvre blanche"),
    ("ru", "не болит и горло сжимает"),
    ("en", "lips swelling and itching gone now"),
    ("en", "temp 39.3 feeling under the weather"),  # a fever word: not the weather
    ("en", "the skin around my mole turned black"),
    ("en", "lips swelling, normal? no!"),  # the question is not the sign
    ("ru", "губа опухла? нет, сильно опухла"),
    ("en", "im fine but my mum says the left side of my face is drooping"),
    ("fr", "je vais bien mais mon mari dit que j'ai les lèvres bleues"),
])
def test_the_new_readings_never_hide_a_present_red_flag(language: str, text: str) -> None:
    """Probes a second reader wrote against this round's changes."""
    assert level_of(language, text, 1) == "emergency"


@pytest.mark.parametrize(("language", "text"), [
    ("en", "bp 180/125 pulse 80"), ("ru", "давление 160 на 125, пульс 75"),
])
def test_both_numbers_of_a_blood_pressure_are_no_heart_rate(language: str, text: str) -> None:
    assert level_of(language, text, 1) != "emergency"


@pytest.mark.parametrize(("language", "text"), [
    ("en", "watched a video of a woman whose lips blew up after fillers. mine are totally fine"),
    ("en", "my friend's face went purple and lacy after hers, thank god nothing like that for me"),
    ("fr", "Ma grand-mère a fait un AVC, visage qui tombe etc. Moi tout va bien"),
    ("es", "Mi abuelo tuvo un ictus y se le torció la boca. Yo voy bien, sin nada"),
    ("ru", "Губы опухли... от поцелуев, шучу, всё норм"),
])
def test_a_red_flag_beside_the_writers_own_all_clear_is_asked_about(
    language: str, text: str
) -> None:
    """Not decided either way: no call to emergency services, no reassurance, and the
    red-flag question is asked (a patient who does have the sign taps it)."""
    reading = READERS.read_in([language], text, day=2)
    assert reading.assessment.level.label != "emergency", text
    assert reading.screen, text


@pytest.mark.parametrize(("language", "text"), [
    ("en", "I'm fine but my lips are swelling and it's hard to breathe"),
    ("en", "im fine honestly, just the tip of my nose has gone a bit blue-grey"),
    ("en", "my throat is closing up, otherwise I'm fine"),
    ("en", "I was fine yesterday, now my tongue is swelling"),
    ("en", "my husband says im slurring my words, i feel fine myself"),
    ("fr", "tout va bien sauf que mes lèvres gonflent et j'ai du mal à respirer"),
    ("es", "estoy bien pero se me hinchan los labios y me cuesta respirar"),
    ("ru", "всё хорошо, но губы опухают и тяжело дышать"),
    ("ru", "она говорит все нормально, просто уголок рта опущен и чай проливается"),
])
def test_an_all_clear_that_keeps_something_back_leaves_the_emergency(
    language: str, text: str
) -> None:
    assert level_of(language, text, 1) == "emergency", text


@pytest.mark.parametrize(("language", "text", "emergency"), [
    ("en", "can mesotherapy cause blindness? read it in an article", False),
    ("en", "could I get blurry vision from this?", False),
    ("en", "is it normal that my lips are swelling and I can't breathe?", True),
    ("en", "is it normal that I can't breathe?", True),
    ("en", "Can barely breathe? help", True),  # no question in general: "can" alone opens none
    ("es", "¿Se pueden hinchar los labios después de la meso?", False),
    ("en", "how long does the blurry vision in the left eye last?", True),  # it is there
    ("ru", "Это нормально, что губы распухли и трудно дышать?", True),
    ("es", "¿es normal que se me hinchen los labios y me cueste respirar?", True),
    ("ru", "может ли после мезо опухнуть горло?", False),
    ("en", "im fine, just curious: can your lips swell after this?", False),
    ("en", "I'm fine, just my tongue is swelling and my throat is tight", True),
])
def test_a_question_asked_in_general_is_asked_about_a_question_about_oneself_is_not(
    language: str, text: str, emergency: bool
) -> None:
    assert_asked_or_emergency(language, text, emergency, day=2)


@pytest.mark.parametrize(("language", "text", "emergency"), [
    ("en", "everything looks doubled since the injections in my forehead", True),
    ("en", "i keep seeing like a grey blotch in my left eye when I look at stuff", True),
    ("en", "its like looking through a smudgy window with my right eye", True),
    ("ru", "в правом глазу появилось темное пятно, мешает смотреть", True),
    ("es", "de repente dejé de ver por el ojo derecho unos segundos", True),
    ("ru", "голос почти пропал", True),
    ("ru", "краснота ушла на всё бедро за пару часов", True),
    ("ru", "синяк почти пропал", False),
    ("en", "lips tingling and getting fat and i'm itchy all over", True),
    ("en", "red bumps like mosquito on whole body and now I feel dizzy", True),
    ("en", "the redness has spread super quick over the last 2 hours", True),
    ("en", "she is mixing up her words and is sleepy", True),
    ("en", "the left side of my smile doesn't move", True),
    ("en", "i keep passing out, twice today", True),
    ("en", "my face on the right, I speak strange, my husband say my words is wrong", True),
    ("en", "the swelling on my right cheek is going down", False),
    ("en", "bumps going down, can barely see them", False),
    ("en", "tiny bumps everywhere she injected, look like mosquito bites", False),
])
def test_sight_hives_spreading_and_speech_in_plain_words(
    language: str, text: str, emergency: bool
) -> None:
    assert_emergency(language, text, emergency, day=2)


@pytest.mark.parametrize(("language", "text", "emergency"), [
    ("en", "Did I leave a blue umbrella at reception on tuesday?", False),
    ("en", "ive got white concealer, can i put it over the dots tomorrow?", False),
    ("ru", "синюю шапку купила, можно носить после мезо?", False),
    ("en", "lips blue even in my jacket", True),  # a garment alone is no object's colour
    ("fr", "mes lèvres sont bleues même avec mon bonnet", True),
    ("es", "¿Me dejé un paraguas negro en la recepción?", False),
    ("en", "im covered in itchy lumps and the room is spinning", True),
    ("en", "the tip of my nose has gone blue and cold", True),
])
def test_the_colours_of_other_things(language: str, text: str, emergency: bool) -> None:
    assert_emergency(language, text, emergency, day=2)


@pytest.mark.parametrize(("language", "text", "emergency"), [
    ("en", "everything's doubled when I look at the telly", True),
    ("en", "Everything's doubled this week, my workload and my coffee", False),
    ("en", "my left eyelid and the left side of my mouth are hanging lower than the right", True),
    ("en", "Mum keeps dozing off mid-sentence and didn't know who I was", True),
    ("en", "I went down like a sack of potatoes in the supermarket", True),
    ("en", "my throat feels like it's getting smaller", True),
    ("en", "the redness was a little circle at lunch and now it's the size of a dinner plate",
     True),
    ("en", "Meant to message the vet that my dog's lip swelled up after a wasp sting", False),
    ("en", "blisters have popped up on the dark purple bit on my chin", True),
    ("en", "the spot on my cheek is dusky purple, cold to the touch", True),
    ("en", "put a cold pack on the purple bruise", False),
])
def test_a_studied_round_of_plain_words(language: str, text: str, emergency: bool) -> None:
    """Kinds from the studied set `r`: sight only when looking, a face hanging lower, drowsy
    confusion, collapsing in plain words, redness grown since lunch; pets are not patients."""
    assert_emergency(language, text, emergency, day=2)


def test_a_figure_of_speech_about_a_dog_keeps_the_writers_sign() -> None:
    """"Tired as a dog" is the writer's tiredness: pets set aside are "my dog", not "dog"."""
    assert level_of("ru", "Устала как собака, вялость уже 4 день", 4) == "routine"


def test_an_all_clear_of_before_does_not_set_a_later_sign_aside() -> None:
    """"todo bien... después vi en el espejo...": the all-clear was of before."""
    text = ("Llegué a casa, todo bien, me lavé los dientes y después en el espejo vi que tengo"
            " los labios hinchados y me cuesta respirar")
    assert level_of("es", text, 1) == "emergency"
    assert level_of("en", "got home, all good, then my lips started swelling and my throat"
                          " got tight", 1) == "emergency"


@pytest.mark.parametrize(("language", "text", "emergency"), [
    # a second reader's probes of this round: the writer's own sign outweighs "I'm fine"
    ("en", "I'm good. My tongue is swollen and I can't breathe properly", True),
    ("fr", "Tout va bien. Mes lèvres gonflent et j'ai du mal à respirer", True),
    ("en", "My throat feels tight but I'm ok", True),
    ("en", "I'm ok I think, tongue swelling", True),
    ("ru", "Всё хорошо вроде, язык опухает", True),
    ("en", "All good, just wanted to say my lips have swollen a lot", True),
    ("en", "I'm allergic to my cat, lips swelling and throat tight", True),
    ("en", "my sight has gone on the left side", True),
    ("en", "my vision has gone as if there's a curtain over my left eye", True),
    ("en", "I keep forgetting what time my appointment is, can you remind me?", False),
    ("en", "i was passing out flyers at work, is that ok with bruises?", False),
    ("en", "I put something cold on the dark purple bit, is that ok?", False),
    ("ru", "приложила холодную ложку к тёмному месту", False),
])
def test_probes_of_the_all_clear_and_plain_words(
    language: str, text: str, emergency: bool
) -> None:
    assert_emergency(language, text, emergency, day=1)
