"""Patients' answers: check-in button presses, reports started by the patient, free text."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.core import callbacks as cb
from bot.core import checkin_flow as flow
from bot.core.checkin_flow import TRENDS, Draft
from bot.core.content import Content
from bot.core.model import Assessment, Level, Observation, Report
from bot.core.rules import evaluate, with_trends
from bot.core.texts import (
    acknowledgement,
    checkin_screen,
    clarify_question,
    day_tips,
    describe,
    join,
    patient_replies,
    plain,
    tips_block,
)
from bot.core.triage import Triage
from bot.services import questions
from bot.services.common import Deps, current_session, day_of, followed, zone
from bot.services.escalation import Escalations
from bot.services.outbox import Outbox
from bot.services.ports import MessageResult, Page, PressResult, Reply
from bot.services.questions import Asked, Questions
from bot.services.reading import Reading
from bot.services.repositories import UnitOfWork
from bot.store.models import (
    Answer,
    CheckIn,
    Claimed,
    Patient,
    Recipient,
    Status,
    TreatmentSession,
)

OPENING = Draft()  # nothing tapped yet
OPEN_FOR = timedelta(hours=24)  # a check-in no answer has closed is open this long
TEXT_LIMIT = 4096  # the longest message Telegram delivers; longer input is cut, not refused


@dataclass(frozen=True, slots=True)
class Recorded:
    """An evaluated answer and the escalation it raised, if any."""

    assessment: Assessment
    escalation_id: int | None
    answer_id: int
    pages: tuple[Page, ...] = ()  # the escalation's first pings, claimed: send them now
    paged: bool = False  # clinicians were paged about its escalation (now or before)


log = logging.getLogger(__name__)


class Checkins:
    """Everything a patient tells the bot ends here, is stored and evaluated."""

    def __init__(
        self, deps: Deps, escalations: Escalations, outbox: Outbox, questions: Questions
    ) -> None:
        self.d = deps
        self.escalations = escalations
        self.outbox = outbox
        self.questions = questions
        self.reading = Reading(deps)
        self._openings: dict[tuple[str, str, str, str, frozenset[str]],
                             tuple[str, cb.Keyboard]] = {}
        # Answers words in a language the engine does not read (the facade sets it).
        self.answer_unread: UnreadAnswer = _as_read

    def is_red_flag(self, words: str, own: str = "") -> bool:
        """Whether a message reads as an emergency (the flood gate lets those through)."""
        return self.reading.is_red_flag(words, own)

    # --- rendering
    def intro(
        self, checkin: CheckIn | Claimed, who: Patient | Recipient | None,
        recent: Iterable[str] = (),
    ) -> str:
        """The opening of a check-in message: the plan step's words and tips (those for
        `recent`, what the patient reported last, first)."""
        content = self.d.speaks_to(who)
        if checkin.kind in questions.KINDS:
            return self.questions.intro(checkin.kind, content.language)
        if checkin.kind == "adhoc":
            return content.messages["report_prompt"]
        step = next((s for s in content.plan.steps if s.id == checkin.step_id), None)
        if step is None:  # the clinic removed the step from its plan since enrolment
            return content.messages["report_prompt"]
        photo = content.messages["photo_invite"] if step.invite_photo else ""
        # A few of the day's tips, not all: a check-in stays short on a phone.
        tips = day_tips(content, step.tips, recent, content.clinic.tips_per_checkin)
        return join(step.message, tips_block(content, tips), photo)

    def screen(
        self, checkin: CheckIn | Claimed, draft: Draft, who: Patient | Recipient | None,
        recent: Iterable[str] = (),
    ) -> Reply:
        """A check-in's message in its patient's words, number and tips (`recent`), as sent."""
        assert checkin.id is not None
        content = self.d.speaks_to(who)
        if draft == OPENING:  # the same for every check-in of a step but for its id: cached
            # (patient-started check-ins all open alike, whatever their step id)
            key = (content.language, content.clinic.emergency_number, checkin.kind,
                   "" if checkin.kind == "adhoc" else checkin.step_id, frozenset(recent))
            opening = self._openings.get(key)
            if opening is None:
                opening = self._openings[key] = checkin_screen(
                    content, 0, self.intro(checkin, who, recent), draft
                )
            return Reply(opening[0], cb.for_checkin(opening[1], checkin.id))
        text, keyboard = checkin_screen(content, checkin.id,
                                        self.intro(checkin, who, recent), draft)
        return Reply(text, keyboard)

    # --- button presses
    async def press(self, chat_id: int, message_id: int, press: cb.CheckinPress) -> PressResult:
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            content = self.d.speaks_to(patient)
            m = content.messages
            checkin = await uow.checkins.get(press.checkin_id)
            if (
                patient is None
                or checkin is None
                or checkin.patient_id != patient.id
                or (checkin.message_id is not None and checkin.message_id != message_id)
            ):
                return PressResult(toast=m["stale_button"])
            if checkin.answered_at is not None:
                return PressResult(toast=m["already_answered"])
            previous = await uow.patients.previous_observations(checkin.patient_id)
            before = None if previous is None else {
                str(o["symptom"]) for o in previous if o.get("present", True)}
            draft = Draft.from_json(checkin.draft)
            outcome = flow.press(
                draft, press.op, press.arg, content=content, previous=before
            )
            if isinstance(outcome, flow.Invalid):
                return PressResult(toast=m["stale_button"])
            if isinstance(outcome, flow.NoSigns) and checkin.kind in questions.KINDS:
                if not await uow.checkins.mark_answered(press.checkin_id, now):
                    return PressResult(toast=m["already_answered"])
                await uow.checkins.save_draft(press.checkin_id,
                                              (checkin.draft or {}) | {"answer": "none"})
                return PressResult(
                    edit=Reply(join(self.intro(checkin, patient, before or ()),
                                    f"✔ {m['none_of_these']}")),
                    replies=questions.no_signs(content, checkin))
            if isinstance(outcome, flow.NoSigns):  # on with the rest of the check-in
                outcome = flow.Show(outcome.draft)
            if isinstance(outcome, flow.Show):
                await uow.checkins.save_draft(
                    press.checkin_id, outcome.draft.to_json() | questions.kept(checkin.draft))
                return PressResult(edit=self.screen(checkin, outcome.draft, patient,
                                                    before or ()))
            if not await uow.checkins.mark_answered(press.checkin_id, now):
                return PressResult(toast=m["already_answered"])
            recorded = await self._record(
                uow, patient, outcome.report, source="buttons", checkin_id=checkin.id
            )
            note = await self.questions.attach(uow, checkin, recorded.escalation_id)
        summary = m["all_good"] if outcome.all_good else "; ".join(
            describe(o, content) for o in outcome.report.observations)
        fine = outcome.all_good and recorded.assessment.level is Level.NONE
        return PressResult(
            edit=Reply(join(self.intro(checkin, patient, before or ()), f"✔ {summary}")),
            replies=((Reply(m["reply_all_good"]),) if fine
                     else self._told(recorded, content, patient)),
            pages=recorded.pages,
            emergency=recorded.assessment.level is Level.EMERGENCY,
            photo_id=note,
        )

    async def start_report(self, chat_id: int) -> Reply | None:
        """Open a check-in on the patient's request (/report); None if not a patient."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            if patient is None or patient.id is None:
                return None
            sessions = await uow.patients.sessions_of(patient.id)
            session = current_session(sessions, now)
            if session is None or session.id is None:
                return None
            checkin = await uow.add(
                CheckIn(
                    patient_id=patient.id,
                    session_id=session.id,
                    step_id=f"adhoc-{secrets.token_hex(6)}",
                    kind="adhoc",
                    day=day_of(patient, sessions, now),
                    local_date=now.astimezone(zone(patient)).date(),
                    due_at=now,
                    status=Status.SENT,
                    sent_at=now,
                )
            )
        reply = self.screen(checkin, Draft(), patient)
        # Its buttons edit the message it arrives in: the outbox records which one.
        await self.outbox.say(chat_id, reply, checkin_id=checkin.id)
        return reply

    # --- free text and photos
    async def message(
        self, chat_id: int, text: str, *, photo_file_id: str | None = None,
        source: str = "text", identify: bool = False, also_in: str = "",
    ) -> MessageResult | None:
        """A patient's own words (or a photo's caption, or a voice note's transcript when
        `source` is "voice"); None if the chat is not a followed patient's (after /stop,
        `Outsiders` answers a red flag without keeping the words). A transcript may raise a
        level, never reassure: below routine, it gets no reply here. With `identify`, words
        in a language the engine does not read are read alike, then answered by
        `answer_unread` (`Languages.answer`); without, they are read in the patient's
        language and `also_in` (a transcript's).
        """
        text = plain(text)[:TEXT_LIMIT]
        machine = source != "text"
        now = self.d.clock.now()
        asked: Asked | None = None
        async with self.d.store.unit_of_work() as uow:
            found = await uow.patients.reply_context(chat_id)
            if found is None or not followed(found[0]):
                return None
            patient, sessions, raw = found
            self.d.whereabouts.seen(patient)
            order, unread = (self.reading.order(text, patient.language) if identify
                             else ([patient.language, also_in], None))
            if unread is not None:  # read for what it may raise, never to reassure
                source, machine = "unread", True
            day = day_of(patient, sessions, now)
            previous = [Observation.from_json(o) for o in raw] if raw is not None else None
            started = time.perf_counter()
            reading = (self.reading.readers.read_in(order, text, day=day, previous=previous)
                       if text.strip() else None)
            self.d.metrics.triaged(time.perf_counter() - started)
            # Words sent while a check-in is open reply to it: no re-ask, counted as a reply.
            assert patient.id is not None
            # ... and words after a red-flag question answer it (they are triaged).
            answering = await uow.checkins.answer_open(
                patient.id, now - OPEN_FOR, now, questions=() if machine else questions.KINDS)
            if reading is not None and (
                reading.report.observations or reading.report.contact_request
            ):
                result = await self._recorded(uow, patient, sessions, reading, text=text,
                                              source=source, photo_file_id=photo_file_id,
                                              answering=answering)
            else:
                await self._store_note(uow, patient, day, text, photo_file_id)
                result = MessageResult(()) if machine else self._acknowledge(
                    reading.off_topic if reading is not None else None,
                    self.d.speaks_to(patient))
            # Unsure of a red-flag topic: ask, and keep what the reading says for "None".
            if reading is not None and reading.screen and not machine and not result.emergency:
                asked = await self.questions.create(
                    uow, patient, sessions, kind="screen",
                    then=result.replies,
                )
        if unread is not None:  # told so in their language, asked, and sent to the clinic
            return await self.answer_unread(chat_id, text, unread, result)
        if asked is None:
            return result
        await self.questions.say(chat_id, asked)
        return MessageResult((), escalation_id=result.escalation_id, pages=result.pages)

    async def _recorded(
        self, uow: UnitOfWork, patient: Patient, sessions: list[TreatmentSession],
        reading: Triage, *, text: str, source: str, photo_file_id: str | None,
        answering: int | None,
    ) -> MessageResult:
        """Record what a message reports; the replies (a transcript: only above routine)."""
        machine = source != "text"
        unclear = (
            reading.unclear_trend[0]
            if reading.unclear_trend and reading.assessment.level < Level.EMERGENCY
            and not machine and not reading.screen else None
        )
        recorded = await self._record(
            uow, patient, reading.report, reading.assessment, source=source, text=text,
            photo_file_id=photo_file_id, pending_trend=unclear, sessions=sessions,
            checkin_id=None if machine else answering,  # a transcript: not its answer
        )
        if machine and reading.assessment.level < Level.ROUTINE:
            return MessageResult(())
        content = self.d.speaks_to(patient)
        replies = list(self._told(recorded, content, patient))
        if unclear is not None:
            replies.append(Reply(*clarify_question(content, recorded.answer_id, unclear)))
        return MessageResult(tuple(replies), escalation_id=recorded.escalation_id,
                             pages=recorded.pages,
                             emergency=reading.assessment.level is Level.EMERGENCY)

    @staticmethod
    def _acknowledge(off_topic: str | None, content: Content) -> MessageResult:
        """The answer to words that report no symptom."""
        text, keyboard = acknowledgement(content, off_topic)
        return MessageResult((Reply(text, keyboard),))

    async def clarify(self, chat_id: int, press: cb.TrendPress) -> PressResult:
        """The patient says whether a symptom they wrote about is better, same or worse."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            content = self.d.speaks_to(patient)
            m = content.messages
            answer = await uow.patients.answer(press.answer_id)
            if (
                patient is None
                or patient.id is None
                or answer is None
                or answer.patient_id != patient.id
                or answer.pending_trend is None
            ):
                return PressResult(toast=m["stale_button"])
            symptom, trend = answer.pending_trend, TRENDS[press.code]
            if not await uow.patients.close_clarification(press.answer_id):
                return PressResult(toast=m["already_answered"])
            observations = tuple(
                Observation(
                    o.symptom, o.severity, trend, o.red_flag, o.temperature_c, o.present,
                    o.temperature_f,
                )
                if o.symptom == symptom and not o.red_flag
                else o
                for o in (Observation.from_json(raw) for raw in answer.observations)
            )
            report = Report(observations)
            previous = await self._previous(uow, patient.id, before=answer.id)
            assessment = evaluate(
                report, day=answer.day, previous=previous, content=self.d.content
            )
            recorded = None
            if assessment.level > Level.parse(answer.level):
                recorded = await self._record(
                    uow, patient, report, assessment, source="text", text=answer.text,
                    photo_file_id=answer.photo_file_id,
                )
            else:
                answer.observations = [o.to_json() for o in observations]
                uow.save(answer)
        label = content.symptoms[symptom].label
        edit = Reply(f"{label}: {m[f'trend_{trend.value}']}")
        replies = (self._told(recorded, content, patient) if recorded is not None
                   else tuple(Reply(t) for t in patient_replies(content, assessment)))
        return PressResult(edit=edit, replies=replies,
                           pages=recorded.pages if recorded is not None else (),
                           emergency=assessment.level is Level.EMERGENCY)

    def _told(self, recorded: Recorded, content: Content, patient: Patient) -> tuple[Reply, ...]:
        """The patient's replies to a recorded answer, saying whether anyone was alerted and,
        to a request for a call, when the clinic will call."""
        assessment = recorded.assessment  # "when", through Babel, only for replies saying it
        call = (self.d.call_time(patient, content) if assessment.contact_request
                or assessment.level is Level.URGENT else None)
        return tuple(Reply(t) for t in patient_replies(
            content, assessment, paged=recorded.paged if recorded.escalation_id else None,
            call=call, after_hours=call if self.d.on_call_only(content) else None))

    async def _store_note(
        self, uow: UnitOfWork, patient: Patient, day: int, text: str, photo_file_id: str | None
    ) -> None:
        assert patient.id is not None
        await uow.insert_rows(Answer, [{
            "patient_id": patient.id, "day": day, "created_at": self.d.clock.now(),
            "source": "note", "text": text or None, "photo_file_id": photo_file_id,
        }])

    async def _previous(
        self, uow: UnitOfWork, patient_id: int, *, before: int | None = None
    ) -> list[Observation] | None:
        raw = await uow.patients.previous_observations(patient_id, before=before)
        return [Observation.from_json(o) for o in raw] if raw is not None else None

    # --- evaluation
    async def _record(
        self,
        uow: UnitOfWork,
        patient: Patient,
        report: Report,
        assessment: Assessment | None = None,
        *,
        source: str,
        checkin_id: int | None = None,
        text: str | None = None,
        photo_file_id: str | None = None,
        pending_trend: str | None = None,
        sessions: list[TreatmentSession] | None = None,
    ) -> Recorded:
        """Store an answer, evaluate it (unless already done), escalate past a threshold."""
        assert patient.id is not None
        now = self.d.clock.now()
        if sessions is None:
            sessions = await uow.patients.sessions_of(patient.id)
        day = day_of(patient, sessions, now)
        if assessment is None:
            previous = await self._previous(uow, patient.id)
            report = with_trends(report, previous)
            assessment = evaluate(report, day=day, previous=previous, content=self.d.content)
        [answer_id] = await uow.insert_rows(Answer, [{
            "patient_id": patient.id,
            "checkin_id": checkin_id,
            "day": day,
            "created_at": now,
            "source": source,
            "text": text,
            "photo_file_id": photo_file_id,
            "observations": [o.to_json() for o in report.observations],
            "level": assessment.level.label,
            "rules": assessment.rule_ids,
            "pending_trend": pending_trend,
        }])
        if assessment.level is Level.NONE:
            return Recorded(assessment, None, answer_id)
        raised = await self.escalations.for_answer(
            uow, patient, report, assessment, answer_id=answer_id, day=day, text=text,
            sessions=sessions, now=now,
        )
        return Recorded(assessment, raised.escalation_id, answer_id, raised.pages, raised.paged)


UnreadAnswer = Callable[[int, str, str, MessageResult], Awaitable[MessageResult]]


async def _as_read(_chat_id: int, _text: str, _code: str, said: MessageResult) -> MessageResult:
    return said
