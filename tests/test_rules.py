"""Thresholds of clinical-rules.md, on both sides of each boundary (pure core)."""

from __future__ import annotations

import pytest

from bot.core.content import Content
from bot.core.model import Level, Observation, Report, Trend
from bot.core.rules import evaluate

N, R, U, E = Level.NONE, Level.ROUTINE, Level.URGENT, Level.EMERGENCY


def level(content: Content, *obs: Observation, day: int, previous: bool = True) -> Level:
    prev = [Observation(o.symptom, 1) for o in obs] if previous else None
    return evaluate(Report(obs), day=day, previous=prev, content=content).level


@pytest.mark.parametrize(
    ("symptom", "last_normal_day"),
    [
        ("bruising", 7),
        ("soreness", 2),
        ("swelling", 3),
        ("itching", 3),
        ("discoloration", 3),
        ("burning", 0),
        ("bumps", 3),
        ("numbness", 1),
        ("other", 1),
    ],
)
def test_normal_window_ends_on_its_last_day(
    content: Content, symptom: str, last_normal_day: int
) -> None:
    mild_same = Observation(symptom, 1, Trend.SAME)
    assert level(content, mild_same, day=last_normal_day) is N
    assert level(content, mild_same, day=last_normal_day + 1) is R


@pytest.mark.parametrize("symptom", ["soreness", "swelling", "burning", "itching"])
def test_severe_local_symptom_is_urgent_any_day_moderate_is_not(
    content: Content, symptom: str
) -> None:
    assert level(content, Observation(symptom, 3, Trend.SAME), day=0) is U
    assert level(content, Observation(symptom, 2, Trend.SAME), day=0) is N


def test_severe_bruising_alone_does_not_escalate(content: Content) -> None:
    assert level(content, Observation("bruising", 3, Trend.SAME), day=2) is N


def test_worse_is_routine_until_day_2_and_urgent_from_day_3(content: Content) -> None:
    worse = Observation("swelling", 2, Trend.WORSE)
    assert level(content, worse, day=2) is R
    assert level(content, worse, day=3) is U


@pytest.mark.parametrize("symptom", ["bruising", "discoloration", "itching"])
def test_worse_exceptions_stay_routine_on_day_3(content: Content, symptom: str) -> None:
    assert level(content, Observation(symptom, 1, Trend.WORSE), day=3) is R


def test_better_or_same_within_window_needs_nothing(content: Content) -> None:
    assert level(content, Observation("swelling", 2, Trend.BETTER), day=3) is N


def test_new_symptom_inside_its_window_is_normal_after_it_routine(content: Content) -> None:
    assert level(content, Observation("soreness", 1, Trend.NEW), day=2) is N
    assert level(content, Observation("soreness", 1, Trend.NEW), day=3) is R


@pytest.mark.parametrize(
    ("temperature", "expected"), [(37.9, N), (38.0, U), (38.9, U), (39.0, E), (40.1, E)]
)
def test_measured_fever_thresholds(content: Content, temperature: float, expected: Level) -> None:
    assert level(content, Observation("fever", temperature_c=temperature), day=4) is expected


def test_unmeasured_fever_is_routine(content: Content) -> None:
    assert level(content, Observation("fever"), day=4) is R


def test_hematoma_routine_when_stable_urgent_when_growing_or_very_painful(
    content: Content,
) -> None:
    assert level(content, Observation("hematoma", 2, Trend.SAME), day=1) is R
    assert level(content, Observation("hematoma", 2, Trend.WORSE), day=1) is U
    assert level(content, Observation("hematoma", 3, Trend.SAME), day=1) is U


def test_other_mild_early_is_fine_moderate_is_routine(content: Content) -> None:
    assert level(content, Observation("other", 1, Trend.SAME), day=0) is N
    assert level(content, Observation("other", 2, Trend.SAME), day=0) is R


@pytest.mark.parametrize(
    ("symptom", "expected"),
    [("scarring", R), ("infection", U), ("allergic_reaction", U), ("vascular_compromise", E)],
)
def test_never_normal_symptoms(content: Content, symptom: str, expected: Level) -> None:
    assert level(content, Observation(symptom), day=1) is expected


@pytest.mark.parametrize("flag", ["rf-ana", "rf-ana-swelling", "rf-vasc-skin", "rf-vasc-neuro",
                                  "rf-sepsis", "rf-spreading"])
def test_every_red_flag_is_an_emergency_even_beside_reassuring_answers(
    content: Content, flag: str
) -> None:
    symptom = content.red_flags[flag].symptom
    report = Report(
        (Observation("bruising", 1, Trend.BETTER), Observation(symptom, 4, red_flag=flag))
    )
    assessment = evaluate(report, day=1, previous=None, content=content)
    assert assessment.level is E
    assert assessment.red_flags == (flag,)


def test_denied_symptom_triggers_nothing(content: Content) -> None:
    denied = Observation("swelling", 3, Trend.WORSE, present=False)
    assert level(content, denied, day=5) is N


def test_contact_request_alone_is_routine(content: Content) -> None:
    assessment = evaluate(Report(contact_request=True), day=1, previous=None, content=content)
    assert assessment.level is R
    assert assessment.rule_ids == ["G6-contact-request"]


def test_trend_is_new_when_the_symptom_was_absent_last_time(content: Content) -> None:
    report = Report((Observation("bruising", 1),))
    assessment = evaluate(
        report, day=9, previous=[Observation("itching", 1)], content=content
    )
    assert assessment.level is R  # G5: present after its window
    assert {f.rule_id for f in assessment.fired} == {"G5-persistence"}


def test_tips_are_exactly_those_of_the_reported_symptoms(content: Content) -> None:
    assessment = evaluate(
        Report((Observation("itching", 1),)), day=1, previous=None, content=content
    )
    assert set(assessment.tips) == set(content.symptoms["itching"].tips)
    assert "no_scratch" in assessment.tips
