"""The emergency instruction never waits for the database.

When an update cannot be stored or handled because the database is away, its words are
triaged in memory (triage needs no database) and a red flag gets the instruction to call
emergency services at once, straight through the messenger in the highest lane (the pace
falls back to this process's own when the shared one is unreachable). The update is stored
and handled once the database is back; its instruction is then recorded as already sent,
not sent again (`answered`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from bot.core.delivery import Lane
from bot.core.model import Level
from bot.core.texts import patient_reply
from bot.core.triage import Triager
from bot.services.common import Deps
from bot.services.ports import DeliveryError, RateLimited

log = logging.getLogger(__name__)
REMEMBERED = 10_000  # update ids answered from memory, kept until stored (bounded)
TRIES = 8


class Lifeline:
    """Answers red flags from memory while the database is away."""

    def __init__(self, deps: Deps, triager: Triager) -> None:
        self.d = deps
        self.triager = triager
        self._answered: OrderedDict[int, None] = OrderedDict()

    def answered(self, update_id: int) -> bool:
        """Whether this update's emergency instruction already went out from memory."""
        return update_id in self._answered

    def is_red_flag(self, update: dict[str, Any]) -> bool:
        """Whether an update is a private message that reads as an emergency."""
        found = _private_words(update)
        if found is None:
            return False
        reading = self.triager.read(found[1][:4000], day=1)
        return reading.assessment.level is Level.EMERGENCY

    async def answer(self, update_id: int, update: dict[str, Any]) -> bool:
        """Send the emergency instruction if this update is a red flag in a private chat
        (once per update); whether it was one."""
        if update_id in self._answered:
            return True
        found = _private_words(update)
        if found is None:
            return False
        chat_id, words = found
        reading = self.triager.read(words[:4000], day=1)
        if reading.assessment.level is not Level.EMERGENCY:
            return False
        text = patient_reply(self.d.content, reading.assessment)
        for attempt in range(TRIES):
            try:
                await self.d.messenger.send(chat_id, text, lane=Lane.EMERGENCY)
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after)
            except DeliveryError as exc:
                log.warning("emergency instruction from memory, try %s: %s", attempt + 1, exc)
                await asyncio.sleep(min(2 ** attempt, 15))
            else:
                self._answered[update_id] = None
                if len(self._answered) > REMEMBERED:
                    self._answered.popitem(last=False)
                log.warning("database away: update %s answered from memory (red flag)",
                            update_id)
                return True
        log.error("emergency instruction from memory for update %s not delivered yet; "
                  "the outbox sends it once the update is stored", update_id)
        return True


def _private_words(update: dict[str, Any]) -> tuple[int, str] | None:
    """The chat and the words of a private message (text or caption)."""
    for key in ("message", "edited_message"):
        body = update.get(key)
        if not isinstance(body, dict):
            continue
        chat = body.get("chat")
        if not isinstance(chat, dict) or chat.get("type") != "private":
            return None
        words = body.get("text") or body.get("caption")
        if isinstance(words, str) and isinstance(chat.get("id"), int) and words.strip():
            return int(chat["id"]), words
    return None
