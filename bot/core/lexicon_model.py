"""The lexicon's shape (`content/<language>/lexicon.yaml`): the words the triage engine
reads, their groups and combinations, and when to ask the red-flag question."""

from __future__ import annotations

from typing import Literal

import snowballstemmer
from pydantic import Field, field_validator, model_validator

from bot.core.content_base import Ident, Phrase, Strict


class Combination(Strict):
    """Words that mean more together: adds a symptom or raises a red flag when all hold."""

    id: Ident
    symptoms: list[Ident] | None = None  # any of these present
    without: list[Ident] = []  # none of these present
    all: list[Ident] = []  # groups that must all have a word in the message
    any: list[Ident] = []  # groups of which one must have a word
    day_min: int | None = None
    scope: Literal["message", "clause"] = "message"  # where the groups must occur together
    unless: list[Ident] = []  # groups that cancel it when they occur in the same scope
    unless_in: Literal["clause", "sentence"] = "clause"  # where `unless` words reach
    adds: Ident | None = None
    red_flag: Ident | None = None
    replaces: list[Ident] = []  # symptoms the added one explains (dropped when it is added)
    inherits: list[Ident] = []  # symptoms whose severity and trend also describe it (kept)
    severity: int | None = Field(default=None, ge=1, le=4)  # grade given to the added one

    @model_validator(mode="after")
    def _one_effect(self) -> Combination:
        if (self.adds is None) == (self.red_flag is None):
            raise ValueError("a combination either adds a symptom or raises a red flag")
        if not self.all and not self.any:
            raise ValueError("a combination needs word groups in `all` or `any`")
        return self


class Negation(Strict):
    """ConText-style negation triggers."""

    before: list[Phrase]
    after: list[Phrase]
    pseudo: list[Phrase] = []


class Contact(Strict):
    """Asking to be contacted, or saying they are worried (rule G6)."""

    request: list[Phrase]
    worry: list[Phrase]


class OffTopic(Strict):
    """Messages that carry no symptom: admin questions, thanks, and 'all is well'."""

    admin: list[Phrase]
    thanks: list[Phrase]
    well: list[Phrase]


class Trends(Strict):
    """Words comparing with before."""

    worse: list[Phrase]
    better: list[Phrase]
    same: list[Phrase]


class Screen(Strict):
    """When to ask the red-flag question instead of deciding (issue 14): a message touching
    a red-flag topic that the engine cannot read as a present red flag."""

    topics: dict[Ident, list[Phrase]] = Field(min_length=1)
    # Word groups that explain a topic word in their clause ("a purple and blue bruise").
    placed_by: list[Ident] = []
    placed_by_temperature: list[Ident] = []  # topics a measured temperature settles
    placed_by_heart_rate: list[Ident] = []  # topics a heart rate written as a number settles
    doubted_by: list[Ident] = []  # groups that make a red-flag phrase in their sentence unsure
    # Words that make what their sentence says uncertain: jokes, media, figures of speech.
    unsure: list[Phrase] = []
    # The writer setting their own case against someone else's: makes a red flag said in a
    # clause about that someone uncertain.
    not_me: list[Phrase] = []
    # Words before a colon that open a list of signs to watch for (not the patient's).
    list_openers: list[Phrase] = []
    # The writer's own all-clear ("I'm fine", "mine look normal", "у меня всё хорошо"): a
    # red flag beside it is asked about, not decided (issue 14's false alarms) ...
    all_clear: list[Phrase] = []
    # ... unless words right after it keep something back ("I'm fine but...", "all good
    # except...") or words right before it limit it to the rest ("otherwise I'm fine").
    all_clear_but: list[Phrase] = []
    all_clear_after: list[Phrase] = []
    # Words of `all_clear_but` that keep nothing back ("I'm fine, just curious").
    all_clear_asides: list[Phrase] = []
    # Words anywhere after an all-clear that tell of later ("all good... then in the
    # mirror I saw..."): the all-clear was of before.
    all_clear_later: list[Phrase] = []
    # Words that open a question in general ("can meso cause blindness?", "could I get
    # blurry vision from this?"): a red flag in such a question, with no word of the
    # writer's own in it past the opener and its subject, is asked about, not decided.
    # Not the openers of questions that assume the sign ("is it normal that...").
    question_openers: list[Phrase] = []


class RacingHeart(Strict):
    """A heart rate written as a number ("pulse 130", "HR 128 resting", "135 bpm")."""

    at_least: int = Field(ge=60, le=250)  # beats per minute that make it a red flag
    red_flag: Ident
    words: list[Phrase] = []  # besides the `heart` word group: "bpm", "hr"
    unless: list[Ident] = []  # word groups that explain a fast heart in its sentence (a run)
    # Words right before a number that make it another measure: "pressure 120 on 80".
    not_rates: list[Phrase] = []


class Measures(Strict):
    """Numbers patients write: scores out of ten and heart rates."""

    # The highest score (out of 10) of each grade: 1 mild, 2 moderate, 3 severe.
    score_grades: dict[int, int] = Field(min_length=1)
    # How a score's "out of ten" is written after it ("7 / 10", "7 sur 10", "7 из 10").
    out_of: list[Phrase] = Field(default=["/ 10"], min_length=1)
    racing_heart: RacingHeart | None = None
    # Words that make a temperature in their clause the weather's: "39 degrees out here".
    weather: list[Phrase] = []

    @field_validator("score_grades")
    @classmethod
    def _bands(cls, value: dict[int, int]) -> dict[int, int]:
        if not set(value) <= {1, 2, 3, 4} or sorted(value.values()) != [
            value[g] for g in sorted(value)
        ] or max(value.values()) != 10:
            raise ValueError("grades 1-4, each with the highest score of its band, up to 10")
        return value


class Words(Strict):
    """How this language's words are matched, before the lexicon's phrases are looked up."""

    # A Snowball algorithm ("french", "spanish", "russian"): the message's words and the
    # lexicon's phrases are both reduced to their stems, so one form matches every other
    # ("gonflée", "gonflées", "gonflent"). Latin letters' accents are dropped first.
    stemmer: str | None = None
    # "drop": "can't" is "cant"; "space": "l'œil" is "l œil" (French elision).
    apostrophe: Literal["drop", "space"] = "drop"
    # Numbers written in words, read as figures ("neuf sur dix" -> "9 sur 10"); a tens word
    # followed by a units word is their sum ("trente neuf" -> 39), also with a word between
    # (`number_and`: "treinta y nueve").
    numbers: dict[str, int] = {}
    number_and: list[str] = []
    # A temperature's decimals said in words: "trente-neuf virgule deux", "тридцать восемь и
    # пять", "39 et demi" (`half`); a units word right after a temperature is its decimal
    # ("trente-neuf deux" -> 39.2).
    decimal: list[str] = []
    decimal_and: list[str] = []  # those of `decimal` that also mean "and" or "with"
    half: list[str] = []
    # Words whose accent changes their meaning, kept as written ("sí" yes, "si" if).
    accented: list[str] = []
    # The writer ("i", "me", "my"), who sets their own case apart from someone else's.
    first_person: list[str] = []
    # Words that give a cause, which explains the clause before ("can't breathe... from
    # laughing").
    causes: list[str] = []
    # Words that may follow a negation written after its sign for it to close it ("the itch
    # has gone now"; but "the bruise has gone grey").
    closing: list[str] = []
    # Plain negations that undo a resolution word written after the sign ("the bruise still
    # hasn't gone", "синяк не сошёл"): the sign is still there, not denied.
    negators: list[str] = []
    # Intensifiers and hedges that may sit inside a phrase without breaking it ("I feel
    # *really* hot", "je voyais *un peu* double"); a phrase is matched without them.
    inserts: list[str] = []
    # "and" between two signs of one part ("lips tingling and swelling"): it joins them in
    # one clause instead of starting another.
    joining: list[str] = []
    # One-word answers that deny a sign just asked about: "pale? no.", "одышка? нет" (a
    # checklist).
    answers_no: list[str] = []

    @field_validator("negators", "answers_no", "joining")
    @classmethod
    def _one_word_each(cls, value: list[str]) -> list[str]:
        """These are read word by word: "toujours pas" would make "toujours" a negator."""
        several = [w for w in value if len(w.split()) != 1]
        if several:
            raise ValueError(f"one word per entry, not {', '.join(map(repr, several))}")
        return value

    @field_validator("stemmer")
    @classmethod
    def _known_stemmer(cls, value: str | None) -> str | None:
        if value is not None and value not in snowballstemmer.algorithms():
            raise ValueError(f"unknown Snowball stemmer {value!r}; one of "
                             f"{', '.join(sorted(snowballstemmer.algorithms()))}")
        return value


class Lexicon(Strict):
    """How patients say things: the vocabulary free-text triage reads."""

    words: Words = Words()
    symptoms: dict[Ident, list[Phrase]]
    groups: dict[Ident, list[Phrase]]
    severity: dict[int, list[Phrase]]
    trend: Trends
    negation: Negation
    hypothetical: list[Phrase]
    other_person: list[Phrase]
    clause_breaks: list[Phrase]
    contact: Contact
    off_topic: OffTopic
    self_reference: list[Phrase] = []
    historical: list[Phrase] = []
    combinations: list[Combination] = []
    never_correct: list[str] = []
    screen: Screen
    measures: Measures

    @field_validator("severity")
    @classmethod
    def _grades(cls, value: dict[int, list[str]]) -> dict[int, list[str]]:
        if not set(value) <= {1, 2, 3, 4}:
            raise ValueError("severity grades are 1 (mild) to 4 (very severe)")
        return value
