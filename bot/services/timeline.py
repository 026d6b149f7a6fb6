"""A patient's course for clinicians: sessions, check-ins, answers, escalations, photos."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.core.model import Level, Observation
from bot.core.texts import clip, describe, level_mark
from bot.services.common import Deps
from bot.services.ports import ChartMark, PhotoTile, SymptomSeries
from bot.services.repositories import UnitOfWork
from bot.store.models import Answer, CheckIn, Patient, Photo, Status

log = logging.getLogger(__name__)
VOICES_SHOWN = 3  # the latest voice notes sent back with a timeline, to be played
MESSAGE_LIMIT = 3900  # below Telegram's 4096, leaving room for nothing to be cut mid-line


@dataclass(frozen=True, slots=True)
class TimelineView:
    """What a clinician is shown: texts in order, then the chart and the photos."""

    texts: tuple[str, ...]
    chart: bytes | None
    photos: bytes | None
    voices: tuple[tuple[Photo, bytes], ...] = ()  # the latest voice notes, to play


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """A patient's timeline for the console: the same lines, the chart's data, the media."""

    patient: Patient
    header: tuple[str, ...]
    events: tuple[str, ...]
    series: tuple[SymptomSeries, ...]
    marks: tuple[ChartMark, ...]
    span: int
    media: tuple[Photo, ...]


class Timeline:
    """Builds a patient's timeline from the record."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def build(self, patient_id: int, *, actor: str = "cli") -> TimelineView | None:
        """The patient's timeline as chat messages and pictures; the viewing is audited."""
        record = await self.record(patient_id, actor=actor)
        if record is None:
            return None
        patient, media = record.patient, record.media
        lines = [*record.header, *record.events]
        photos = [p for p in media if p.mime.startswith("image/")]  # notes are not pictures
        voices: list[tuple[Photo, bytes]] = []
        store = self.d.photo_store
        notes = [p for p in media if not p.mime.startswith("image/")][-VOICES_SHOWN:]
        for note in notes if store is not None else []:
            try:
                assert store is not None
                voices.append((note, await store.read(note.path)))
            except OSError:  # a lost file must not cost the clinician the timeline
                log.warning("voice note %s could not be read", note.id)
        chart = None
        if self.d.charts is not None:
            chart = self.d.charts.severity(f"{patient.name} (#{patient.id})",
                                           record.series, record.span, record.marks)
        strip = None
        if photos and self.d.charts is not None and self.d.photo_store is not None:
            tiles = [
                PhotoTile(p.day, await self.d.photo_store.read(p.path)) for p in photos[-12:]
            ]
            title = self.d.content.messages.format("timeline_photos_title", name=patient.name)
            strip = self.d.charts.photos(title, tiles)
        return TimelineView(tuple(_pages(lines)), chart, strip, tuple(voices))

    async def record(
        self, patient_id: int, *, actor: str, action: str = "view_timeline"
    ) -> PatientRecord | None:
        """The patient's timeline as data, for a page or an export; audited as `action`."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.get(patient_id)
            if patient is None or patient.id is None:
                return None
            await uow.records.audit(self.d.clock.now(), actor, action, patient_id=patient.id)
            events = await self._events(uow, patient)
            answers = await uow.patients.answers_of(patient.id)
            media = await uow.patients.photos_of(patient.id)
        span = max([a.day for a in answers] + [s.day for s in self.d.content.plan.steps])
        return PatientRecord(patient, tuple(self._header(patient)), tuple(events),
                             tuple(self._series(answers)), tuple(self._marks(answers)), span,
                             tuple(media))

    def _header(self, patient: Patient) -> list[str]:
        m = self.d.content.messages
        phone = m.format("timeline_phone", phone=patient.phone) if patient.phone else ""
        return [
            m.format("timeline_header", name=patient.name, id=patient.id, status=patient.status,
                     phone=phone),
            m.format("timeline_zone", zone=patient.timezone, clinic_zone=self.d.clinic_tz.key),
        ]

    async def _events(self, uow: UnitOfWork, patient: Patient) -> list[str]:
        assert patient.id is not None
        tz, m = self.d.clinic_tz, self.d.content.messages
        events: list[tuple[datetime, int, str]] = []
        for s in await uow.patients.sessions_of(patient.id):
            areas = m.format("timeline_areas", areas=s.areas) if s.areas else ""
            events.append((s.session_at, 0, m.format("timeline_session", id=s.id, areas=areas)))
        for c in await uow.checkins.checkins_of(patient.id):
            events.append(self._checkin(c))
        for a in await uow.patients.answers_of(patient.id):
            events.append((a.created_at, 2, self._answer(a)))
        for e in await uow.escalations.escalations_of(patient.id):
            mark = level_mark(self.d.content, Level.parse(e.level))
            state = m[{"open": "timeline_state_open", "acknowledged": "timeline_state_acked"}.get(
                e.status, "timeline_state_resolved"
            )]
            who = ""
            if e.acked_at is not None:
                clinician = await uow.clinicians.get(e.acked_by or 0)
                who = m.format("timeline_by", who=clinician.name if clinician else "?",
                               when=self.d.clinic_time(e.acked_at, tz))
            outcome = m.format("timeline_outcome", outcome=e.outcome) if e.outcome else ""
            line = m.format("timeline_escalation", mark=mark, id=e.id,
                            summary=clip(e.summary, 160), state=state, who=who, outcome=outcome)
            events.append((e.created_at, 3, line))
        for p in await uow.patients.photos_of(patient.id):
            linked = m.format("timeline_photo_with", id=p.escalation_id) if p.escalation_id else ""
            key = "timeline_voice" if p.mime.startswith("audio/") else "timeline_photo"
            events.append((p.created_at, 4, m.format(key, day=p.day, linked=linked)))
        events.sort(key=lambda item: (item[0], item[1]))
        return [f"{self.d.clinic_time(when, tz)} · {text}" for when, _, text in events]

    def _checkin(self, c: CheckIn) -> tuple[datetime, int, str]:
        m = self.d.content.messages
        names = {"voice": "timeline_voice_name", "screen": "timeline_question_name"}
        name = (
            m.format("timeline_checkin_name", day=c.day) if c.kind == "scheduled"
            else m[names.get(c.kind, "timeline_report_name")]
        )
        if c.status == Status.SENT:
            when = c.answered_at or c.replied_at  # by its buttons, or in the patient's words
            answered = (
                m.format("timeline_answered", when=self.d.clinic_time(when))
                if when else m["timeline_not_answered"]
            )
            if (c.draft or {}).get("answer") == "none":  # a red-flag question: no sign
                answered += m["timeline_none_of_these"]
            return (c.sent_at or c.due_at, 1, m.format("timeline_sent", name=name,
                                                       answered=answered))
        if c.status in (Status.PENDING, Status.CLAIMED):
            return (c.due_at, 1, m.format("timeline_planned", name=name))
        reason = m.format("timeline_reason", reason=c.reason) if c.reason else ""
        return (c.due_at, 1, m.format("timeline_other", name=name, status=c.status,
                                      reason=reason))

    def _answer(self, a: Answer) -> str:
        observations = [Observation.from_json(o) for o in a.observations]
        said = "; ".join(describe(o, self.d.content) for o in observations if o.present)
        denied = [o.symptom for o in observations if not o.present]
        m = self.d.content.messages
        if denied:
            denies = m.format("timeline_denies", symptoms=", ".join(denied))
            said += ("; " if said else "") + denies
        words = f' "{clip(a.text, 200)}"' if a.text else ""
        if a.source == "note":
            return m.format("timeline_message", day=a.day, words=words)
        level = Level.parse(a.level)
        return m.format("timeline_answer", day=a.day, said=said or m["timeline_all_good"],
                        level=level.label, words=words)

    def _series(self, answers: list[Answer]) -> list[SymptomSeries]:
        """Each symptom ever reported, by day: its grade as reported (None: no grade given),
        0 on a later answer without it."""
        evaluated = [a for a in answers if a.source != "note"]
        reported: dict[str, dict[int, int | None]] = {}
        for a in evaluated:
            for raw in a.observations:
                o = Observation.from_json(raw)
                if o.present:
                    reported.setdefault(o.symptom, {})
        for a in evaluated:
            present = {
                o.symptom: o for o in map(Observation.from_json, a.observations) if o.present
            }
            for symptom, by_day in reported.items():
                if symptom in present:
                    by_day[a.day] = _worse(by_day.get(a.day), present[symptom].severity)
                else:
                    by_day.setdefault(a.day, 0)
        symptoms = self.d.content.symptoms
        return [
            SymptomSeries(
                label=symptoms[name].label if name in symptoms else name,
                points=tuple(sorted(by_day.items())),
                window=symptoms[name].normal_days if name in symptoms else None,
            )
            for name, by_day in reported.items()
        ]

    def _marks(self, answers: list[Answer]) -> list[ChartMark]:
        """Each answer that escalated, on its day, named by its level and its red flags
        (the finding itself: an open escalation may have taken in several)."""
        flags = self.d.content.red_flags
        marks = []
        for a in answers:
            level = Level.parse(a.level)
            if a.source == "note" or level < Level.ROUTINE:
                continue
            named = [flags[o.red_flag].label if o.red_flag in flags else o.red_flag
                     for o in map(Observation.from_json, a.observations)
                     if o.present and o.red_flag]
            word = level_mark(self.d.content, level).split(" ", 1)[-1]  # no emoji: no glyph
            marks.append(ChartMark(a.day, level.label, ", ".join([word, *dict.fromkeys(named)])))
        return marks

def _worse(known: int | None, grade: int | None) -> int | None:
    """The worse of two readings the same day: a grade beats none given, which beats
    absent (0)."""
    if grade is None:
        return known or None
    return grade if known is None else max(known, grade)

def _pages(lines: list[str]) -> list[str]:
    pages, current = [], ""
    for line in lines:
        if len(current) + len(line) + 1 > MESSAGE_LIMIT and current:
            pages.append(current)
            current = ""
        current += ("\n" if current else "") + clip(line, MESSAGE_LIMIT)
    if current:
        pages.append(current)
    return pages

