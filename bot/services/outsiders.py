"""People outside the follow-up (never enrolled, declined, link expired or used, erased)
who write a red flag: the emergency instruction with the number from content, and the
plain truth that no clinician was told. Their words are not stored; if the chat opened a
patient's invitation, the clinic gets a notice without health details."""

from __future__ import annotations

import logging

from bot.core.model import Level
from bot.core.texts import emergency_instruction, plain
from bot.core.triage import Triager
from bot.services.common import Deps
from bot.services.escalation import Escalations
from bot.services.ports import MessageResult, Reply

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096


class Outsiders:
    """Answers red flags from chats that are not a patient's."""

    def __init__(self, deps: Deps, triager: Triager, escalations: Escalations) -> None:
        self.d = deps
        self.triager = triager
        self.escalations = escalations

    async def message(self, chat_id: int, words: str) -> MessageResult | None:
        """The instruction if `words` read as an emergency; None otherwise (the usual
        "open the link your clinic gave you")."""
        text = plain(words)[:TEXT_LIMIT]
        if not text.strip():
            return None
        if self.triager.read(text, day=1).assessment.level is not Level.EMERGENCY:
            return None
        content = self.d.content
        note = content.messages.format(
            "outsider_emergency", emergency_number=content.clinic.emergency_number)
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.invited_by_chat(chat_id)
            if patient is not None:
                await self.escalations.notice(uow, patient, "notice_outsider")
        log.info("a message from outside the follow-up was answered with the instruction")
        return MessageResult((Reply(emergency_instruction(content)), Reply(note)),
                             emergency=True)
