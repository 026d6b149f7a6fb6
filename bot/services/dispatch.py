"""The dispatcher: claim due check-ins, decide send/defer/skip, send, record each outcome.

What each Telegram outcome means for a check-in is the delivery policy's
(`bot.core.delivery`); this module carries its decisions out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.core import schedule
from bot.core.checkin_flow import Draft
from bot.core.delivery import Decision, Delivered, Failed, Kind, Lane, Unreachable
from bot.services.checkins import Checkins
from bot.services.common import Deps, queued_outcome, zone
from bot.services.escalation import Escalations
from bot.services.outbox import Outbox
from bot.services.paging import Paging
from bot.services.photos import Photos
from bot.services.ports import DeliveryError, outcome_of
from bot.services.questions import Questions
from bot.services.repositories import UnitOfWork, UnitsOfWork
from bot.services.silence import Silence
from bot.store.models import CheckIn, Claimed, PatientStatus, Recipient, Status

log = logging.getLogger(__name__)

UNREACHABLE = "patient blocked the bot"
CANARY_EVERY = timedelta(seconds=3)  # while Telegram fails: one waiting message tries
AFTER_UNSENT = timedelta(seconds=2)  # a check-in waits while a welcome is still unsent


@dataclass(slots=True)
class TickReport:
    """What one tick did, for logs and benchmarks."""

    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    pings: int = 0
    nudged: int = 0
    outbox: int = 0  # outbox rows taken over (failed sends, dead writers)
    escalations: list[int] = field(default_factory=list)


# A claimed check-in not sent when the worker stops: due again at once, its try given back.
_HANDED_BACK: dict[str, object] = {"status": Status.PENDING, "reason": "handed back at stop"}


class Dispatcher:
    """Runs on the scheduler; safe to run in several processes at once."""

    def __init__(  # noqa: PLR0917 (the use cases it drives)
        self,
        deps: Deps,
        checkins: Checkins,
        escalations: Escalations,
        paging: Paging,
        silence: Silence,
        outbox: Outbox,
        questions: Questions,
        photos: Photos,
    ) -> None:
        self.d = deps
        self.outbox = outbox
        self.questions = questions
        self.photos = photos
        self._reset_due = False  # Telegram came back: cut every backoff short
        self.stopping = False  # SIGTERM: what is not sent yet goes back, for the next worker
        self._canary_at: datetime | None = None
        self.checkins = checkins
        self.escalations = escalations
        self.paging = paging
        self.silence = silence

    async def tick(self) -> TickReport:
        """One pass: the outbox's due rows and pings first, then due check-ins, re-asks
        and summaries. After an outage, the first answer from Telegram makes every row
        waiting out a backoff due at once; while it fails, one waiting message is tried
        each tick to learn when it is back."""
        if self.d.messenger.recovered():
            self._reset_due = True
        elif self.d.messenger.failing() and self._canary_due():
            async with self.d.store.unit_of_work() as uow:  # one waiting message tries now
                await uow.queue.wake_one(self.d.clock.now())
        if self._reset_due:  # until it is written: the database may be back only later
            async with self.d.store.unit_of_work() as uow:
                woken = await uow.queue.reset_backoff(self.d.clock.now())
            self._reset_due = False
            log.info("Telegram is back: %s waiting message(s) due now", woken)
        report = TickReport()
        try:
            report.outbox = await self.outbox.deliver_due()
        except Exception as exc:
            if self.d.store.is_outage(exc):
                raise  # the heartbeat logs an outage once
            log.exception("the outbox failed this tick; the rest goes on")
        return await self._pass(None, report)

    def _canary_due(self) -> bool:
        """At most one canary every few seconds, whatever the tick."""
        now = self.d.clock.now()
        if self._canary_at is not None and now - self._canary_at < CANARY_EVERY:
            return False
        self._canary_at = now
        return True

    async def for_chat(self, chat_id: int) -> TickReport:
        """Send what is due for one patient now (after consent or resuming)."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
        if patient is None or patient.id is None:
            return TickReport()
        return await self._pass(patient.id, TickReport())

    async def _pass(self, patient_id: int | None, report: TickReport) -> TickReport:
        if patient_id is None:
            # Pages first: a clinician's ping never waits behind a batch of check-ins. A
            # failure there is logged and must not hold the check-ins up either.
            try:
                await self.escalations.advance_ladders()
                report.pings = await self.paging.deliver()
            except Exception as exc:
                if self.d.store.is_outage(exc):
                    raise  # the heartbeat logs an outage once
                log.exception("pages failed this tick; check-ins go on")
        now = self.d.clock.now()
        patients: dict[int, Recipient] = {}
        unsent: set[int] = set()
        async with self.d.store.unit_of_work() as uow:
            claimed = await uow.queue.claim_checkins(
                now, limit=self.d.claim_batch, lease=self.d.claim_lease,
                holder=self.d.holder(now), patient_id=patient_id,
            )
            if claimed:  # what the decisions need, for the whole batch in one query
                patients = await uow.queue.recipients({r.patient_id for r, _ in claimed})
                unsent = await uow.inbox.chats_with_unsent(
                    {p.chat_id for p in patients.values() if p.chat_id})
        report.claimed = len(claimed)
        recorder = _Recorder(self.d.store, flush_at=self.d.send_concurrency)
        to_send: list[tuple[Claimed, Recipient]] = []
        for row, next_date in claimed:
            patient = patients.get(row.patient_id)
            outcome = self._decide(row, patient, next_date, now, report, unsent=unsent)
            if outcome is None and patient is not None:
                to_send.append((row, patient))
            elif outcome is not None:
                await recorder.add(row, outcome)
        # Sends overlap so that Telegram's pace, not our round trips, bounds throughput.
        # Outcomes are recorded every `send_concurrency` sends: a crash can repeat at most
        # what was sent and not yet recorded (fewer than twice that many messages).
        gate = asyncio.Semaphore(self.d.send_concurrency)

        async def send(row: Claimed, patient: Recipient) -> None:
            async with gate:
                outcome = (_HANDED_BACK | {"attempts": max(0, row.attempts - 1)}
                           if self.stopping else await self._send(row, patient, report))
            if outcome is not None:
                await recorder.add(row, outcome)

        await asyncio.gather(*(send(row, patient) for row, patient in to_send))
        await recorder.flush()
        for escalation_id in report.escalations if not self.stopping else ():
            await self.paging.deliver(escalation_id)
        if patient_id is None and not self.stopping:
            report.nudged = await self.silence.nudge()
            await self.silence.alert()
            for escalation_id, note in await self.questions.expire():  # unanswered questions
                await self.paging.deliver(escalation_id)
                if note is not None:  # the voice note it was about goes with the page
                    await self.photos.forward(note)
            await self.escalations.summarise()
            report.pings += await self.paging.deliver_digests()
        return report

    def _decide(
        self,
        row: Claimed,
        patient: Recipient | None,
        next_date: date | None,
        now: datetime,
        report: TickReport,
        *,
        unsent: set[int],
    ) -> dict[str, object] | None:
        """What to record without sending (None: send it); `next_date` is the local date of
        the patient's next live check-in, `unsent` the chats with a message not sent yet."""
        if patient is None or patient.status != PatientStatus.ACTIVE or not patient.chat_id:
            report.skipped += 1
            return {"status": Status.CANCELLED,
                    "reason": f"patient {patient.status if patient else 'deleted'}"}
        until = schedule.current_until(
            row.local_date, next_date, self.d.content.clinic.late_send_days
        )
        decision = schedule.decide(
            now=now, tz=zone(patient), quiet=self.d.content.clinic.quiet_hours,
            row_date=row.local_date, until=until,
        )
        if isinstance(decision, schedule.Skip):
            report.skipped += 1
            return {"status": Status.SKIPPED, "reason": decision.reason}
        if isinstance(decision, schedule.Defer):
            report.deferred += 1
            return {"status": Status.PENDING, "due_at": decision.until, "reason": decision.reason}
        # A patient in an emergency is not asked "how are you today?" until a clinician has
        # seen it (the acknowledgement releases it) or the hold has passed.
        if patient.alarm_at is not None and now < patient.alarm_at + self.d.emergency_hold:
            report.deferred += 1
            return {"status": Status.PENDING, "due_at": patient.alarm_at + self.d.emergency_hold,
                    "reason": schedule.HELD}
        if patient.chat_id in unsent:  # what was said first (a welcome) arrives first
            report.deferred += 1  # a wait, not a failed try: the claim's count given back
            return {"status": Status.PENDING, "due_at": now + AFTER_UNSENT,
                    "reason": "after what was said before", "attempts": max(0, row.attempts - 1)}
        return None

    async def _send(
        self, row: Claimed, patient: Recipient, report: TickReport
    ) -> dict[str, object] | None:
        """Send one check-in; returns the outcome to record (None: recorded already)."""
        assert row.id is not None and row.claimed_at is not None and patient.chat_id
        screen = self.checkins.screen(row, Draft(), patient, patient.recent)
        now = self.d.clock.now()
        try:
            message_id = await self.d.messenger.send(
                patient.chat_id, screen.text, screen.keyboard, lane=Lane.ROUTINE
            )
        except DeliveryError as exc:
            decision = self.d.policy.decide(
                Kind.CHECKIN, outcome_of(exc), attempts=row.attempts, now=now,
                retry_after=getattr(exc, "retry_after", 0.0), error=str(exc),
            )
            return await self._carry_out(row, decision, now, report)
        report.sent += 1
        return {"status": Status.SENT, "sent_at": now, "message_id": message_id}

    async def _carry_out(
        self, row: Claimed, decision: Decision, now: datetime, report: TickReport
    ) -> dict[str, object] | None:
        """A failed try's decision, as the outcome to record (None: recorded already); `now`
        is when the try began (a timed-out check-in was sent then, if at all)."""
        assert row.id is not None and row.claimed_at is not None
        outcome = queued_outcome(decision, now, row.attempts)
        if outcome is not None:
            if isinstance(decision, Delivered):
                report.sent += 1
            else:
                report.deferred += 1
            return outcome
        if isinstance(decision, Unreachable):
            async with self.d.store.unit_of_work() as uow:
                await uow.queue.finish(
                    CheckIn, row.id, row.claimed_at, status=Status.CANCELLED, reason=UNREACHABLE
                )
                escalation_id = await self.mark_unreachable(uow, row.patient_id)
            if escalation_id is not None:
                report.escalations.append(escalation_id)
            report.failed += 1
            return None
        assert isinstance(decision, Failed)  # delivered and retried tries returned above
        await self._failed(row, decision.reason, report)
        return None

    async def _failed(self, row: Claimed, reason: str, report: TickReport) -> None:
        """Record a check-in that will not be delivered, and tell the clinic."""
        assert row.id is not None and row.claimed_at is not None
        async with self.d.store.unit_of_work() as uow:
            recorded = await uow.queue.finish(
                CheckIn, row.id, row.claimed_at, status=Status.FAILED, reason=reason
            )
            patient = await uow.patients.get(row.patient_id) if recorded else None
            if patient is not None:
                report.escalations.append(await self.escalations.notice(
                    uow, patient, "notice_failed", reason=reason
                ))
        report.failed += 1
        log.warning("check-in %s failed: %s", row.id, reason)

    async def blocked(self, chat_id: int) -> int | None:
        """Telegram says this chat blocked the bot; returns the clinic notice's escalation."""
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.by_chat(chat_id)
            if patient is None or patient.id is None:
                return None
            return await self.mark_unreachable(uow, patient.id)

    async def mark_unreachable(self, uow: UnitOfWork, patient_id: int) -> int | None:
        """A patient blocked the bot: stop their schedule and tell the clinic (once)."""
        patient = await uow.patients.get(patient_id)
        if patient is None or patient.id is None or patient.status == PatientStatus.UNREACHABLE:
            return None
        patient.status = PatientStatus.UNREACHABLE
        patient.stopped_at = self.d.clock.now()
        uow.save(patient)
        await uow.checkins.cancel_pending(patient.id, UNREACHABLE)
        return await self.escalations.notice(uow, patient, "notice_unreachable")


class _Recorder:
    """Buffers outcomes of claimed check-ins and writes them in one statement per batch."""

    def __init__(self, db: UnitsOfWork, *, flush_at: int) -> None:
        self.db = db
        self.flush_at = flush_at
        self.buffer: list[tuple[int, datetime, dict[str, object]]] = []
        self.lock = asyncio.Lock()

    async def add(self, row: Claimed, outcome: dict[str, object]) -> None:
        assert row.id is not None and row.claimed_at is not None
        self.buffer.append((row.id, row.claimed_at, outcome))
        # One writer at a time: the one flushing takes what piled up meanwhile too, rather
        # than every sender queueing a write of its own.
        if len(self.buffer) >= self.flush_at and not self.lock.locked():
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            while self.buffer:
                batch, self.buffer = self.buffer, []
                async with self.db.claims() as claims:
                    await claims.finish_many(CheckIn, batch)
