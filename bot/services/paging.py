"""Paging: deliver claimed pings and summaries, one by one, each outcome recorded at once
under its claim, with the delivery policy's decision for pages and summaries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from bot.core.delivery import PERMANENT, Decision, Failed, Kind, Lane
from bot.services.common import Deps, queued_outcome
from bot.services.escalation_views import EscalationViews
from bot.services.ports import DeliveryError, Page, Reply, outcome_of
from bot.store.models import Digest, Ping, Status

log = logging.getLogger(__name__)

Sent = TypeVar("Sent", Ping, Digest)


FRESH = timedelta(seconds=20)  # a page with this much of its claim left is sent unrenewed


class Paging:
    """Sends pages (pings) and summaries."""

    def __init__(self, deps: Deps, views: EscalationViews) -> None:
        self.d = deps
        self.views = views

    # --- delivery
    async def deliver(self, escalation_id: int | None = None) -> int:
        """Send due pings (of one escalation, or all); returns how many were delivered."""
        now = self.d.clock.now()
        screens: dict[int, Reply] = {}
        async with self.d.store.unit_of_work() as uow:
            pings = await uow.queue.claim_due(
                Ping, now, limit=self.d.claim_batch, lease=self.d.claim_lease,
                holder=self.d.holder(now), escalation_id=escalation_id,
            )
            for escalation in await uow.escalations.many({p.escalation_id for p in pings}):
                assert escalation.id is not None
                screens[escalation.id] = Reply(
                    await self.views.text(uow, escalation), self.views.keyboard(escalation)
                )
        # A lost emergency page costs more than a duplicate one: timeouts are resent. Each
        # outcome is recorded as soon as it is known, so a crash repeats at most the page
        # being sent, not the batch.
        return await self._send_pages([(p, screens[p.escalation_id]) for p in pings])

    async def send(self, pages: Sequence[Page]) -> int:
        """Send pings claimed when they were written (see `create`); how many were delivered.

        Each outcome is recorded as soon as it is known.
        """
        return await self._send_pages([(page, page.screen) for page in pages])

    async def _send_pages(self, pages: Sequence[tuple[Ping | Page, Reply]]) -> int:
        """Send claimed pages one by one; one that fails does not hold up the others."""
        sent = 0
        for page, screen in pages:
            try:
                sent += await self._send(Ping, page, screen, resend_on_timeout=True)
            except Exception:  # the dispatcher retries it once its claim lapses
                log.exception("ping %s could not be sent", page.id)
        return sent

    async def deliver_digests(self) -> int:
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            digests = await uow.queue.claim_due(
                Digest, now, limit=self.d.claim_batch, lease=self.d.claim_lease,
                holder=self.d.holder(now),
            )
        sent = 0
        for digest in digests:
            async with self.d.store.unit_of_work() as uow:
                screen = await self.views.digest_screen(uow, digest)
            sent += await self._send(Digest, digest, screen, resend_on_timeout=False)
        return sent

    async def _send(
        self,
        model: type[Sent],
        row: Sent | Page,
        screen: Reply,
        *,
        resend_on_timeout: bool,
    ) -> int:
        """Send one claimed row and record its outcome at once.

        The claim is renewed first: a send can be slow (a 429 to wait out, timeouts), and a
        claim that lapsed meanwhile would let the dispatcher send the same row again. If it
        already lapsed and was taken back, the row is left to whoever holds it now.
        """
        assert row.id is not None and row.claimed_at is not None
        now = self.d.clock.now()
        if isinstance(row, Page) and now < row.claimed_at + self.d.claim_lease - FRESH:
            claimed_at = row.claimed_at  # written a moment ago: no database before the send
        else:
            claimed_at = now
            async with self.d.store.claims() as claims:
                if not await claims.renew(model, row.id, row.claimed_at, claimed_at):
                    log.info("%s %s was taken back before it was sent", _label(row), row.id)
                    return 0
        outcome = await self._attempt(row, screen, resend_on_timeout=resend_on_timeout)
        async with self.d.store.claims() as claims:
            if not await claims.finish(model, row.id, claimed_at, **outcome):
                log.warning("%s %s: outcome not recorded, its claim was lost", _label(row), row.id)
        return 1 if outcome["status"] == Status.SENT else 0

    async def _attempt(
        self, row: Ping | Digest | Page, screen: Reply, *, resend_on_timeout: bool
    ) -> dict[str, object]:
        """Send one page or summary; the outcome to record."""
        now = self.d.clock.now()
        try:
            message_id = await self.d.messenger.send(
                row.chat_id, screen.text, screen.keyboard,
                lane=Lane.EMERGENCY if resend_on_timeout else Lane.NORMAL,
            )
        except DeliveryError as exc:
            kind = Kind.PAGE if resend_on_timeout else Kind.SUMMARY
            outcome = outcome_of(exc)
            # A refused page is recorded by the refusal's name, a retried one by Telegram's words.
            error = type(exc).__name__ if outcome in PERMANENT else str(exc)
            decision = self.d.policy.decide(
                kind, outcome, attempts=row.attempts, now=now,
                retry_after=getattr(exc, "retry_after", 0.0), error=error,
            )
            return self._outcome(row, decision, now)
        return {"status": Status.SENT, "sent_at": now, "message_id": message_id}

    @staticmethod
    def _outcome(
        row: Ping | Digest | Page, decision: Decision, now: datetime
    ) -> dict[str, object]:
        """A failed try's decision, as the outcome to record."""
        outcome = queued_outcome(decision, now, row.attempts)
        if outcome is not None:
            return outcome
        reason = decision.reason if isinstance(decision, Failed) else "blocked"
        level = logging.ERROR if reason.startswith("gave up") else logging.WARNING
        log.log(level, "%s %s to clinician %s failed after %s attempts: %s", _label(row),
                row.id, row.clinician_id, row.attempts, reason)
        return {"status": Status.FAILED, "reason": reason}


def _label(row: Ping | Digest | Page) -> str:
    """How logs name what was being sent."""
    return "Ping" if isinstance(row, Page) else type(row).__name__
