"""The dispatcher: claim due check-ins, decide send/defer/skip, send, record each outcome.

Check-in delivery policy (per Telegram outcome):
- sent: recorded with its message id.
- 429: back to pending at `retry_after`, not counted as an attempt.
- 5xx / network: retried with exponential backoff, then failed and the clinic told.
- timed out: recorded as sent with the reason, not resent: a check-in that may have arrived
  is not worth a duplicate (pings, which are safety-critical, are resent instead).
- 403 (blocked): the patient is marked unreachable, their schedule stops, the clinic is told.
- 400 chat not found / other 400: failed at once, the clinic is told.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
from bot.store.models import CheckIn, Patient, PatientStatus, Status
from bot.store.repo import Repo

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30
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
        """One pass: due check-ins, then due pings."""
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
        now = self.d.clock.now()
        async with self.d.db.tx() as repo:
            rows = await repo.claim_due(
                CheckIn, now, limit=self.d.claim_batch, lease=self.d.claim_lease,
                patient_id=patient_id,
            )
        report.claimed = len(rows)
        # Sends overlap so that Telegram's pace, not our round trips, bounds throughput; at
        # most `send_concurrency` are in flight, which also bounds what a crash can repeat.
        gate = asyncio.Semaphore(self.d.send_concurrency)

        async def handle(row: CheckIn) -> None:
            async with gate:
                await self._handle(row, report)

        await asyncio.gather(*(handle(row) for row in rows))
        for escalation_id in report.escalations:
            await self.escalations.deliver(escalation_id)
        if patient_id is None:
            report.nudged = await self.silence.nudge()
            await self.silence.alert()
            await self.escalations.advance_ladders()
            await self.escalations.summarise()
            report.pings = await self.escalations.deliver()
            report.pings += await self.escalations.deliver_digests()
        return report

    async def _handle(self, row: CheckIn, report: TickReport) -> None:
        assert row.id is not None and row.claimed_at is not None
        now = self.d.clock.now()
        async with self.d.db.tx() as repo:
            patient = await repo.patient(row.patient_id)
            if patient is None or patient.status != PatientStatus.ACTIVE or not patient.chat_id:
                status = patient.status if patient else "deleted"
                await repo.finish(
                    CheckIn, row.id, row.claimed_at,
                    status=Status.CANCELLED, reason=f"patient {status}",
                )
                report.skipped += 1
                return
            tz = zone(patient)
            next_date = await repo.next_checkin_date(patient.id or 0, row.local_date)
            until = schedule.current_until(
                row.local_date, next_date, self.d.content.clinic.late_send_days
            )
            decision = schedule.decide(
                now=now, tz=tz, quiet=self.d.content.clinic.quiet_hours,
                row_date=row.local_date, until=until,
            )
            if isinstance(decision, schedule.Skip):
                await repo.finish(
                    CheckIn, row.id, row.claimed_at, status=Status.SKIPPED, reason=decision.reason
                )
                report.skipped += 1
                return
            if isinstance(decision, schedule.Defer):
                await repo.finish(
                    CheckIn, row.id, row.claimed_at,
                    status=Status.PENDING, due_at=decision.until, reason=decision.reason,
                )
                report.deferred += 1
                return
        await self._send(row, patient, report)

    async def _send(self, row: CheckIn, patient: Patient, report: TickReport) -> None:
        assert row.id is not None and row.claimed_at is not None and patient.chat_id
        screen = self.checkins.screen(row, Draft())
        now = self.d.clock.now()
        outcome: dict[str, object]
        try:
            message_id = await self.d.messenger.send(
                patient.chat_id, screen.text, screen.keyboard, routine=True
            )
        except RateLimited as exc:
            # Telegram's pacing is not the message's fault: this try does not count.
            outcome = _pending(now, exc.retry_after, str(exc)) | {"attempts": row.attempts - 1}
        except MaybeDelivered:
            outcome = {"status": Status.SENT, "sent_at": now,
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
            return
        except (RecipientGone, Rejected) as exc:
            outcome = {"status": Status.FAILED, "reason": f"not delivered: {exc}"}
        except DeliveryError as exc:
            if row.attempts >= self.d.max_attempts:
                outcome = {"status": Status.FAILED, "reason": f"gave up after retries: {exc}"}
            else:
                delay = RETRY_BASE_SECONDS * 2 ** (row.attempts - 1)
                outcome = _pending(now, delay, f"retrying: {exc}")
        else:
            outcome = {"status": Status.SENT, "sent_at": now, "message_id": message_id}
        async with self.d.db.tx() as repo:
            recorded = await repo.finish(CheckIn, row.id, row.claimed_at, **outcome)
            if recorded and outcome["status"] == Status.FAILED:
                escalation = await self.escalations.notice(
                    repo, patient, "notice_failed", reason=str(outcome["reason"])
                )
                report.escalations.append(escalation.id or 0)
        if outcome["status"] == Status.SENT:
            report.sent += 1
        elif outcome["status"] == Status.FAILED:
            report.failed += 1
            log.warning("check-in %s failed: %s", row.id, outcome["reason"])
        else:
            report.deferred += 1

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
        escalation = await self.escalations.notice(repo, patient, "notice_unreachable")
        return escalation.id


def _pending(now: datetime, delay: float, reason: str) -> dict[str, object]:
    return {"status": Status.PENDING, "due_at": now + timedelta(seconds=delay), "reason": reason}
