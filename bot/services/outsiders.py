"""People outside the follow-up (never enrolled, declined, link expired or used, erased,
stopped) who write a red flag: the emergency instruction with the number from content, and the
plain truth that no clinician was told. Their words are not stored; if the chat is a known
patient's (stopped, blocked, or it opened an invitation), the clinic gets a notice without
health details."""

from __future__ import annotations

import logging

from bot.core.texts import emergency_instruction, plain
from bot.services.checkins import Checkins
from bot.services.common import Deps
from bot.services.escalation import Escalations
from bot.services.ports import MessageResult, Reply
from bot.store.models import PatientStatus

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096


class Outsiders:
    """Answers red flags from chats that are not a patient's."""

    def __init__(self, deps: Deps, checkins: Checkins, escalations: Escalations) -> None:
        self.d = deps
        self.checkins = checkins  # it reads the words (in every language it can)
        self.escalations = escalations

    async def message(
        self, chat_id: int, words: str, telegram_language: str = ""
    ) -> MessageResult | None:
        """The instruction if `words` read as an emergency; after /stop, a reminder that
        nothing is kept; None otherwise (the usual "open the link your clinic gave you")."""
        text = plain(words)[:TEXT_LIMIT]
        emergency = bool(text.strip()) and self.checkins.is_red_flag(text, telegram_language)
        raised = None
        async with self.d.store.unit_of_work() as uow:
            patient = await uow.patients.outside_by_chat(chat_id)
            content = self.d.speaks_to(patient, telegram_language)
            left = patient is not None and patient.status != PatientStatus.INVITED
            if patient is not None and emergency:  # paged now: no health details in it
                raised = await self.escalations.alarm(
                    uow, patient, "notice_left_emergency" if left else "notice_outsider")
        if not emergency:
            if not left:
                return None
            return MessageResult((Reply(content.messages.format(
                "stopped_message", clinic=content.clinic.name,
                emergency_number=content.clinic.emergency_number)),))
        paged = raised is not None and raised.paged  # never "alerted" when nobody was
        note = content.messages.format(
            "left_emergency" if paged else "outsider_emergency",
            emergency_number=content.clinic.emergency_number)
        log.info("a message from outside the follow-up was answered with the instruction")
        return MessageResult(
            (Reply(emergency_instruction(content)), Reply(note)), emergency=True,
            escalation_id=raised.escalation_id if raised else None,
            pages=raised.pages if raised else ())
