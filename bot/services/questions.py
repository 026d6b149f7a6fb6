"""The red-flag question: the warning signs as buttons and "None of these", asked after every
voice note and whenever a message touches a red-flag topic the triage cannot place (denied,
past, hypothetical, a joke, or words it cannot read). The bot then neither reassures nor
tells the patient to call emergency services: it asks.

A tap on a sign is an emergency like any other (the check-in flow). "None of these" carries
on with what the message's own reading had to say (kept with the question). A question left
unanswered for the clinic's time (content) becomes an escalation at the clinic's level.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.callbacks import Button
from bot.core.checkin_flow import Draft
from bot.core.content import Content
from bot.core.model import Level
from bot.core.texts import checkin_screen
from bot.services.common import Deps, current_session, day_of, zone
from bot.services.escalation import Escalations
from bot.services.outbox import Outbox
from bot.services.ports import Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import CheckIn, Patient, Status, TreatmentSession

log = logging.getLogger(__name__)

INTROS = {"screen": "question_intro", "voice": "voice_intro"}
KINDS = tuple(INTROS)
THEN = "then"  # the draft's key for the replies "None of these" carries on with
NOTE = "note"  # the draft's key for the kept voice note the question is about
LOOK_EVERY = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Asked:
    """A question written in a transaction, to say once it commits."""

    checkin: CheckIn
    reply: Reply


def kept(draft: dict[str, Any] | None) -> dict[str, Any]:
    """What a question's stored draft keeps across presses (the replies it defers, the
    note it is about)."""
    return {key: draft[key] for key in (THEN, NOTE) if draft and key in draft}


def deferred(draft: dict[str, Any] | None) -> tuple[Reply, ...]:
    """The replies a question held back, for "None of these" (with their buttons)."""
    then = (draft or {}).get(THEN)
    if not isinstance(then, list):
        return ()
    return tuple(
        Reply(str(r.get("text", "")), tuple(
            tuple(Button(str(label), str(data)) for label, data in row)
            for row in r.get("buttons") or ()) or None)
        for r in then if isinstance(r, dict)
    )


def _kept_reply(reply: Reply) -> dict[str, Any]:
    rows = [[[b.label, b.data] for b in row] for row in reply.keyboard or ()]
    return {"text": reply.text, "buttons": rows}


def no_signs(content: Content, checkin: CheckIn) -> tuple[Reply, ...]:
    """After "None of these": what the message's own reading had to say."""
    then = deferred(checkin.draft)
    if then:
        return then
    key = "voice_no_signs" if checkin.kind == "voice" else "question_no_signs"
    number = content.clinic.emergency_number
    return (Reply(content.messages.format(key, emergency_number=number)),)


class Questions:
    """Asks the red-flag question, and escalates it when nobody answers."""

    def __init__(self, deps: Deps, outbox: Outbox, escalations: Escalations) -> None:
        self.d = deps
        self.outbox = outbox
        self.escalations = escalations
        self._last_look: datetime | None = None

    def intro(self, kind: str, language: str) -> str:
        return self.d.speaks(language).messages[INTROS[kind]]

    async def create(
        self, uow: UnitOfWork, patient: Patient, sessions: list[TreatmentSession], *,
        kind: str, then: Sequence[Reply] = (), note: int | None = None,
    ) -> Asked | None:
        """Write the question as a check-in of its own (a tap is an answer); None when the
        patient has no session to file it under (the caller answers as usual then)."""
        assert patient.id is not None and kind in INTROS
        now = self.d.clock.now()
        session = current_session(sessions, now)
        if session is None or session.id is None:
            return None
        # One question open at a time: a burst of unsure messages is one escalation, due
        # when the first of them was asked (each new message must not push it back).
        asked_since = await uow.checkins.supersede_questions(patient.id, KINDS, now)
        draft = Draft(screen="warning")
        stored = draft.to_json() | ({THEN: [_kept_reply(r) for r in then]} if then else {})
        stored |= {NOTE: note} if note is not None else {}
        checkin = await uow.add(CheckIn(
            patient_id=patient.id, session_id=session.id,
            step_id=f"{kind}-{secrets.token_hex(6)}", kind=kind,
            day=day_of(patient, sessions, now),
            local_date=now.astimezone(zone(patient)).date(), due_at=now,
            status=Status.SENT, sent_at=asked_since or now, draft=stored,
        ))
        assert checkin.id is not None
        text, keyboard = checkin_screen(self.d.speaks_to(patient), checkin.id,
                                        self.intro(kind, patient.language), draft)
        return Asked(checkin, Reply(text, keyboard))

    @staticmethod
    async def attach(uow: UnitOfWork, checkin: CheckIn, escalation_id: int | None) -> int | None:
        """Attach the voice note a question was about to the escalation its answer raised
        (it goes to the clinicians with the page); the note's id, if attached."""
        note = (checkin.draft or {}).get(NOTE)
        if escalation_id is None or not isinstance(note, int):
            return None
        return note if await uow.patients.attach_photo(note, escalation_id) else None

    async def say(self, chat_id: int, asked: Asked) -> None:
        """Send the question (its buttons edit the message it arrives in)."""
        await self.outbox.say(chat_id, asked.reply, checkin_id=asked.checkin.id)

    async def expire(self) -> list[tuple[int, int | None]]:
        """Escalate the questions left unanswered for the clinic's time; the escalations'
        ids, each with the voice note it carries (run by the dispatcher tick, looking
        every 30 s)."""
        now = self.d.clock.now()
        if self._last_look is not None and now - self._last_look < LOOK_EVERY:
            return []
        self._last_look = now
        clinic = self.d.content.clinic
        minutes = clinic.question_unanswered_minutes
        level = Level.parse(clinic.question_unanswered_level)
        raised: list[tuple[int, int | None]] = []
        async with self.d.store.unit_of_work() as uow:
            due = await uow.checkins.unanswered_questions(
                KINDS, now - timedelta(minutes=minutes), limit=self.d.claim_batch
            )
            for checkin in due:
                assert checkin.id is not None
                patient = await uow.patients.get(checkin.patient_id)
                if not await uow.checkins.claim_nudge(checkin.id, now) or patient is None:
                    continue  # another worker took it, or the patient was erased
                m = self.d.content.messages
                asked = self.d.clinic_time(checkin.sent_at or checkin.due_at)
                made = await self.escalations.create(
                    uow, patient=patient, level=level, rules=["red-flag-question"],
                    summary=m.format("question_unanswered_summary", day=checkin.day,
                                     minutes=minutes),
                    body=m.format("question_unanswered_body", patient=patient.name,
                                  id=patient.id, minutes=minutes, asked=asked),
                )
                raised.append((made.escalation_id,
                               await self.attach(uow, checkin, made.escalation_id)))
        return raised
