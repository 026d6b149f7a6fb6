"""Free-text triage, read as carefully as a nurse would (pure core, no I/O)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.content import Content
from bot.core.model import Level, Observation, Trend
from bot.core.triage import Triager

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def triager(content: Content) -> Triager:
    return Triager(content)


def read(t: Triager, text: str, day: int = 2) -> tuple[str, list[str]]:
    r = t.read(text, day=day)
    return r.assessment.level.label, r.symptoms


@pytest.mark.parametrize(
    ("day", "text", "level", "symptoms"),
    [
        (1, "the bruise on my cheek is bigger and darker than yesterday", "routine",
         ["bruising"]),
        (4, "the bruise on my cheek is bigger and darker than yesterday", "routine",
         ["bruising"]),
        (2, "no swelling at all, just a little itch", "none", ["itching"]),
        (5, "temp 38.4 and one spot has pus", "urgent", ["fever", "infection"]),
        (1, "my lips feel tight and I can't breathe properly", "emergency",
         ["allergic_reaction"]),
        (3, "no pain but it's turning grey", "emergency", ["vascular_compromise"]),
    ],
)
def test_the_examples_of_the_brief(
    triager: Triager, day: int, text: str, level: str, symptoms: list[str]
) -> None:
    assert read(triager, text, day) == (level, symptoms)


def test_every_red_flag_phrase_alone_is_an_emergency(triager: Triager, content: Content) -> None:
    for flag_id, flag in content.red_flags.items():
        for phrase in flag.phrases:
            r = triager.read(phrase, day=5)
            assert r.assessment.level is Level.EMERGENCY, (flag_id, phrase)


@pytest.mark.parametrize(
    "text",
    [
        "no trouble breathing, just a small bruise",
        "breathing is fine and my vision is normal",
        "what should I do if my lips swell up?",
        "the skin went white for a second when I pressed but the colour came straight back",
    ],
)
def test_denied_hypothetical_or_someone_elses_red_flags_do_not_fire(
    triager: Triager, text: str
) -> None:
    assert triager.read(text, day=1).assessment.level < Level.EMERGENCY


def test_someone_elses_symptom_is_not_counted_but_their_red_flag_gets_the_advice(
    triager: Triager,
) -> None:
    assert read(triager, "my friend had hives after hers", 2) == ("none", [])
    level, _ = read(triager, "writing for my mum, her lips are swelling and she is wheezy", 0)
    assert level == "emergency"


def test_reassurance_never_lowers_a_red_flag(triager: Triager) -> None:
    level, _ = read(triager, "feeling great, no pain at all 😊 but my tongue is swelling up", 0)
    assert level == "emergency"


@pytest.mark.parametrize(
    ("text", "symptom", "present"),
    [
        ("swelling is gone now", "swelling", False),
        ("not itchy anymore", "itching", False),
        ("the bruise has gone yellow", "bruising", True),
        ("the bruise hasn't gone away", "bruising", True),
        ("I think it might be a bit swollen?", "swelling", True),
        ("my sister had hives after hers", "allergic_reaction", False),
        ("my friend had a bruise like this, mine's still here", "bruising", True),
    ],
)
def test_negation_resolution_hedges_and_experiencer(
    triager: Triager, text: str, symptom: str, present: bool
) -> None:
    assert (symptom in triager.read(text, day=2).symptoms) is present


@pytest.mark.parametrize(
    ("text", "celsius"),
    [("temp 38.4", 38.4), ("38,5 this evening", 38.5), ("101.3F", 38.5),
     ("thermometer says 102 f", 38.9), ("went from 37.6 this morning to 39 now", 39.0)],
)
def test_temperatures_in_celsius_and_fahrenheit(
    triager: Triager, text: str, celsius: float
) -> None:
    fever = [o for o in triager.read(text, day=3).report.present if o.symptom == "fever"]
    assert fever
    assert fever[0].temperature_c == celsius


def test_a_normal_temperature_means_no_fever(triager: Triager) -> None:
    assert read(triager, "felt feverish but the thermometer says 37.2", 3) == ("none", [])


def test_severity_words_and_scores(triager: Triager) -> None:
    for text in ("soreness is 8/10", "sore, 8 out of 10", "the pain is unbearable"):
        assert read(triager, text, 1) == ("urgent", ["soreness"]), text
    assert read(triager, "a bit sore", 1) == ("none", ["soreness"])


def test_misspellings_slang_emoji_and_several_symptoms(triager: Triager) -> None:
    r = triager.read("brusing n sweling, itchey af 😩 but no pain", day=1)
    assert r.symptoms == ["bruising", "itching", "swelling"]
    assert "soreness" not in r.symptoms


def test_trend_against_the_previous_answer(triager: Triager) -> None:
    previous = [Observation("swelling", 2)]
    r = triager.read("my cheek is swollen", day=4, previous=previous)
    assert r.unclear_trend == ("swelling",)  # the bot asks: better, same or worse?
    r = triager.read("my cheek is more swollen than yesterday", day=4, previous=previous)
    assert r.report.present[0].trend is Trend.WORSE
    assert r.assessment.level is Level.URGENT


def test_durations_contact_requests_and_off_topic(triager: Triager) -> None:
    r = triager.read("itchy for 3 days now, can someone call me?", day=2)
    assert r.durations == ("for 3 days",)
    assert r.report.contact_request
    assert r.assessment.level is Level.ROUTINE
    assert triager.read("how much is the next session?", day=2).off_topic == "admin"
    assert triager.read("thank you!!", day=2).off_topic == "thanks"
    assert triager.read("all good 👍", day=2).off_topic == "well"


def test_red_and_warm_swelling_is_an_infection(triager: Triager) -> None:
    expected = ("urgent", ["infection", "swelling"])
    assert read(triager, "cheek is red, hot and swollen", 3) == expected
    assert read(triager, "used a warm compress on the swelling", 1) == ("none", ["swelling"])


def _figures(triager: Triager, path: Path) -> dict[str, float]:
    items = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    got = [triager.read(i["text"], day=i["day"]).assessment.level for i in items]
    want = [Level.parse(i["level"]) for i in items]
    pairs = list(zip(want, got, strict=True))
    emergencies = [g for w, g in pairs if w is Level.EMERGENCY]
    urgent = [g for w, g in pairs if w >= Level.URGENT]
    calm = [g for w, g in pairs if w is Level.NONE]
    return {
        "exact": sum(w == g for w, g in pairs) / len(pairs),
        "emergency_recall": sum(g is Level.EMERGENCY for g in emergencies) / len(emergencies),
        "urgent_recall": sum(g >= Level.URGENT for g in urgent) / len(urgent),
        "false_alarms": sum(g > Level.NONE for g in calm) / len(calm),
    }


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("triage_*.jsonl")))
def test_labelled_messages_meet_the_targets(triager: Triager, name: str) -> None:
    f = _figures(triager, DATA / name)
    assert f["emergency_recall"] == 1.0
    assert f["urgent_recall"] >= 0.97
    assert f["exact"] >= 0.92
    assert f["false_alarms"] <= 0.08


def screened(t: Triager, text: str, day: int = 2) -> tuple[str, bool]:
    r = t.read(text, day=day)
    return r.assessment.level.label, r.screen


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("the itch is 8 of 10 tonight", "urgent"),
        ("soreness 9/10 at least", "urgent"),
        ("swelling: eight out of ten", "urgent"),
        ("burning level 7", "urgent"),
        ("a solid 9 for the pain", "urgent"),
        ("pain 3", "none"),
        ("the bruise is 2 days old and small", "none"),  # a count of days is not a score
        ("the itch was a 6, now it's a 2", "none"),
    ],
)
def test_scores_out_of_ten_grade_their_symptom(triager: Triager, text: str, level: str) -> None:
    assert screened(triager, text)[0] == level


def test_two_scores_give_the_trend_whichever_way_they_are_written(triager: Triager) -> None:
    worse = ("soreness went from 2 to 6", "pain was 3 yesterday, now 6",
             "pain 5/10 now, it was 2/10 this morning")
    for text in worse:
        [o] = triager.read(text, day=4).report.present
        assert o.trend is Trend.WORSE, text
    [o] = triager.read("burning was 6 this morning, now 2", day=4).report.present
    assert o.trend is Trend.BETTER


def test_a_heart_rate_written_as_a_number_is_a_racing_heart(triager: Triager) -> None:
    assert screened(triager, "my pulse is about 140 and I feel shaky")[0] == "emergency"
    assert screened(triager, "watch says 131 bpm lying in bed")[0] == "emergency"
    assert screened(triager, "HR 72 this morning, all calm") == ("none", False)
    assert screened(triager, "fever 39.5 C, heart rate 120 bpm")[0] == "emergency"  # ends
    # On a run a fast heart is expected: not decided, asked.
    assert screened(triager, "pulse hit 150 on my run today") == ("none", True)


@pytest.mark.parametrize(
    "text",
    [
        "will my throat close up from this? just curious",  # a question about what could be
        "passed out once as a teenager, nothing like that now",  # childhood history
        "in this selfie my face looks grey, it's the lighting",  # a photo
        "my toddler went blue in a tantrum lol, I'm fine though",  # someone else, not me
        "me im fine but my daughter cant breathe",  # beside the writer's own "I'm fine"
    ],
)
def test_unsure_red_flag_topics_are_asked_about_not_decided(
    triager: Triager, text: str
) -> None:
    level, asked = screened(triager, text)
    assert level != "emergency", text
    assert asked, text


@pytest.mark.parametrize(
    "text",
    [
        "my lips are swelling and my throat feels tight",
        "I fainted twice this morning",
        "my mum had her face done, her lips are swelling up and she can't breathe",  # a carer
        "the redness was tiny at lunch and now it covers my cheek, spreading so fast",
        "half my face is numb and my smile is crooked",
    ],
)
def test_present_red_flags_are_still_emergencies(triager: Triager, text: str) -> None:
    assert screened(triager, text) == ("emergency", False)


def test_a_checklist_denying_every_red_flag_is_not_an_emergency(triager: Triager) -> None:
    for text in ("breathing? fine. throat? no. lips? normal.",
                 "no trouble breathing, no blue or grey skin, vision fine"):
        assert screened(triager, text)[0] == "none", text


def test_harmless_messages_are_neither_asked_nor_escalated(triager: Triager) -> None:
    for text in ("all good today, bruise fading", "thanks for the reminder!",
                 "the purple bruise is turning yellow", "can I wear makeup tomorrow?"):
        assert screened(triager, text) == ("none", False), text


@pytest.mark.parametrize(
    "text",
    [
        # Found by a second reading: words near a red flag that must not make it a question.
        "here is a selfie, my lips are swelling and I can't breathe",
        "I'm not kidding, my throat is closing up",
        "I can't breathe oh no",
        "lips swelling??? no!!! help",
        "I can't see out of my left eye, I have my contacts in",
        "my vision went dark in one eye while I was on my phone screen",
        "my mum's lips are swelling after her injections",
        "will i be ok my throat is closing",
        "my resting heart rate is normally 60 but now 135",
        "heart rate 130 on my watch, no exercise",
    ],
)
def test_a_present_red_flag_stays_an_emergency_whatever_is_said_beside_it(
    triager: Triager, text: str
) -> None:
    assert screened(triager, text) == ("emergency", False)


def test_a_skin_colour_said_beside_the_lighting_is_asked_about(triager: Triager) -> None:
    text = "the lighting is bad but my cheek has gone white and blotchy and really hurts"
    assert screened(triager, text) == ("urgent", True)  # the severe pain is urgent meanwhile


def test_a_score_right_after_now_is_the_current_one(triager: Triager) -> None:
    assert screened(triager, "pain was 2 now 9")[0] == "urgent"
    assert screened(triager, "pain was 9 now 2")[0] == "none"
    [o] = triager.read("Soreness: 3/10 but it was 1/10 yesterday", day=4).report.present
    assert o.trend is Trend.WORSE
    [o] = triager.read("burning 6/10 right now, it was 8 in the chair", day=0).report.present
    assert o.trend is Trend.BETTER


def test_huge_numbers_are_read_without_failing(triager: Triager) -> None:
    for text in ("⑳" * 2200, "9" * 5000 + " out of 10", "pulse " + "1" * 5000):
        assert screened(triager, text)[0] == "none"


@pytest.mark.parametrize(
    "text",
    [
        "honestly can't breathe!!! from laughing at my husband's face",  # a cause given after
        "the aftercare sheet says tongue swelling is an emergency, good to know",  # a leaflet
        "I get breathless when I run, always have",  # exertion
        "my brother keeps making jokes that my lips look blue in photos",  # a joke
    ],
)
def test_a_red_flag_explained_by_what_follows_or_read_somewhere_is_asked_about(
    triager: Triager, text: str
) -> None:
    assert screened(triager, text) == ("none", True), text


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("left side of face feels numb since this morning", "emergency"),  # no "my"
        ("lips swellin and my throat is closin up", "emergency"),  # the dropped g of speech
        ("so dizy and hives all over my body", "emergency"),  # a doubled letter dropped
        ("the pain is excrutiating", "urgent"),  # a misspelled intensity word
    ],
)
def test_words_as_people_type_them_are_read(triager: Triager, text: str, level: str) -> None:
    assert screened(triager, text)[0] == level, text


def test_a_score_after_from_is_the_earlier_one(triager: Triager) -> None:
    assert triager.read("itch 6/10 now, up from 3", day=2).report.observations[0].trend == (
        Trend.WORSE)
    assert triager.read("swelling 2/10 from 5", day=2).report.observations[0].trend == (
        Trend.BETTER)


@pytest.mark.parametrize(
    "text",
    [
        "my dog is the one wheezing, not me",  # someone else, set against the writer
        "my boyfriend went white as a sheet when he saw the needle lol",  # an idiom
        "the sky went purple and grey tonight, my cheeks look great",  # an object's colour
        "i fainted once when i was 15 at a concert, could that happen with meso?",  # childhood
    ],
)
def test_what_is_not_the_patient_s_warning_sign_is_not_an_emergency(
    triager: Triager, text: str
) -> None:
    assert screened(triager, text)[0] == "none", text


@pytest.mark.parametrize(
    "text",
    [
        "he has a fever and is talking nonsense, he had the treatment on monday",  # confusion
        "everything looks hazy in my left eye since the injections",  # a change of sight
        "lips n tongue gettin bigger",  # swelling, as typed
    ],
)
def test_warning_signs_in_other_words_are_emergencies(triager: Triager, text: str) -> None:
    assert screened(triager, text) == ("emergency", False), text


@pytest.mark.parametrize(
    "text",
    [
        "my cheek looks grey... in the selfie because of the filter lol",  # an ellipsis pauses
        "lmaoooo i cant breathe 😂😂 that meme",  # letters held down, a joke
        "the nurse told me to watch for: trouble breathing, lips swelling, skin going white."
        " none of that, all good",  # a list of what to watch for
    ],
)
def test_what_only_sounds_like_a_warning_sign_is_not_an_emergency(
    triager: Triager, text: str
) -> None:
    assert screened(triager, text)[0] == "none", text


@pytest.mark.parametrize(
    "text",
    [
        "my lips are swelllling up",  # letters held down
        "i cant get my words out since an hour",  # speech
        "my left eye looks foggy since the session",  # sight
        "the skin next to one injection looks dead",  # skin dying
    ],
)
def test_warning_signs_as_typed_are_emergencies(triager: Triager, text: str) -> None:
    assert screened(triager, text) == ("emergency", False), text


@pytest.mark.parametrize(
    "text",
    [
        "is it normal that my right eye went blurry an hour after?",  # a question, not "fine"
        "my tongue feels weird and my chest is tight",  # a tight chest
        "she is muddled and keeps asking what day it is, and hot to touch",  # confusion
        "the red area went from my cheek down to my neck in 2 hours",  # spreading in hours
        "i see two of everything since the injections",  # double vision
    ],
)
def test_more_warning_signs_in_plain_words_are_emergencies(
    triager: Triager, text: str
) -> None:
    assert screened(triager, text) == ("emergency", False), text


def test_chills_denied_with_had_are_denied(triager: Triager) -> None:
    assert screened(triager, "38.2 this evening, haven't had any chills")[0] == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "noooo i cant breathe",  # a cry is not a denial
        "noooo my lips are blue",
        "reading the thermometer 39.9",  # a number is the patient's
        "im fine but my husband says my lips are blue",  # "I'm fine" beside someone else
        "my daughter cant breathe, she had the injections",  # a carer
        "i read the leaflet: my lips are blue and i cant breathe",  # not a list to watch for
        "i googled it because my throat is closing",
        "my throat is closing, because of the filler i saw on tiktok",
    ],
)
def test_a_present_red_flag_beside_these_words_stays_an_emergency(
    triager: Triager, text: str
) -> None:
    assert screened(triager, text) == ("emergency", False), text


def test_a_message_the_engine_fails_on_is_asked_about_not_guessed(
    triager: Triager, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_text: str) -> None:
        raise IndexError("a bug new wording met")

    monkeypatch.setattr(triager.phrases, "match", broken)
    reading = triager.read("anything at all", day=2)
    assert reading.screen  # the red-flag question, never a reassurance
    assert reading.report.observations == ()


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # A checklist written with dashes or labels: each answer belongs to its label.
        ("fever - no. chills - no. breathing - normal. vision - normal", "none"),
        ("Breathing: ok. Lips: normal. Throat: bit tight actually. Vision: fine.", "emergency"),
        # A temperature before a negation is still the patient's.
        ("temp 38.6 no chills no fainting", "urgent"),
        ("no fever, temp 37.2", "none"),
        # A number right after "no" corrects the one before; it is not denied.
        ("temperature 37.5 no 39.5 sorry typo", "emergency"),
        ("pulse 70 no wait 140", "emergency"),
        # What the nurse said could happen is not a report; what she saw is.
        ("my eyes are fine, the nurse said it can go blurry in rare cases", "none"),
        ("the doctor said my speech is slurred", "emergency"),
        # A dash after a sign that is not a checklist's label denies nothing.
        ("I can't breathe properly - no, it's not a panic attack", "emergency"),
        ("one side weak - no, didn't sleep on it", "emergency"),
        ("No: I can't breathe", "emergency"),
        ("thought the soreness would be gone by now but its really bad, 7/10", "urgent"),
    ],
)
def test_checklists_scores_and_reported_speech(triager: Triager, text: str, level: str) -> None:
    assert screened(triager, text, day=1)[0] == level, text


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # Fainting, breath sounds and one-sided signs said in other words are emergencies.
        ("I am very dizzy and then I fall down, I wake on the floor", "emergency"),
        ("my breathing not good after the injection, sound like whistle", "emergency"),
        ("i feel numb on the whole right side of my body and my face droops", "emergency"),
        # A sign the writer took back, read about or saw on a website is asked about.
        ("thought i saw a white spot on my cheek but it was moisturiser", "none"),
        ("i read that slurred speech can be a stroke sign?? my speech is fine", "none"),
        ("can i dye my hair this weekend? thinking dark ash grey", "none"),
    ],
)
def test_red_flags_in_other_words_and_signs_taken_back(
    triager: Triager, text: str, level: str
) -> None:
    assert screened(triager, text, day=1)[0] == level, text


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # "<noun>'s" is "is": a tongue that "'s swelling" is a swelling tongue.
        ("Her tongue's swelling and she's struggling to talk", "emergency"),
        ("my throat's tight", "emergency"),
        ("nothing's wrong, lip's fine", "none"),
        # Coming round on a floor is fainting; a mouth that droops is a drooping face.
        ("came round on the bathroom floor, no idea how long I was out", "emergency"),
        ("my mum came round on the weekend", "none"),
        ("my face feels numb on one side and my mouth droops when I try to smile", "emergency"),
        # "For a sec" is brief: a white patch that lasted a second, or a black-out beside a
        # figure of speech, is asked about; it no longer explains the black-out away.
        ("I blacked out for a sec in the kitchen making coffee", "screened"),
        ("it went white for a sec then pinked up", "screened"),
        # A grey room is no grey skin; skin that looks painted, or is as white as a wall, is.
        ("Painted the spare room grey over the weekend, face held up fine", "none"),
        ("my cheek looks like it's been painted white", "emergency"),
        ("my cheek is as white as the wall", "emergency"),
        ("i'm lying in the spare room, my lips are blue", "emergency"),
        ("my lips look greenish blue", "emergency"),
        # "Not breathing properly" is trouble breathing, not a denial; numb on one side.
        ("she's not breathing properly", "emergency"),
        ("my face is numb on one side", "emergency"),
        # A faint told by how it ended, or as consciousness lost in other words.
        ("came to on the couch with my brother shaking me, dont remember sitting down",
         "emergency"),
        ("i lost my conscious in the bath for short time", "emergency"),
        ("my boss says i was out for a few seconds at the till", "emergency"),
        ("woke up on the sofa after a nap, all fine", "none"),
        ("i was out for a walk and my face felt fine", "none"),
        # Sight in one eye told by what it stops; double vision in everyday words.
        ("cant read my texts with my right eye since this morning", "emergency"),
        ("everything looks dim out of my left eye", "emergency"),
        ("im seeing two of everything on the tv", "emergency"),
        ("cant read the leaflet, whats the dose of arnica", "none"),
        # Breath told by what it stops: stairs, sentences, lying flat.
        ("had to stop halfway up the stairs to get my breath back", "emergency"),
        ("three words and then i need air", "emergency"),
        ("cant lie flat, feels like im drowning", "emergency"),
        # Hives and a spinning room; skin like marble; a mouth dribbling on one side.
        ("hives on my tummy and the room spins when i get up", "emergency"),
        ("a marbly patch came up on my cheek", "emergency"),
        ("water dribbling out the left side of my mouth when i drink", "emergency"),
        ("little blisters on top of the dusky bit near my lip", "emergency"),
        # Student days, and someone else's fever set apart from the writer's own case.
        ("back in uni I passed out giving blood, nothing like that now", "screened"),
        ("my husband has a fever of 39 and the flu, not me", "screened"),
        # ... but words near those never set a present sign aside (a second reader's probes).
        ("could i get an ambulance i cant breathe", "emergency"),
        ("my boyfriend measured 39.8 on me, not me usually", "emergency"),
        ("under my primer the cheek looks grey and cold", "emergency"),
        ("heart racing 140 at uni right now", "emergency"),
        ("my husband says im slurring my words, i feel fine myself", "emergency"),
        ("my top lip has gone white and cold", "emergency"),
        ("cant lie flat on my back because the sites on my back are sore", "none"),
        ("should i let the sites air dry or do i need more cream", "none"),
        ("popped out for a minute to the shops, face fine", "none"),
        ("the cut on my lip wont close", "urgent"),
        ("there's a blob of cream stuck near my eye", "none"),
        ("spin class tomorrow ok? the room spinning thing was the wine lol", "none"),
        # Asking for help beside a present red flag never lowers it.
        ("can i get someone to call me, my throat is closing", "emergency"),
    ],
)
def test_contractions_faints_effects_and_harmless_alarming_words(
    triager: Triager, text: str, level: str
) -> None:
    found, asked = screened(triager, text, day=2)
    assert ("screened" if asked and found == "none" else found) == level, text

