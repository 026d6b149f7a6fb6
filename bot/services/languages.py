"""Messages in a language the triage engine does not read (`Checkins.message` tells which,
`bot.core.language.reading_order`). The bot cannot read them, so it must
not answer as if it had: the words are still read for anything that raises a level (never
to reassure), then the patient is told, in their language when the clinic has the line,
that the message went to their care team as written, with the emergency number; the
red-flag question follows; and the clinic gets the message as a routine item marked with
its language (in the next summary)."""

from __future__ import annotations

from bot.core.language import language_name
from bot.core.model import Level
from bot.core.texts import clip, plain
from bot.services.common import Deps
from bot.services.escalation import Escalations
from bot.services.ports import MessageResult, Reply
from bot.services.questions import Questions

WORDS_QUOTED = 1000  # of the message, in the clinic's item


class Languages:
    """Answers messages in a language the triage engine does not read."""

    def __init__(
        self, deps: Deps, escalations: Escalations, questions: Questions,
    ) -> None:
        self.d = deps
        self.escalations = escalations
        self.questions = questions


    async def answer(
        self, chat_id: int, text: str, code: str, said: MessageResult
    ) -> MessageResult:
        """After the raise-only reading `said` of a patient's message in language `code`."""
        if said.emergency:  # the instruction and the page already: nothing to ask
            return said
        m, clinic = self.d.content.messages, self.d.content.clinic
        name = language_name(code, self.d.content.language)
        async with self.d.store.unit_of_work() as uow:
            found = await uow.patients.reply_context(chat_id)
            if found is None:
                return said
            patient, sessions, _ = found
            assert patient.id is not None
            await self.escalations.create(
                uow, patient=patient, level=Level.ROUTINE, rules=["unread-language"],
                summary=m.format("unread_language_summary", language=name, code=code),
                body=m.format("unread_language_body", patient=patient.name, id=patient.id,
                              language=name, code=code,
                              words=clip(plain(text), WORDS_QUOTED)),
            )
            asked = await self.questions.create(uow, patient, sessions, kind="screen",
                                                then=said.replies)
        line = clinic.unread_language_lines.get(code)
        theirs = self.d.speaks_to(patient)  # a language they read, when not `code`
        number = theirs.clinic.emergency_number  # their country's
        told = (line.format(emergency_number=number) if line
                else theirs.messages.format(
                    "unread_language", language=language_name(code, theirs.language),
                    emergency_number=number))
        await self.questions.outbox.say(chat_id, Reply(told))
        if asked is None:
            return MessageResult(said.replies, escalation_id=said.escalation_id,
                                 pages=said.pages)
        await self.questions.say(chat_id, asked)
        return MessageResult((), escalation_id=said.escalation_id, pages=said.pages)
