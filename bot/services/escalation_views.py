"""How an escalation reads to clinicians: its ping, its line in a summary, the buttons
still useful; and updating every copy already sent when it changes."""

from __future__ import annotations

import logging
from datetime import datetime

from babel.dates import format_date

from bot.core import callbacks as cb
from bot.core.callbacks import Button, Keyboard
from bot.core.model import Level
from bot.core.texts import clip, level_mark, short_name
from bot.services.common import Deps
from bot.services.outbox import Outbox
from bot.services.ports import Reply
from bot.services.repositories import UnitOfWork
from bot.store.models import Digest, Escalation

log = logging.getLogger(__name__)


class EscalationViews:
    """Pings and summaries as they should read now."""

    def __init__(self, deps: Deps, outbox: Outbox) -> None:
        self.d = deps
        self.outbox = outbox

    async def digest_screen(self, uow: UnitOfWork, digest: Digest) -> Reply:
        m = self.d.content.messages
        # Most urgent first: a page nobody acknowledged heads the summary.
        items = sorted(await uow.escalations.many(digest.escalation_ids),
                       key=lambda e: (-Level.parse(e.level), e.created_at, e.id or 0))
        date = format_date(digest.clinic_date, "EEE dd MMM", locale=self.d.content.language)
        lines = [m.format("digest_header", date=date, count=len(items))]
        rows: list[tuple[Button, ...]] = []
        for n, e in enumerate(items, 1):
            assert e.id is not None
            state = await self.state_line(uow, e)
            patient = await uow.patients.get(e.patient_id)
            name = patient.name if patient else f"patient #{e.patient_id}"
            mark = level_mark(self.d.content, Level.parse(e.level))
            lines.append(f"{n}. {mark} · {name} (#{e.patient_id}) · {e.summary} · "
                         f"{self.d.ago(e.created_at)}{state}")
            if e.kind == "clinical":  # buttons in words, named after the patient
                short = short_name(patient.name) if patient else f"#{e.patient_id}"
                buttons = [Button(m.format("open_timeline", name=short),
                                  cb.escalation(e.id, "t"))]
                if e.acked_at is None:
                    buttons.insert(0, Button(m.format("open_take", name=short),
                                             cb.escalation(e.id, "a")))
                rows.append(tuple(buttons))
        return Reply(clip("\n".join(lines), 4000), tuple(rows) or None)

    # --- what a ping says and offers
    async def state_line(self, uow: UnitOfWork, e: Escalation) -> str:
        parts = []
        if e.unpaged_at is not None and e.acked_at is None and e.resolved_at is None:
            parts.append(self.d.content.messages.format(
                "unpaged_line", when=self.d.clinic_time(e.unpaged_at)))
        if e.acked_at is not None:
            who = await uow.clinicians.get(e.acked_by or 0)
            parts.append(self.d.content.messages.format(
                "acked_line", who=who.name if who else "?",
                when=self.d.clinic_time(e.acked_at),
            ))
        if e.resolved_at is not None:
            who = await uow.clinicians.get(e.resolved_by or 0)
            parts.append(self.d.content.messages.format(
                "resolved_line", who=who.name if who else "?",
                when=self.d.clinic_time(e.resolved_at), outcome=e.outcome or "",
            ))
        return "".join(f"\n   {p}" for p in parts)

    async def text(self, uow: UnitOfWork, escalation: Escalation) -> str:
        """The ping as it should read now (who acknowledged, who resolved and how)."""
        state = await self.state_line(uow, escalation)
        return clip(escalation.body + state.replace("\n   ", "\n"), 4000)

    def keyboard(self, escalation: Escalation) -> Keyboard | None:
        if escalation.kind != "clinical":
            return None
        assert escalation.id is not None
        return self.buttons(
            escalation.id,
            acked=escalation.acked_at is not None,
            resolved=escalation.resolved_at is not None,
        )

    def buttons(self, eid: int, *, acked: bool, resolved: bool) -> Keyboard:
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

    async def copies(
        self, uow: UnitOfWork, escalation: Escalation, *, summaries: bool = True
    ) -> list[tuple[int, int, Reply]]:
        """Every message showing this escalation, as it should now read: pings and (unless
        told not to) summaries."""
        await uow.flush()
        await uow.refresh(escalation)
        assert escalation.id is not None
        screen = Reply(await self.text(uow, escalation), self.keyboard(escalation))
        copies = [
            (p.chat_id, p.message_id, screen)
            for p in await uow.escalations.pings_of(escalation.id)
            if p.message_id is not None
        ]
        if not summaries:
            return copies
        since = escalation.created_at.astimezone(self.d.clinic_tz).date()
        for digest in await uow.escalations.digests_with(escalation.id, since):
            if digest.message_id is not None:
                copies.append(
                    (digest.chat_id, digest.message_id, await self.digest_screen(uow, digest))
                )
        return copies

    async def rewrite_in(
        self, uow: UnitOfWork, copies: list[tuple[int, int, Reply]], now: datetime
    ) -> None:
        """Edit the copies in `uow`'s transaction, for callers that hold one: sent once the
        handling commits, or, from a tick's own transaction, by the dispatcher."""
        for chat_id, message_id, screen in copies:
            await self.outbox.edit_in(uow, chat_id, message_id, screen, now)

    async def rewrite(self, copies: list[tuple[int, int, Reply]]) -> None:
        """Edit the copies (outbox rows: sent once the change is committed)."""
        for chat_id, message_id, screen in copies:
            await self.outbox.edit(chat_id, message_id, screen)
