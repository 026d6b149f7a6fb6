"""Clinic figures: enrolment, reply rate by plan day, escalations, time to acknowledge."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.core.model import Observation
from bot.services.common import Deps

RESOLVED_WITHIN = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class Figures:
    """What `/stats` and `aftercare stats` show."""

    enrolled: int  # every patient the clinic enrolled
    consented: int  # of whom ever consented (the link opened and "Yes" tapped)
    active: int
    reply_rate: list[tuple[int, int, int]]  # (plan day, check-ins delivered, answered)
    escalations: dict[str, int] = field(default_factory=dict)
    ack_median_minutes: float | None = None
    ack_p90_minutes: float | None = None
    resolved_within_48h: float | None = None  # share of escalations at least 48 h old

    def to_json(self) -> dict[str, object]:
        return {
            "enrolled": self.enrolled,
            "consented": self.consented,
            "active": self.active,
            "reply_rate_by_day": [
                {"day": d, "sent": s, "answered": a, "rate": round(a / s, 3) if s else None}
                for d, s, a in self.reply_rate
            ],
            "escalations_by_level": self.escalations,
            "ack_minutes_median": self.ack_median_minutes,
            "ack_minutes_p90": self.ack_p90_minutes,
            "resolved_within_48h": self.resolved_within_48h,
        }


class Stats:
    """Computes the figures from the record."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def report(self) -> str:
        """The figures as `/stats` and `aftercare stats` print them."""
        return self.render(await self.figures())

    def render(self, f: Figures) -> str:
        m = self.d.content.messages

        def minutes(value: float | None) -> str:
            if value is None:
                return m["stats_na"]
            return m.format("stats_minutes", value=f"{value:.0f}")

        rates = ", ".join(
            m.format("stats_rate", day=d, answered=a, sent=s, share=f"{a / s:.0%}")
            for d, s, a in f.reply_rate if s
        ) or m["stats_no_rates"]
        levels = ", ".join(f"{k} {v}" for k, v in f.escalations.items()) or m["stats_none"]
        resolved = (
            m["stats_na"] if f.resolved_within_48h is None else f"{f.resolved_within_48h:.0%}"
        )
        return m.format(
            "stats_text", enrolled=f.enrolled, consented=f.consented, active=f.active,
            rates=rates, levels=levels,
            ack_median=minutes(f.ack_median_minutes), ack_p90=minutes(f.ack_p90_minutes),
            resolved=resolved,
        )

    async def figures(self) -> Figures:
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            enrolled, consented, active = await uow.records.patient_counts()
            reply_rate = await uow.records.reply_rate_by_day()  # counted by the database, not here
            escalations = [e for e in await uow.escalations.all() if e.kind == "clinical"]
        acks = sorted(
            (e.acked_at - e.created_at).total_seconds() / 60
            for e in escalations
            if e.acked_at is not None
        )
        old = [e for e in escalations if now - e.created_at >= RESOLVED_WITHIN]
        resolved = [
            e for e in old if e.resolved_at is not None and e.resolved_at - e.created_at
            <= RESOLVED_WITHIN
        ]
        order = ["emergency", "urgent", "routine"]
        levels = Counter(e.level for e in escalations)
        return Figures(
            enrolled=enrolled,
            consented=consented,
            active=active,
            reply_rate=reply_rate,
            escalations={k: levels[k] for k in order if levels[k]},
            ack_median_minutes=round(statistics.median(acks), 1) if acks else None,
            ack_p90_minutes=round(acks[min(len(acks) - 1, int(0.9 * len(acks)))], 1)
            if acks
            else None,
            resolved_within_48h=round(len(resolved) / len(old), 3) if old else None,
        )


@dataclass(frozen=True, slots=True)
class Week:
    """One clinic week's figures."""

    start: date  # its Monday, in the clinic's zone
    enrolled: int
    escalations: dict[str, int]  # by level
    ack_median_minutes: float | None


@dataclass(frozen=True, slots=True)
class Trends:
    """Figures over time, for the console's admins."""

    weeks: tuple[Week, ...]
    reply_rate: tuple[tuple[int, int, int], ...]  # (plan day, delivered, answered)
    by_symptom: tuple[tuple[str, int], ...]  # escalations by what was reported, most first
    ack_by_level: tuple[tuple[str, float | None, float | None], ...]  # median, p90 minutes


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p90(values: list[float]) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1) if values else None


class TrendStats:
    """Weekly enrolments, escalations and acknowledgement times; reply rate by plan day."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def trends(self, weeks: int = 12) -> Trends:
        now = self.d.clock.now()
        tz = self.d.clinic_tz

        def monday(moment: datetime) -> date:
            day = moment.astimezone(tz).date()
            return day - timedelta(days=day.weekday())

        first = monday(now) - timedelta(weeks=weeks - 1)
        starts = [first + timedelta(weeks=i) for i in range(weeks)]
        enrolled: Counter[date] = Counter()
        levels: dict[date, Counter[str]] = {s: Counter() for s in starts}
        acks: dict[date, list[float]] = {s: [] for s in starts}
        by_level: dict[str, list[float]] = {}
        symptoms: Counter[str] = Counter()
        async with self.d.store.unit_of_work() as uow:
            for p in await uow.patients.all():
                enrolled[monday(p.created_at)] += 1
            reply_rate = await uow.records.reply_rate_by_day()
            for e in await uow.escalations.all():
                if e.kind != "clinical":
                    continue
                week = monday(e.created_at)
                minutes = ((e.acked_at - e.created_at).total_seconds() / 60
                           if e.acked_at is not None else None)
                if week in levels:
                    levels[week][e.level] += 1
                    if minutes is not None:
                        acks[week].append(minutes)
                if minutes is not None:
                    by_level.setdefault(e.level, []).append(minutes)
                answer = await uow.patients.answer(e.answer_id) if e.answer_id else None
                for raw in answer.observations if answer else []:
                    o = Observation.from_json(raw)
                    if o.present:
                        symptom = self.d.content.symptoms.get(o.symptom)
                        symptoms[symptom.label if symptom else o.symptom] += 1
        order = ("emergency", "urgent", "routine")
        return Trends(
            tuple(Week(s, enrolled[s], {k: levels[s][k] for k in order if levels[s][k]},
                       _median(acks[s])) for s in starts),
            tuple(reply_rate), tuple(symptoms.most_common()),
            tuple((k, _median(by_level[k]), _p90(by_level[k])) for k in order if k in by_level))
