"""Escalations: page the on-call ladder, summarise routine items, acknowledge, resolve.

Ping rows are written in the same transaction as the answer that caused them, so a crash
can delay a page (the dispatcher retries it) but never lose it. A ladder step is claimed and
its pings written in one transaction, and a ping is unique per (escalation, clinician, step),
so nothing is paged twice for one step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.core import callbacks as cb
from bot.core import ladder
from bot.core.callbacks import Button, Keyboard
from bot.core.delivery import PERMANENT, Decision, Failed, Kind
from bot.core.model import Level
from bot.core.texts import LEVEL_MARK, clip, plain
from bot.services.common import Deps, local_text, queued_outcome
from bot.services.ports import DeliveryError, Page, PressResult, Reply, outcome_of
from bot.services.repositories import UnitOfWork
from bot.store.models import Digest, Escalation, Patient, Ping, Status

log = logging.getLogger(__name__)

Sent = TypeVar("Sent", Ping, Digest)
PAGE_CLAIM = timedelta(seconds=30)  # how long a page raised by an answer stays ours to send
DIGEST_ITEMS_PER_MESSAGE = 20


@dataclass(frozen=True, slots=True)
class Raised:
    """A new escalation, and its first pings if the caller asked to send them itself."""

    escalation_id: int
    pages: tuple[Page, ...] = ()


@dataclass(frozen=True, slots=True)
class Pressed:
    """A clinician's press, answered; `timeline_for` asks the caller to show a timeline."""

    result: PressResult
    timeline_for: int | None = None


class Escalations:
    """The clinicians' side of a crossed threshold."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps

    # --- creating and laddering
    async def create(
        self,
        uow: UnitOfWork,
        *,
        patient: Patient,
        level: Level,
        body: str,
        summary: str,
        rules: list[str],
        answer_id: int | None = None,
        kind: str = "clinical",
        claim: bool = False,
    ) -> Raised:
        """Record an escalation; urgent and emergency ones page the first ladder step now.

        With `claim`, the pings are written claimed and returned, for `send` once the
        transaction has committed (the patient's reply goes first, no second claim).
        """
        assert patient.id is not None
        now = self.d.clock.now()
        timeout = self.timeout(level) if kind == "clinical" else None
        next_step_at = now + timeout if timeout is not None else None
        [escalation_id] = await uow.insert_rows(Escalation, [{
            "patient_id": patient.id,
            "answer_id": answer_id,
            "kind": kind,
            "level": level.label,
            "rules": rules,
            "body": body,
            "summary": summary,
            "created_at": now,
            "ladder_step": 0,
            "next_step_at": next_step_at,
        }])
        if timeout is None:
            return Raised(escalation_id)
        pings = await self._page(
            uow, escalation_id, 0, level=level, next_step_at=next_step_at, now=now, claim=claim
        )
        if not claim:
            return Raised(escalation_id)
        screen = Reply(clip(body, 4000), self._buttons(escalation_id, acked=False, resolved=False))
        return Raised(escalation_id, tuple(
            Page(ping_id, claimed_at, chat_id, clinician_id, 1, escalation_id, screen)
            for ping_id, claimed_at, chat_id, clinician_id in pings
        ))

    def timeout(self, level: Level) -> timedelta | None:
        return ladder.ack_timeout(
            level, urgent=self.d.ack_timeout_urgent, emergency=self.d.ack_timeout_emergency
        )

    async def _page(
        self,
        uow: UnitOfWork,
        escalation_id: int,
        step: int,
        *,
        level: Level,
        next_step_at: datetime | None,
        now: datetime,
        claim: bool = False,
    ) -> list[tuple[int, datetime, int, int]]:
        """Write the pings of ladder step `step` and when the next step is due; the pings
        written (id, claimed_at, chat, clinician).

        With `claim` they are written claimed by this process, for `send`.
        """
        active = {c.id: c for c in await uow.clinicians.on_call()}
        rota = [
            c.id for c in sorted(active.values(), key=lambda c: (c.rota_position or 0, c.id))
            if c.rota_position is not None
        ]
        who = ladder.recipients(step, rota, list(active))
        timeout = self.timeout(level)
        if who is None or timeout is None:
            await uow.escalations.set_next_step(escalation_id, None)
            log.error("escalation %s: ladder exhausted, nobody acknowledged", escalation_id)
            return []
        if not who:
            log.error("escalation %s has no active clinician to page", escalation_id)
        # A page claimed here lapses PAGE_CLAIM after it was written, not a whole lease
        # later: if this process dies before sending it, the dispatcher sends it soon.
        claimed_at = now - max(timedelta(0), self.d.claim_lease - PAGE_CLAIM)
        pings: list[dict[str, Any]] = [
            {
                "escalation_id": escalation_id,
                "clinician_id": clinician_id,
                "step": step,
                "chat_id": active[clinician_id].chat_id,
                "due_at": now,
                "status": Status.CLAIMED if claim else Status.PENDING,
                "claimed_at": claimed_at if claim else None,
                "attempts": 1 if claim else 0,
            }
            for clinician_id in who
        ]
        ids = await uow.insert_rows(Ping, pings)
        if next_step_at != now + timeout:
            await uow.escalations.set_next_step(escalation_id, now + timeout)
        return [
            (ping_id, claimed_at, p["chat_id"], p["clinician_id"])
            for ping_id, p in zip(ids, pings, strict=True)
        ]

    async def advance_ladders(self) -> list[int]:
        """Move every unacknowledged page whose time is up one step; returns their ids."""
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            moved = await uow.escalations.claim_ladder_steps(now, limit=self.d.claim_batch)
            for escalation in moved:
                assert escalation.id is not None
                await self._page(
                    uow, escalation.id, escalation.ladder_step,
                    level=Level.parse(escalation.level), next_step_at=escalation.next_step_at,
                    now=now,
                )
        return [e.id for e in moved if e.id is not None]

    # --- morning summary
    async def summarise(self) -> int:
        """During clinic hours, once a day: routine items and notices in one summary each."""
        now = self.d.clock.now()
        tz = self.d.clinic_tz
        if not self.d.clinic_hours.is_open(now, tz):
            return 0
        today = now.astimezone(tz).date()
        async with self.d.store.unit_of_work() as uow:
            if await uow.escalations.digest_sent_on(today):
                return 0
            items = await uow.escalations.claim_unsummarised(now, limit=500)
            if not items:
                return 0
            clinicians = await uow.clinicians.active()
            ids = [e.id for e in items if e.id is not None]
            parts = [
                ids[i : i + DIGEST_ITEMS_PER_MESSAGE]
                for i in range(0, len(ids), DIGEST_ITEMS_PER_MESSAGE)
            ]
            await uow.add_all(
                [
                    Digest(
                        clinic_date=today,
                        part=n,
                        clinician_id=c.id,
                        chat_id=c.chat_id,
                        escalation_ids=part,
                        due_at=now,
                    )
                    for c in clinicians
                    if c.id is not None and c.chat_id is not None
                    for n, part in enumerate(parts)
                ]
            )
        return len(items)

    async def _digest_screen(self, uow: UnitOfWork, digest: Digest) -> Reply:
        m = self.d.content.messages
        items = await uow.escalations.many(digest.escalation_ids)
        date = digest.clinic_date.strftime("%a %d %b")
        lines = [m.format("digest_header", date=date, count=len(items))]
        rows: list[tuple[Button, ...]] = []
        for n, e in enumerate(items, 1):
            assert e.id is not None
            state = await self._state_line(uow, e)
            patient = await uow.patients.get(e.patient_id)
            name = patient.name if patient else f"patient #{e.patient_id}"
            mark = LEVEL_MARK[Level.parse(e.level)]
            lines.append(f"{n}. {mark} · {name} (#{e.patient_id}) · {e.summary}{state}")
            if e.kind == "clinical":
                buttons = [Button(f"📈 {n}", cb.escalation(e.id, "t"))]
                if e.acked_at is None:
                    buttons.insert(0, Button(f"✅ {n}", cb.escalation(e.id, "a")))
                rows.append(tuple(buttons))
        return Reply(clip("\n".join(lines), 4000), tuple(rows) or None)

    # --- what a ping says and offers
    async def _state_line(self, uow: UnitOfWork, e: Escalation) -> str:
        parts = []
        if e.acked_at is not None:
            who = await uow.clinicians.get(e.acked_by or 0)
            parts.append(
                f"✅ Acknowledged by {who.name if who else '?'} at "
                f"{local_text(e.acked_at, self.d.clinic_tz)}"
            )
        if e.resolved_at is not None:
            who = await uow.clinicians.get(e.resolved_by or 0)
            parts.append(
                f"✔️ Resolved by {who.name if who else '?'} at "
                f"{local_text(e.resolved_at, self.d.clinic_tz)}: {e.outcome or ''}"
            )
        return "".join(f"\n   {p}" for p in parts)

    async def text(self, uow: UnitOfWork, escalation: Escalation) -> str:
        """The ping as it should read now (who acknowledged, who resolved and how)."""
        state = await self._state_line(uow, escalation)
        return clip(escalation.body + state.replace("\n   ", "\n"), 4000)

    def keyboard(self, escalation: Escalation) -> Keyboard | None:
        if escalation.kind != "clinical":
            return None
        assert escalation.id is not None
        return self._buttons(
            escalation.id,
            acked=escalation.acked_at is not None,
            resolved=escalation.resolved_at is not None,
        )

    def _buttons(self, eid: int, *, acked: bool, resolved: bool) -> Keyboard:
        """A clinical escalation's buttons: what is still to do, then call and timeline."""
        m = self.d.content.messages
        first: list[Button] = []
        if not acked:
            first.append(Button(m["ack_button"], cb.escalation(eid, "a")))
        if not resolved:
            first.append(Button(m["resolve_button"], cb.escalation(eid, "r")))
        second = (
            Button(m["call_button"], cb.escalation(eid, "c")),
            Button(m["timeline_button"], cb.escalation(eid, "t")),
        )
        return (tuple(first), second) if first else ((second[1],),)

    # --- delivery
    async def deliver(self, escalation_id: int | None = None) -> int:
        """Send due pings (of one escalation, or all); returns how many were delivered."""
        now = self.d.clock.now()
        screens: dict[int, Reply] = {}
        async with self.d.store.unit_of_work() as uow:
            pings = await uow.queue.claim_due(
                Ping, now, limit=self.d.claim_batch, lease=self.d.claim_lease,
                escalation_id=escalation_id,
            )
            for escalation in await uow.escalations.many({p.escalation_id for p in pings}):
                assert escalation.id is not None
                screens[escalation.id] = Reply(
                    await self.text(uow, escalation), self.keyboard(escalation)
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
                Digest, now, limit=self.d.claim_batch, lease=self.d.claim_lease
            )
        sent = 0
        for digest in digests:
            async with self.d.store.unit_of_work() as uow:
                screen = await self._digest_screen(uow, digest)
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
        claimed_at = self.d.clock.now()
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
            message_id = await self.d.messenger.send(row.chat_id, screen.text, screen.keyboard)
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

    # --- clinicians act
    async def press(self, chat_id: int, press: cb.EscalationPress) -> Pressed:
        """A clinician's button on a ping or a summary."""
        m = self.d.content.messages
        now = self.d.clock.now()
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return Pressed(PressResult(toast=m["not_clinician"]))
            escalation = await uow.escalations.get(press.escalation_id)
            if escalation is None or escalation.kind != "clinical":
                return Pressed(PressResult(toast=m["stale_button"]))
            patient = await uow.patients.get(escalation.patient_id)
            label = f"{patient.name} (#{escalation.patient_id})" if patient else "?"

            async def audit(action: str) -> None:  # only what took effect
                await uow.records.audit(now, f"clinician:{clinician.id}", action,
                                 patient_id=escalation.patient_id,
                                 detail=f"escalation #{escalation.id}")

            if press.action == "t":  # the viewing is audited where the timeline is built
                return Pressed(PressResult(), timeline_for=escalation.patient_id)
            if press.action == "c":
                await audit("view_phone")
                phone = patient.phone if patient else None
                toast = (
                    m.format("call_patient", patient=label, phone=phone)
                    if phone
                    else m.format("no_phone", patient=label)
                )
                return Pressed(PressResult(toast=toast, alert=True))
            if press.action == "r":
                if escalation.resolved_at is not None:
                    return Pressed(PressResult(toast=await self._taken(uow, escalation)))
                await uow.escalations.acknowledge(escalation.id or 0, clinician.id, now)
                clinician.awaiting_outcome_for = escalation.id
                uow.save(clinician)
                await audit("resolve_started")
                result = PressResult(replies=(Reply(m.format("ask_outcome", id=escalation.id)),))
            elif not await uow.escalations.acknowledge(escalation.id or 0, clinician.id, now):
                await uow.refresh(escalation)
                return Pressed(PressResult(toast=await self._taken(uow, escalation)))
            else:
                await audit("acknowledge")
                result = PressResult(toast=m["acked_toast"])
            copies = await self.copies(uow, escalation)
        await self.rewrite(copies)
        return Pressed(result)

    async def _taken(self, uow: UnitOfWork, escalation: Escalation) -> str:
        m = self.d.content.messages
        if escalation.resolved_at is not None:
            who = await uow.clinicians.get(escalation.resolved_by or 0)
            when = local_text(escalation.resolved_at, self.d.clinic_tz)
            return m.format("already_resolved", who=who.name if who else "?", when=when)
        who = await uow.clinicians.get(escalation.acked_by or 0)
        when = local_text(escalation.acked_at or self.d.clock.now(), self.d.clinic_tz)
        return m.format("already_acked", who=who.name if who else "?", when=when)

    async def outcome_note(self, chat_id: int, text: str) -> Reply | None:
        """A clinician's text after Resolve is the outcome note; None if we asked none."""
        async with self.d.store.unit_of_work() as uow:
            clinician = await uow.clinicians.by_chat(chat_id)
            if clinician is None or not clinician.active or clinician.id is None:
                return None
            escalation_id = clinician.awaiting_outcome_for
            if escalation_id is None:
                return None
            clinician.awaiting_outcome_for = None
            uow.save(clinician)
            note = clip(plain(text).strip(), 500) or "(no note)"
            await uow.escalations.resolve(escalation_id, clinician.id, self.d.clock.now(), note)
            escalation = await uow.escalations.get(escalation_id)
            await uow.records.audit(
                self.d.clock.now(), f"clinician:{clinician.id}", "resolve",
                patient_id=escalation.patient_id if escalation else None,
                detail=f"escalation #{escalation_id}",
            )
            copies = await self.copies(uow, escalation) if escalation is not None else []
        await self.rewrite(copies)
        return Reply(self.d.content.messages.format("resolved_toast", id=escalation_id))

    async def copies(
        self, uow: UnitOfWork, escalation: Escalation
    ) -> list[tuple[int, int, Reply]]:
        """Every message showing this escalation, as it should now read: pings and summaries."""
        await uow.flush()
        await uow.refresh(escalation)
        assert escalation.id is not None
        screen = Reply(await self.text(uow, escalation), self.keyboard(escalation))
        copies = [
            (p.chat_id, p.message_id, screen)
            for p in await uow.escalations.pings_of(escalation.id)
            if p.message_id is not None
        ]
        since = escalation.created_at.astimezone(self.d.clinic_tz).date()
        for digest in await uow.escalations.digests_with(escalation.id, since):
            if digest.message_id is not None:
                copies.append(
                    (digest.chat_id, digest.message_id, await self._digest_screen(uow, digest))
                )
        return copies

    async def rewrite(self, copies: list[tuple[int, int, Reply]]) -> None:
        """Edit the copies, after the transaction: never hold one across network calls."""
        for chat_id, message_id, screen in copies:
            try:
                await self.d.messenger.edit(chat_id, message_id, screen.text, screen.keyboard)
            except DeliveryError as exc:
                log.warning("could not update message %s in chat %s: %s", message_id, chat_id, exc)

    async def notice(self, uow: UnitOfWork, patient: Patient, key: str, **values: str) -> int:
        """Tell the clinic something about a patient that is not a clinical threshold; the
        escalation's id."""
        label = f"{patient.name} (patient #{patient.id})"
        body = self.d.content.messages.format(key, patient=label, **values)
        raised = await self.create(
            uow, patient=patient, level=Level.NONE, body=body, summary=body, rules=[],
            kind="notice",
        )
        return raised.escalation_id


def _label(row: Ping | Digest | Page) -> str:
    """How logs name what was being sent."""
    return "Ping" if isinstance(row, Page) else type(row).__name__
