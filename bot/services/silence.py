"""Non-response: re-ask an unanswered check-in once, and tell the clinic about a silence.

A check-in counts as missed once a day has passed since it was sent with no answer and no
message from the patient. After `missed_checkins_alert` missed in a row the clinic gets one
routine "not responding" escalation; the next silence can alert again after an answer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.core import schedule
from bot.core.checkin_flow import Draft
from bot.core.delivery import Lane
from bot.core.model import Level
from bot.core.texts import join
from bot.services.checkins import Checkins
from bot.services.common import Deps, day_of, zone
from bot.services.escalation import Escalations
from bot.services.ports import DeliveryError
from bot.services.repositories import UnitOfWork
from bot.store.models import CheckIn, Patient

log = logging.getLogger(__name__)

MISSED_AFTER = timedelta(hours=24)
ALERT_EVERY = timedelta(minutes=10)  # a silence is a matter of days: no need to look each tick
NUDGE_EVERY = timedelta(seconds=30)  # a re-ask is a matter of hours


class Silence:
    """Nudges and non-response alerts, run by the dispatcher tick."""

    def __init__(self, deps: Deps, checkins: Checkins, escalations: Escalations) -> None:
        self.d = deps
        self.checkins = checkins
        self.escalations = escalations
        self._last_alert_pass: datetime | None = None
        self._last_nudge_pass: datetime | None = None

    async def nudge(self) -> int:
        """Re-ask once the check-ins left unanswered for `reask_after` (not at night)."""
        now = self.d.clock.now()
        if self._last_nudge_pass is not None and now - self._last_nudge_pass < NUDGE_EVERY:
            return 0
        self._last_nudge_pass = now
        sent = 0
        async with self.d.store.unit_of_work() as uow:
            due = await uow.checkins.unanswered_since(
                now - self.d.reask_after, limit=self.d.claim_batch
            )
        for checkin in due:
            sent += await self._nudge_one(checkin)
        return sent

    async def _nudge_one(self, checkin: CheckIn) -> int:
        assert checkin.id is not None
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.get(checkin.patient_id)
            if patient is None or patient.chat_id is None:
                return 0
            if self.d.content.clinic.quiet_hours.contains(now.astimezone(zone(patient)).time()):
                return 0  # tried again after the quiet hours
            alarm = (await uow.queue.recipients({checkin.patient_id}))[checkin.patient_id]
            if alarm.alarm_at is not None and now < alarm.alarm_at + self.d.emergency_hold:
                return 0  # not "how are you today?" while an emergency waits for a clinician
            stale = await uow.checkins.newer_checkin_sent(checkin) or (
                schedule.local_date(now, zone(patient)) > checkin.local_date
            )
            if not await uow.checkins.claim_nudge(checkin.id, now) or stale:
                return 0  # a newer check-in or a new day took its place: no nudge
        screen = self.checkins.screen(checkin, Draft.from_json(checkin.draft), patient,
                                      alarm.recent)  # the tips it was sent with
        text = join(self.d.speaks_to(patient).messages["nudge"], screen.text)
        try:
            message_id = await self.d.messenger.send(
                patient.chat_id, text, screen.keyboard, lane=Lane.ROUTINE
            )
        except DeliveryError as exc:
            log.warning("nudge for check-in %s not delivered: %s", checkin.id, exc)
            return 0
        async with self.d.store.unit_of_work() as uow:
            fresh = await uow.checkins.get(checkin.id)
            if fresh is not None:
                fresh.message_id = message_id  # the re-asked message carries the buttons now
                uow.save(fresh)
        return 1

    async def alert(self) -> list[int]:
        """Escalate patients who missed enough check-ins in a row; returns escalation ids."""
        now = self.d.clock.now()
        if self._last_alert_pass is not None and now - self._last_alert_pass < ALERT_EVERY:
            return []
        self._last_alert_pass = now
        raised: list[int] = []
        async with self.d.store.unit_of_work() as uow:
            for patient in await uow.patients.quiet(now - MISSED_AFTER):
                escalation_id = await self._check(uow, patient)
                if escalation_id is not None:
                    raised.append(escalation_id)
        return raised

    async def _check(self, uow: UnitOfWork, patient: Patient) -> int | None:
        assert patient.id is not None
        current = self.d.clock.now()
        last_answer = await uow.patients.last_answer_at(patient.id)
        if patient.silence_alerted_at is not None and (
            last_answer is None or last_answer < patient.silence_alerted_at
        ):
            return None  # already told about this silence
        missed = []
        for checkin in await uow.checkins.sent_scheduled(patient.id):
            sent_at = checkin.sent_at or checkin.due_at
            if sent_at > current - MISSED_AFTER:
                continue  # too recent to call missed
            if (checkin.answered_at or checkin.replied_at
                    or (last_answer and last_answer >= sent_at)):
                break
            missed.append(checkin)
        if len(missed) < self.d.missed_checkins_alert:
            return None
        if not await uow.patients.claim_silence_alert(
            patient.id, patient.silence_alerted_at, current
        ):
            return None  # another worker raised it a moment ago
        tz = self.d.clinic_tz
        last_sent = self.d.clinic_time(missed[0].sent_at or missed[0].due_at, tz)
        day = day_of(patient, await uow.patients.sessions_of(patient.id), current)
        m = self.d.content.messages
        summary = m.format("silence_summary", day=day, count=len(missed))
        body = m.format(
            "silence_body", patient=patient.name, id=patient.id, count=len(missed),
            last=last_sent,
        )
        raised = await self.escalations.create(
            uow, patient=patient, level=Level.ROUTINE, body=body, summary=summary,
            rules=["non-response"],
        )
        return raised.escalation_id
