"""Each phase of triage read and tested alone (the whole reading is in test_triage.py)."""

from __future__ import annotations

import pytest

from bot.core.content import Content
from bot.core.model import Trend
from bot.core.triage.decide import decide
from bot.core.triage.match import Matched, PhraseTable
from bot.core.triage.measure import Measures, measure
from bot.core.triage.scope import Scope
from bot.core.triage.text import normalise, tokens


@pytest.fixture(scope="module")
def phrases(content: Content) -> PhraseTable:
    return PhraseTable(content)


def test_normalise_reads_apostrophes_decimal_commas_and_spelled_numbers() -> None:
    assert normalise("I can’t, it's 38,5") == "i cant, its 38.5"
    assert tokens("thirty nine point five degrees") == ["39.5", "degrees"]
    assert tokens("red-ish\nswollen") == ["red", "ish", ".", "swollen"]


def test_match_finds_the_longest_phrase_and_splits_clauses(phrases: PhraseTable) -> None:
    m = phrases.match("my lips are swelling. no fever")
    kinds = {k for h in m.hits for k, _ in h.kinds}
    assert "flag" in kinds or "symptom" in kinds
    assert m.clause_of[0] != m.clause_of[-1]  # a full stop ends the clause


def test_match_corrects_one_letter_slips_in_long_words(phrases: PhraseTable) -> None:
    corrected = phrases.correct("swellng")
    assert ("symptom", "swelling") in phrases.table[(corrected,)]
    assert phrases.correct("cat") == "cat"  # short words are never corrected


def mentions_of(phrases: PhraseTable, text: str) -> dict[str, tuple[bool, str]]:
    scope = Scope(phrases.match(text))
    return {x.name: (x.present, x.why_absent) for x in scope.mentions()}


@pytest.mark.parametrize(
    ("text", "symptom", "why"),
    [
        ("no swelling at all", "swelling", "negated"),
        ("if it swells should I worry", "swelling", "hypothetical"),
        ("the swelling", "swelling", ""),
    ],
)
def test_scope_sets_mentions_aside_with_the_reason(
    phrases: PhraseTable, text: str, symptom: str, why: str
) -> None:
    assert mentions_of(phrases, text)[symptom] == (not why, why)


def test_scope_never_sets_a_red_flag_aside_for_being_about_someone_else(
    phrases: PhraseTable,
) -> None:
    scope = Scope(phrases.match("my mum had the same treatment and her throat is closing"))
    flags = [x for x in scope.mentions() if x.flag]
    assert flags
    assert all(x.present for x in flags)


def measured(phrases: PhraseTable, text: str) -> tuple[Matched, Scope, Measures]:
    m = phrases.match(text)
    scope = Scope(m)
    return m, scope, measure(m, scope, scope.mentions())


def test_measure_attaches_severity_and_trend_to_their_symptom(phrases: PhraseTable) -> None:
    _, _, out = measured(phrases, "the bruise is getting bigger and the itching is unbearable")
    assert out.trend.get("bruising") is Trend.WORSE
    assert out.severity.get("itching", 0) >= 3


def test_measure_reads_temperatures_in_either_unit(phrases: PhraseTable) -> None:
    _, _, celsius = measured(phrases, "temp 38.4 tonight")
    _, _, fahrenheit = measured(phrases, "101.3 F this morning")
    assert celsius.temperature == 38.4
    assert fahrenheit.temperature == 38.5
    assert fahrenheit.fahrenheit == 101.3


def test_decide_raises_the_level_a_measured_fever_calls_for(
    content: Content, phrases: PhraseTable
) -> None:
    m, scope, out = measured(phrases, "temp 38.4 tonight")
    reading = decide(content, m, scope, scope.mentions(), out, day=3, previous=None)
    assert "fever" in reading.symptoms
    assert reading.assessment.level.label == "urgent"
