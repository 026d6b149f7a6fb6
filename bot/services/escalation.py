"""Escalations: create them with one ping row per clinician, deliver pings, acknowledge.

Ping rows are written in the same transaction as the answer that caused them, so a crash
can delay a ping (the dispatcher retries it) but never lose it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.core import callbacks as cb
from bot.core import schedule
from bot.core.callbacks import Button, Keyboard
from bot.core.model import Level
from bot.services.common import Deps, local_text
from bot.services.ports import (
    DeliveryError,
    MaybeDelivered,
    PressResult,
    RateLimited,
    RecipientBlocked,
    RecipientGone,
    Rejected,
)
from bot.store.models import Escalation, Patient, Ping, Status
from bot.store.repo import Repo

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 15


class Escalations:
    """The clinicians' side of a crossed threshold."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def create(
        self,
        repo: Repo,
        *,
        patient: Patient,
        level: Level,
        body: str,
        rules: list[str],
        answer_id: int | None = None,
        kind: str = "clinical",
    ) -> Escalation:
        """Record an escalation and queue one ping per active clinician (same transaction)."""
        assert patient.id is not None
        now = self.d.clock.now()
        escalation = await repo.add(
            Escalation(
                patient_id=patient.id,
                answer_id=answer_id,
                kind=kind,
                level=level.label,
                rules=rules,
                body=body,
                created_at=now,
            )
        )
        assert escalation.id is not None
        # Urgent and emergency pings go at once, day or night; routine ones and notices wait
        # for the clinic's waking hours.
        due = (
            now
            if level >= Level.URGENT
            else schedule.next_allowed(now, self.d.content.clinic.quiet_hours, self.d.clinic_tz)
        )
        clinicians = await repo.active_clinicians()
        await repo.add_all(
            [
                Ping(escalation_id=escalation.id, clinician_id=c.id, chat_id=c.chat_id, due_at=due)
                for c in clinicians
                if c.id is not None and c.chat_id is not None
            ]
        )
        if not clinicians:
            log.error("escalation %s has no active clinician to page", escalation.id)
        return escalation

    def keyboard(self, escalation: Escalation) -> Keyboard | None:
        if escalation.kind != "clinical" or escalation.acked_at is not None:
            return None
        assert escalation.id is not None
        return ((Button(self.d.content.messages["ack_button"], cb.ack(escalation.id)),),)

    async def text(self, repo: Repo, escalation: Escalation) -> str:
        """The ping as it should read now (with who acknowledged, once someone did)."""
        if escalation.acked_at is None or escalation.acked_by is None:
            return escalation.body
        clinician = await repo.clinician(escalation.acked_by)
        who = clinician.name if clinician else f"clinician #{escalation.acked_by}"
        when = local_text(escalation.acked_at, self.d.clinic_tz)
        return f"{escalation.body}\n✅ Acknowledged by {who} at {when}"

    async def deliver(self, escalation_id: int | None = None) -> int:
        """Send due pings (of one escalation, or all); returns how many were delivered."""
        now = self.d.clock.now()
        async with self.d.db.tx() as repo:
            ids = None
            if escalation_id is not None:
                ids = [p.id for p in await repo.pings_of(escalation_id) if p.id is not None]
            pings = await repo.claim_due(
                Ping, now, limit=self.d.claim_batch, lease=self.d.claim_lease, ids=ids
            )
        sent = 0
        for ping in pings:
            sent += await self._send(ping)
        return sent

    async def _send(self, ping: Ping) -> int:
        assert ping.id is not None and ping.claimed_at is not None
        async with self.d.db.tx() as repo:
            escalation = await repo.escalation(ping.escalation_id)
            assert escalation is not None
            text = await self.text(repo, escalation)
        keyboard = self.keyboard(escalation)
        now = self.d.clock.now()
        outcome: dict[str, object]
        try:
            message_id = await self.d.messenger.send(ping.chat_id, text, keyboard)
        except RateLimited as exc:
            outcome = self._retry(ping, now, exc.retry_after, str(exc), count=False)
        except (RecipientBlocked, RecipientGone, Rejected) as exc:
            log.warning("ping %s to clinician %s failed: %s", ping.id, ping.clinician_id, exc)
            outcome = {"status": Status.FAILED, "reason": type(exc).__name__}
        except MaybeDelivered:
            # A lost emergency page costs more than a duplicate one: resend.
            outcome = self._retry(ping, now, RETRY_BASE_SECONDS, "timed out; resending")
        except DeliveryError as exc:
            outcome = self._retry(ping, now, RETRY_BASE_SECONDS * 2**ping.attempts, str(exc))
        else:
            outcome = {"status": Status.SENT, "sent_at": now, "message_id": message_id}
        async with self.d.db.tx() as repo:
            await repo.finish(Ping, ping.id, ping.claimed_at, **outcome)
        return 1 if outcome["status"] == Status.SENT else 0

    def _retry(
        self, ping: Ping, now: datetime, delay: float, reason: str, *, count: bool = True
    ) -> dict[str, object]:
        if count and ping.attempts >= self.d.max_attempts:
            log.error("ping %s gave up after %s attempts: %s", ping.id, ping.attempts, reason)
            return {"status": Status.FAILED, "reason": f"gave up: {reason}"}
        return {
            "status": Status.PENDING,
            "due_at": now + timedelta(seconds=delay),
            "reason": reason,
        }

    async def acknowledge(self, chat_id: int, press: cb.AckPress) -> PressResult:
        """A clinician takes an escalation; every copy of the ping is updated."""
        m = self.d.content.messages
        now = self.d.clock.now()
        async with self.d.db.tx() as repo:
            clinician = await repo.clinician_by_chat(chat_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return PressResult(toast=m["not_clinician"])
            escalation = await repo.escalation(press.escalation_id)
            if escalation is None or escalation.kind != "clinical":
                return PressResult(toast=m["stale_button"])
            if not await repo.acknowledge(press.escalation_id, clinician.id, now):
                await repo.session.refresh(escalation)
                who = await repo.clinician(escalation.acked_by or 0)
                when = local_text(escalation.acked_at or now, self.d.clinic_tz)
                return PressResult(
                    toast=m.format("already_acked", who=who.name if who else "?", when=when)
                )
            await repo.session.refresh(escalation)
            text = await self.text(repo, escalation)
            copies = [
                p for p in await repo.pings_of(press.escalation_id) if p.message_id is not None
            ]
        for ping in copies:
            try:
                await self.d.messenger.edit(ping.chat_id, ping.message_id or 0, text, None)
            except DeliveryError as exc:
                log.warning("could not update ping %s: %s", ping.id, exc)
        return PressResult(toast=m["acked_toast"])

    async def notice(self, repo: Repo, patient: Patient, key: str, **values: str) -> Escalation:
        """Tell the clinic something about a patient that is not a clinical threshold."""
        label = f"{patient.name} (patient #{patient.id})"
        body = self.d.content.messages.format(key, patient=label, **values)
        return await self.create(
            repo, patient=patient, level=Level.NONE, body=body, rules=[], kind="notice"
        )
