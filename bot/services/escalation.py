"""Escalations: raise them, page the on-call ladder step by step, gather routine items into
the morning summary. (Sending is `paging`, how they read is `escalation_views`, what
clinicians do with them is `clinician_actions`.)

Ping rows are written in the same transaction as the answer that caused them, so a crash
can delay a page (the dispatcher retries it) but never lose it. A ladder step is claimed and
its pings written in one transaction, and a ping is unique per (escalation, clinician, step),
so nothing is paged twice for one step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core import ladder
from bot.core.language import language_name
from bot.core.model import Assessment, Level, Report
from bot.core.texts import MAX_WORDS, PingView, clip, describe, ping_text, reasons
from bot.services.common import Deps, current_session, zone
from bot.services.escalation_views import EscalationViews
from bot.services.ports import Page, Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import Digest, Escalation, OnCall, Patient, Ping, Status, TreatmentSession

log = logging.getLogger(__name__)

PAGE_CLAIM = timedelta(seconds=30)  # how long a page raised by an answer stays ours to send
DIGEST_ITEMS_PER_MESSAGE = 20


@dataclass(frozen=True, slots=True)
class Raised:
    """A new escalation, and its first pings if the caller asked to send them itself."""

    escalation_id: int
    pages: tuple[Page, ...] = ()
    paged: bool = False  # clinicians were paged about it (now, or before it was joined)


class Escalations:
    """The clinicians' side of a crossed threshold: raised, laddered, summarised."""

    def __init__(self, deps: Deps, views: EscalationViews) -> None:
        self.d = deps
        self.views = views

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
        words: str | None = None,
    ) -> Raised:
        """Record an escalation (or join the patient's open one, with `words`, the patient's
        own); urgent and emergency ones page the first ladder step now.

        With `claim`, the pings are written claimed and returned, for `send` once the
        transaction has committed (the patient's reply goes first, no second claim).
        """
        assert patient.id is not None
        now = self.d.clock.now()
        if kind == "clinical":
            joined = await self._join(uow, patient.id, level=level, body=body,
                                      summary=summary, rules=rules, words=words, now=now,
                                      claim=claim)
            if joined is not None:
                return joined
        timeout = self.timeout(level) if kind == "clinical" else None
        next_step_at, roster = None, None
        if timeout is not None:  # planned first: the row is written with its ladder's plan
            roster = await self._roster(uow, 0, 0, level=level, now=now)
            next_step_at = roster[1].next_at if roster[1].who is not None else None
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
            "ladder_base": roster[1].base if roster is not None else 0,
            "next_step_at": next_step_at,
        }])
        if roster is None:
            return Raised(escalation_id)
        pings = await self._page(
            uow, escalation_id, 0, level=level, next_step_at=next_step_at, now=now, claim=claim,
            base=roster[1].base, roster=roster,
        )
        if claim:
            return self._raised(escalation_id, body, pings)
        return Raised(escalation_id, paged=bool(pings))

    async def _join(
        self, uow: UnitOfWork, patient_id: int, *, level: Level, body: str, summary: str,
        rules: list[str], words: str | None, now: datetime, claim: bool,
    ) -> Raised | None:
        """A finding while the patient has an escalation open joins it (None: nothing is
        open). Its level rises when the finding's is higher and never falls. A higher level,
        or a new emergency once the open one was acknowledged (an edit makes no sound on a
        phone), heads the page and starts its ladder afresh at once (a new acknowledgement
        is needed); otherwise every copy shows the addition, the patient's words included,
        and a routine item goes into the next summary again."""
        current = await uow.escalations.latest_open(patient_id, lock=True)
        if current is None or current.id is None:
            return None
        m, before = self.d.content.messages, Level.parse(current.level)
        heads = level > before or (level is Level.EMERGENCY and current.acked_at is not None)
        if heads:  # the new finding heads the page; what was open follows, whole
            current.body = clip("\n".join([body, "", m.format(
                "escalation_earlier", when=self.d.clinic_time(current.created_at),
                summary=current.summary), current.body]), 4000)
            current.summary, current.level = summary, max(level, before).label
        else:
            said = [m.format("ping_words", words=clip(words, MAX_WORDS))] if words else []
            current.body = clip("\n".join([current.body, m.format(
                "escalation_added", when=self.d.clinic_time(now), summary=summary), *said]),
                4000)
        current.rules = list(dict.fromkeys([*current.rules, *rules]))
        timeout = self.timeout(level)
        if not heads or timeout is None:
            if self.timeout(before) is None:  # not paged one by one: the next summary
                current.summarised_at = None
            uow.save(current)
            await self.views.rewrite_in(uow, await self.views.copies(uow, current), now)
            return Raised(current.id, paged=await uow.escalations.paged(current.id))
        step = current.ladder_step + 1  # a step number never used by this escalation
        current.status, current.acked_by, current.acked_at = "open", None, None
        current.ladder_step, current.ladder_base = step, step
        current.next_step_at = now + timeout
        uow.save(current)
        # A summary of items that can wait keeps the line it had; the pages change.
        await self.views.rewrite_in(
            uow, await self.views.copies(uow, current, summaries=False), now)
        pings = await self._page(uow, current.id, step, level=level, base=step,
                                 next_step_at=now + timeout, now=now, claim=claim)
        if claim:
            return self._raised(current.id, current.body, pings)
        return Raised(current.id, paged=bool(pings))

    def _raised(
        self, escalation_id: int, body: str, pings: list[tuple[int, datetime, int, int]]
    ) -> Raised:
        """The escalation and its pings written claimed, to send once committed."""
        buttons = self.views.buttons(escalation_id, acked=False, resolved=False)
        screen = Reply(clip(body, 4000), buttons)
        return Raised(escalation_id, tuple(
            Page(ping_id, claimed_at, chat_id, clinician_id, 1, escalation_id, screen)
            for ping_id, claimed_at, chat_id, clinician_id in pings
        ), paged=bool(pings))

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
        base: int = 0,
        roster: tuple[dict[int, OnCall], ladder.Step] | None = None,
    ) -> list[tuple[int, datetime, int, int]]:
        """Write the pings of ladder step `step` and when the next step is due; the pings
        written (id, claimed_at, chat, clinician). `roster`: this step's `_roster`, when
        already known.

        With `claim` they are written claimed by this process, for `send`.
        """
        active, planned = roster or await self._roster(uow, step, base, level=level, now=now)
        who, timeout = planned.who, self.timeout(level)
        if who is None or timeout is None or planned.next_at is None:
            await uow.escalations.set_next_step(escalation_id, None)
            log.error("escalation %s: ladder exhausted, nobody acknowledged", escalation_id)
            if who is None:
                await self._tell_admins(uow, escalation_id, level, now)
            return []
        if not who:
            log.error("escalation %s has no active clinician to page", escalation_id)
        if not who or step > 0:  # marked while nobody can be paged; a new one starts unmarked
            await uow.escalations.mark_unpaged(escalation_id, None if who else now)
        if step > 0:  # a page not delivered yet (Telegram away) is not written again
            who = await self._not_waiting(uow, escalation_id, who)
        # A page claimed here lapses PAGE_CLAIM after it was written, not a whole lease
        # later: if this process dies before sending it, the dispatcher sends it soon.
        claimed_at = now - max(timedelta(0), self.d.claim_lease - PAGE_CLAIM)
        pings: list[dict[str, Any]] = [{
            "escalation_id": escalation_id, "clinician_id": clinician_id, "step": step,
            "chat_id": active[clinician_id].chat_id, "due_at": now,
            "status": Status.CLAIMED if claim else Status.PENDING,
            "claimed_by": self.d.liveness.id if claim else None,
            "claimed_at": claimed_at if claim else None, "attempts": 1 if claim else 0,
        } for clinician_id in who]
        ids = await uow.insert_rows(Ping, pings)
        if next_step_at != planned.next_at:
            await uow.escalations.set_next_step(escalation_id, planned.next_at)
        if planned.base != base:
            await uow.escalations.set_ladder_base(escalation_id, planned.base)
        return [
            (ping_id, claimed_at, p["chat_id"], p["clinician_id"])
            for ping_id, p in zip(ids, pings, strict=True)
        ]

    async def _roster(
        self, uow: UnitOfWork, step: int, base: int, *, level: Level, now: datetime,
    ) -> tuple[dict[int, OnCall], ladder.Step]:
        """Who is on call (by id), and what ladder step `step` does with them."""
        active = {c.id: c for c in await uow.clinicians.on_call()}
        rota = [
            c.id for c in sorted(active.values(), key=lambda c: (c.rota_position or 0, c.id))
            if c.rota_position is not None
        ]
        return active, self._plan(step, base, rota, list(active), level=level, now=now)

    def _plan(
        self, step: int, base: int, rota: list[int], everyone: list[int], *, level: Level,
        now: datetime,
    ) -> ladder.Step:
        """The clinic's after-hours policy (content) applied to this step."""
        hours, tz = self.d.clinic_hours, self.d.clinic_tz
        policy = self.d.content.clinic.after_hours
        return ladder.plan_step(
            step, base, rota, everyone, level=level, now=now, timeout=self.timeout(level),
            closed_until=None if hours.is_open(now, tz) else hours.next_opening(now, tz),
            night_pace=(timedelta(minutes=policy.urgent_repage_minutes)
                        if policy.urgent_on_call_only else None),
        )

    @staticmethod
    async def _not_waiting(uow: UnitOfWork, escalation_id: int, who: list[int]) -> list[int]:
        """Those of `who` with no page of this escalation still waiting to be delivered."""
        waiting = {p.clinician_id for p in await uow.escalations.pings_of(escalation_id)
                   if p.status in (Status.PENDING, Status.CLAIMED)}
        return [c for c in who if c not in waiting]

    async def _tell_admins(
        self, uow: UnitOfWork, escalation_id: int, level: Level, now: datetime
    ) -> None:
        """Nobody acknowledged after every step: each admin is told now, in this transaction
        (the escalation also heads every morning summary until someone acknowledges it)."""
        text = self.d.content.messages.format(
            "ladder_exhausted", id=escalation_id, level=level.label.upper())
        admins = [c for c in await uow.clinicians.active() if c.is_admin and c.chat_id]
        for admin in admins:
            assert admin.chat_id is not None
            await self.views.outbox.queue(uow, admin.chat_id, Reply(text), now)
        if not admins:
            log.error("escalation %s: no admin to tell that nobody acknowledged it",
                      escalation_id)

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
                    now=now, base=escalation.ladder_base,
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

    async def alarm(self, uow: UnitOfWork, patient: Patient, key: str) -> Raised:
        """Page the clinic at once, as for an emergency, with a message that carries no
        health details (a known patient outside the follow-up wrote a red flag)."""
        label = f"{patient.name} (patient #{patient.id})"
        body = self.d.content.messages.format(key, patient=label)
        return await self.create(
            uow, patient=patient, level=Level.EMERGENCY, body=body, summary=body,
            rules=["outside-follow-up"], claim=True,
        )

    async def for_answer(
        self,
        uow: UnitOfWork,
        patient: Patient,
        report: Report,
        assessment: Assessment,
        *,
        answer_id: int,
        day: int,
        text: str | None,
        sessions: list[TreatmentSession],
        now: datetime,
    ) -> Raised:
        """Raise the escalation a patient's answer calls for, worded for clinicians, its
        pages written claimed; `now` is the answer's time."""
        assert patient.id is not None
        session = current_session(sessions, now)
        view = PingView(
            patient_id=patient.id,
            patient_name=patient.name,
            level=assessment.level,
            day=day,
            session_local=self.d.clinic_time(session.session_at) if session else "?",
            areas=session.areas if session else "",
            observations=report.present,
            words=text,
            fired=assessment.fired,
            reported_local=self._reported(now, patient),
            language=(language_name(patient.language, self.d.content.language)
                      if patient.language and patient.language != self.d.content.language
                      else ""),
            emergency_number=self.d.speaks_to(patient).clinic.emergency_number,
        )
        described = "; ".join(describe(o, self.d.content) for o in report.present)
        m = self.d.content.messages
        summary = m.format(
            "escalation_summary", day=day, what=described or m["summary_contact"],
            rules="; ".join(reasons(self.d.content, assessment.fired)),
        )
        return await self.create(
            uow,
            patient=patient,
            level=assessment.level,
            body=ping_text(self.d.content, view),
            summary=summary,
            rules=assessment.rule_ids,
            answer_id=answer_id,
            claim=True,
            words=text,
        )

    def _reported(self, now: datetime, patient: Patient) -> str:
        """When, in the clinic's time and the patient's (a 3 a.m. message shows as such)."""
        m, theirs = self.d.content.messages, zone(patient)
        clinic = f"{self.d.clinic_time(now)} ({self.d.clinic_tz.key})"
        if theirs.key == self.d.clinic_tz.key:
            return m.format("ping_time_same", clinic=clinic)
        return m.format("ping_time_theirs", clinic=clinic, zone=theirs.key,
                        theirs=self.d.clinic_time(now, theirs))
