"""Evaluate a patient's report against the clinic's escalation rules (content/rules.yaml).

Pure: the same report, day, previous answer and content always give the same assessment.
Global rule G1 is the shape of this module: every rule is checked, red flags included, and the
final level is the highest that fired, so no other words can lower a red flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.content import Condition, Content, Symptom
from bot.core.model import Assessment, Fired, Level, Observation, Report, Trend


def with_trends(report: Report, previous: Sequence[Observation] | None) -> Report:
    """Fill unknown trends from the previous check-in: a symptom absent then is new now."""
    if previous is None:
        return report
    before = {o.symptom for o in previous if o.present}
    observations = tuple(
        _replace_trend(o, Trend.NEW)
        if o.present and o.trend is Trend.UNKNOWN and o.symptom not in before
        else o
        for o in report.observations
    )
    return Report(observations=observations, contact_request=report.contact_request)


def _replace_trend(o: Observation, trend: Trend) -> Observation:
    return Observation(
        o.symptom, o.severity, trend, o.red_flag, o.temperature_c, o.present, o.temperature_f
    )


def outside_window(symptom: Symptom, day: int) -> bool:
    """True when `day` is outside the symptom's normal course (or it has none)."""
    if symptom.normal_days is None:
        return True
    first, last = symptom.normal_days
    return not first <= day <= last


def _matches(cond: Condition, o: Observation, day: int, symptom: Symptom) -> bool:
    checks: list[bool] = []
    if cond.symptoms is not None:
        checks.append(o.symptom in cond.symptoms)
    if cond.not_symptoms:
        checks.append(o.symptom not in cond.not_symptoms)
    if cond.day_min is not None:
        checks.append(day >= cond.day_min)
    if cond.day_max is not None:
        checks.append(day <= cond.day_max)
    if cond.severity_min is not None:
        checks.append(o.severity is not None and o.severity >= cond.severity_min)
    if cond.severity_max is not None:
        checks.append(o.severity is not None and o.severity <= cond.severity_max)
    if cond.trend is not None:
        checks.append(o.trend in cond.trend)
    if cond.outside_normal_window is not None:
        checks.append(outside_window(symptom, day) is cond.outside_normal_window)
    if cond.red_flag is not None:
        checks.append(o.red_flag in cond.red_flag)
    if cond.measured is not None:
        checks.append((o.temperature_c is not None) is cond.measured)
    if cond.temperature_min_c is not None:
        # A reading in °F is held to the °F threshold the clinic wrote (102 °F is 38.9 °C).
        if o.temperature_f is not None and cond.temperature_min_f is not None:
            checks.append(o.temperature_f >= cond.temperature_min_f)
        else:
            checks.append(
                o.temperature_c is not None and o.temperature_c >= cond.temperature_min_c
            )
    return all(checks)


def evaluate(
    report: Report,
    *,
    day: int,
    previous: Sequence[Observation] | None,
    content: Content,
) -> Assessment:
    """Assess one answer given on `day` (days since the session, session day = 0)."""
    report = with_trends(report, previous)
    present = report.present
    fired: list[Fired] = []
    for index, rule in enumerate(content.rules):
        cond = rule.when
        if cond.message_level:
            if report.contact_request is cond.contact_request:
                fired.append(Fired(rule.id, rule.level, None, rule.explain, index))
            continue
        for o in present:
            symptom = content.symptoms.get(o.symptom)
            if symptom is not None and _matches(cond, o, day, symptom):
                fired.append(Fired(rule.id, rule.level, o.symptom, rule.explain, index))
    level = max((f.level for f in fired), default=Level.NONE)
    tips: list[str] = []
    for o in present:
        symptom = content.symptoms.get(o.symptom)
        if symptom is not None:
            tips.extend(t for t in symptom.tips if t not in tips)
    red_flags = tuple(dict.fromkeys(o.red_flag for o in present if o.red_flag))
    return Assessment(level=level, fired=tuple(fired), tips=tuple(tips), red_flags=red_flags,
                      contact_request=report.contact_request)
