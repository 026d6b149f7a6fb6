"""The dispatcher: claim due check-ins, decide send/defer/skip, send, record each outcome.

Check-in delivery policy (per Telegram outcome):
- sent: recorded with its message id.
- 429: back to pending at `retry_after`, not counted as an attempt.
- 5xx / network: retried with exponential backoff, then failed and the clinic told.
- timed out (PTB's timeout, or a 504 from a front such as a local Bot API server): recorded
  as sent with the reason, not resent: a check-in that may have arrived is not worth a
  duplicate (pings, which are safety-critical, are resent instead).
- 403 (blocked): the patient is marked unreachable, their schedule stops, the clinic is told.
- 400 chat not found / other 400: failed at once, the clinic is told.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.core import schedule
from bot.core.checkin_flow import Draft
from bot.services.checkins import Checkins
from bot.services.common import Deps, zone
from bot.services.escalation import Escalations
from bot.services.ports import (
    DeliveryError,
    MaybeDelivered,
    RateLimited,
    RecipientBlocked,
    RecipientGone,
    Rejected,
)
from bot.services.silence import Silence
from bot.store.db import Database
from bot.store.models import CheckIn, Claimed, PatientStatus, Recipient, Status
from bot.store.repo import Repo

log = logging.getLogger(__name__)

UNREACHABLE = "patient blocked the bot"


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
    escalations: list[int] = field(default_factory=list)


class Dispatcher:
    """Runs on the scheduler; safe to run in several processes at once."""

    def __init__(
        self, deps: Deps, checkins: Checkins, escalations: Escalations, silence: Silence
    ) -> None:
        self.d = deps
        self.checkins = checkins
        self.escalations = escalations
        self.silence = silence

    async def tick(self) -> TickReport:
        """One pass: due pings first, then due check-ins, re-asks and summaries."""
        return await self._pass(None)

    async def for_chat(self, chat_id: int) -> TickReport:
        """Send what is due for one patient now (after consent or resuming)."""
        async with self.d.db.tx() as repo:
            patient = await repo.patient_by_chat(chat_id)
        if patient is None or patient.id is None:
            return TickReport()
        return await self._pass(patient.id)

    async def _pass(self, patient_id: int | None) -> TickReport:
        report = TickReport()
        if patient_id is None:
            # Pages first: a clinician's ping never waits behind a batch of check-ins. A
            # failure there is logged and must not hold the check-ins up either.
            try:
                await self.escalations.advance_ladders()
                report.pings = await self.escalations.deliver()
            except Exception:
                log.exception("pages failed this tick; check-ins go on")
        now = self.d.clock.now()
        patients: dict[int, Recipient] = {}
        async with self.d.db.tx() as repo:
            claimed = await repo.claim_checkins(
                now, limit=self.d.claim_batch, lease=self.d.claim_lease, patient_id=patient_id
            )
            if claimed:  # what the decisions need, for the whole batch in one query
                patients = await repo.recipients({r.patient_id for r, _ in claimed})
        report.claimed = len(claimed)
        recorder = _Recorder(self.d.db, flush_at=self.d.send_concurrency)
        to_send: list[tuple[Claimed, Recipient]] = []
        for row, next_date in claimed:
            patient = patients.get(row.patient_id)
            outcome = self._decide(row, patient, next_date, now, report)
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
                outcome = await self._send(row, patient, report)
            if outcome is not None:
                await recorder.add(row, outcome)

        await asyncio.gather(*(send(row, patient) for row, patient in to_send))
        await recorder.flush()
        for escalation_id in report.escalations:
            await self.escalations.deliver(escalation_id)
        if patient_id is None:
            report.nudged = await self.silence.nudge()
            await self.silence.alert()
            await self.escalations.summarise()
            report.pings += await self.escalations.deliver_digests()
        return report

    def _decide(
        self,
        row: Claimed,
        patient: Recipient | None,
        next_date: date | None,
        now: datetime,
        report: TickReport,
    ) -> dict[str, object] | None:
        """What to record without sending (None: send it); `next_date` is the local date of
        the patient's next live check-in."""
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
        return None

    async def _send(
        self, row: Claimed, patient: Recipient, report: TickReport
    ) -> dict[str, object] | None:
        """Send one check-in; returns the outcome to record (None: recorded already)."""
        assert row.id is not None and row.claimed_at is not None and patient.chat_id
        screen = self.checkins.screen(row, Draft())
        now = self.d.clock.now()
        try:
            message_id = await self.d.messenger.send(
                patient.chat_id, screen.text, screen.keyboard, routine=True
            )
        except RateLimited as exc:
            # Telegram's pacing is not the message's fault: this try does not count.
            report.deferred += 1
            return _pending(now, exc.retry_after, str(exc)) | {"attempts": row.attempts - 1}
        except MaybeDelivered:
            report.sent += 1
            return {"status": Status.SENT, "sent_at": now,
                    "reason": "timed out: may not have been delivered; not resent"}
        except RecipientBlocked:
            async with self.d.db.tx() as repo:
                await repo.finish(
                    CheckIn, row.id, row.claimed_at, status=Status.CANCELLED, reason=UNREACHABLE
                )
                escalation_id = await self.mark_unreachable(repo, row.patient_id)
            if escalation_id is not None:
                report.escalations.append(escalation_id)
            report.failed += 1
            return None
        except (RecipientGone, Rejected, DeliveryError) as exc:
            gave_up = not isinstance(exc, RecipientGone | Rejected) and (
                row.attempts < self.d.max_attempts
            )
            if gave_up:  # network or server trouble: try again later
                report.deferred += 1
                delay = self.d.retry_base.total_seconds() * 2 ** (row.attempts - 1)
                return _pending(now, delay, f"retrying: {exc}")
            reason = (
                f"not delivered: {exc}"
                if isinstance(exc, RecipientGone | Rejected)
                else f"gave up after retries: {exc}"
            )
            await self._failed(row, reason, report)
            return None
        report.sent += 1
        return {"status": Status.SENT, "sent_at": now, "message_id": message_id}

    async def _failed(self, row: Claimed, reason: str, report: TickReport) -> None:
        """Record a check-in that will not be delivered, and tell the clinic."""
        assert row.id is not None and row.claimed_at is not None
        async with self.d.db.tx() as repo:
            recorded = await repo.finish(
                CheckIn, row.id, row.claimed_at, status=Status.FAILED, reason=reason
            )
            patient = await repo.patient(row.patient_id) if recorded else None
            if patient is not None:
                report.escalations.append(await self.escalations.notice(
                    repo, patient, "notice_failed", reason=reason
                ))
        report.failed += 1
        log.warning("check-in %s failed: %s", row.id, reason)

    async def blocked(self, chat_id: int) -> int | None:
        """Telegram says this chat blocked the bot; returns the clinic notice's escalation."""
        async with self.d.db.tx() as repo:
            patient = await repo.patient_by_chat(chat_id)
            if patient is None or patient.id is None:
                return None
            return await self.mark_unreachable(repo, patient.id)

    async def mark_unreachable(self, repo: Repo, patient_id: int) -> int | None:
        """A patient blocked the bot: stop their schedule and tell the clinic (once)."""
        patient = await repo.patient(patient_id)
        if patient is None or patient.id is None or patient.status == PatientStatus.UNREACHABLE:
            return None
        patient.status = PatientStatus.UNREACHABLE
        patient.stopped_at = self.d.clock.now()
        repo.session.add(patient)
        await repo.cancel_pending(patient.id, UNREACHABLE)
        return await self.escalations.notice(repo, patient, "notice_unreachable")


class _Recorder:
    """Buffers outcomes of claimed check-ins and writes them in one statement per batch."""

    def __init__(self, db: Database, *, flush_at: int) -> None:
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


def _pending(now: datetime, delay: float, reason: str) -> dict[str, object]:
    return {"status": Status.PENDING, "due_at": now + timedelta(seconds=delay), "reason": reason}
