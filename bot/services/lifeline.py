"""The emergency instruction never waits for anything: not the database, not a backlog.

A red flag is triaged in memory as soon as it is received (triage needs no database) and
gets the instruction to call emergency services at once, straight through the messenger in
the highest lane (the pace falls back to this process's own when the shared one is
unreachable), while the update is stored and handled as usual. Handling waits for that
attempt (`settled`): a delivered instruction is recorded as sent, not sent again; one not
delivered yet is left to the outbox, which retries it under the delivery policy. The
outbox first waits for a send still in flight here (`attempt`), so a late delivery is
never followed by a second instruction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from functools import partial
from typing import Any

from bot.core.delivery import Lane
from bot.core.texts import emergency_instruction
from bot.core.triage.text import patient_words
from bot.services.checkins import Checkins
from bot.services.common import Deps
from bot.services.ports import (
    DeliveryError,
    RateLimited,
    RecipientBlocked,
    RecipientGone,
    Rejected,
)

log = logging.getLogger(__name__)
REMEMBERED = 2_000  # updates answered here, kept until handled (seconds; bounded)
# Updates read here, kept until handled: a backlog of this many is read once, not again
# when claimed and handled (a bool each; bounded all the same).
READ_REMEMBERED = 50_000
TRIES = 8
PERMANENT_ERRORS = (RecipientBlocked, RecipientGone, Rejected)
SETTLE_WAIT = 3.0  # seconds handling waits for the attempt, then the outbox takes over


class Lifeline:
    """Answers red flags on receipt, from memory."""

    def __init__(self, deps: Deps, checkins: Checkins) -> None:
        self.d = deps
        self.checkins = checkins  # it reads the words (in every language it can)
        self.settle_wait = SETTLE_WAIT
        self._answered: OrderedDict[int, None] = OrderedDict()
        self._attempts: dict[int, asyncio.Task[bool]] = {}
        self._taken_over: dict[int, asyncio.Event] = {}
        self._read: OrderedDict[int, bool] = OrderedDict()  # update id: is it a red flag

    def attempt(self, update_id: int) -> asyncio.Task[bool] | None:
        """This update's attempt still under way here, if any (True once delivered)."""
        task = self._attempts.get(update_id)
        return task if task is not None and not task.done() else None

    async def idle(self) -> None:
        """Wait until every attempt under way has ended (tests, the demo)."""
        while self._attempts:
            await asyncio.wait(set(self._attempts.values()))

    def answered(self, update_id: int) -> bool:
        """Whether this update's emergency instruction went out from here."""
        return update_id in self._answered

    def is_red_flag(self, update: dict[str, Any]) -> bool:
        """Whether an update is a private message that reads as an emergency (read once
        per update in this process)."""
        update_id = update.get("update_id")
        known = self._read.get(update_id) if isinstance(update_id, int) else None
        if known is None:
            known = self._instruction(update) is not None
        return known

    def handled(self, update_id: int) -> None:
        """This update is handled here: its reading is no longer needed (one handled by
        another worker, or parked, leaves with the oldest once the bound is reached)."""
        self._read.pop(update_id, None)

    def start(self, updates: list[dict[str, Any]]) -> None:
        """Answer the red flags among `updates` now, in the background (once each)."""
        for update in updates:
            update_id = update.get("update_id")
            if not isinstance(update_id, int) or update_id in self._answered:
                continue
            if update_id in self._attempts:
                continue
            found = self._instruction(update)
            if found is not None:
                task = asyncio.create_task(self._send(update_id, *found))
                self._attempts[update_id] = task
                task.add_done_callback(partial(self._forget, update_id))

    async def _mark(self, update_id: int) -> None:
        """Say so in the stored update too, for a worker other than this one (best effort:
        the update may not be stored yet, or the database may be away)."""
        try:
            async with self.d.store.unit_of_work() as uow:
                await uow.inbox.mark_instructed(update_id)
        except Exception as exc:
            if not self.d.store.is_outage(exc):
                raise

    def _forget(self, update_id: int, _task: asyncio.Task[bool]) -> None:
        self._attempts.pop(update_id, None)

    async def settled(self, update_id: int) -> bool:
        """Wait for this update's attempt, if any (at most `settle_wait` s); whether the
        instruction went out. Past the wait the attempt stops: the outbox takes over."""
        task = self._attempts.get(update_id)
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), self.settle_wait)
            if not task.done():  # no more tries: a send in flight still ends on its own
                self._taken_over.setdefault(update_id, asyncio.Event()).set()
        return self.answered(update_id)

    async def _pause(self, update_id: int, seconds: float) -> None:
        """Wait before the next try, unless the outbox takes over meanwhile."""
        handed = self._taken_over.setdefault(update_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(handed.wait(), seconds)

    def _instruction(self, update: dict[str, Any]) -> tuple[int, str] | None:
        found = _private_words(update)
        instruction = None
        if found is not None:
            chat_id, words = found
            # From memory: the patient's language and country as last seen here, else
            # the language their Telegram app is set to (when shipped), the clinic's number.
            language, country = (self.d.whereabouts.of(chat_id)
                                 or (_telegram_language(update), ""))
            if self.checkins.is_red_flag(words, language or _telegram_language(update)):
                content = self.d.speaks(language or _telegram_language(update), country)
                instruction = chat_id, emergency_instruction(content)
        update_id = update.get("update_id")
        if isinstance(update_id, int):
            self._read[update_id] = instruction is not None
            if len(self._read) > READ_REMEMBERED:
                self._read.popitem(last=False)
        return instruction

    async def _send(self, update_id: int, chat_id: int, text: str) -> bool:
        for attempt in range(TRIES):
            handed = self._taken_over.get(update_id)
            if handed is not None and handed.is_set():
                break
            try:
                await self.d.messenger.send(chat_id, text, lane=Lane.INSTRUCTION)
            except RateLimited as exc:
                await self._pause(update_id, exc.retry_after)
            except PERMANENT_ERRORS:
                break  # blocked, or refused: retrying cannot help
            except DeliveryError as exc:
                log.warning("emergency instruction on receipt, try %s: %s", attempt + 1, exc)
                await self._pause(update_id, min(2**attempt, 15))
            else:
                self._answered[update_id] = None
                if len(self._answered) > REMEMBERED:
                    self._answered.popitem(last=False)
                self._taken_over.pop(update_id, None)
                await self._mark(update_id)
                return True
        self._taken_over.pop(update_id, None)
        log.error("emergency instruction for update %s not delivered on receipt; the outbox "
                  "sends it once the update is handled", update_id)
        return False


def _private_words(update: dict[str, Any]) -> tuple[int, str] | None:
    """The chat and the words of a person's private message (text or caption)."""
    for key in ("message", "edited_message"):
        body = update.get(key)
        if not isinstance(body, dict):
            continue
        chat, sender = body.get("chat"), body.get("from")
        if not isinstance(chat, dict) or chat.get("type") != "private":
            return None
        if not isinstance(sender, dict) or sender.get("is_bot"):
            return None  # other bots are ignored, as the handlers ignore them
        words = body.get("text") or body.get("caption")
        if isinstance(words, str) and isinstance(chat.get("id"), int):
            words = patient_words(words)
            return (int(chat["id"]), words) if words.strip() else None
    return None


def _telegram_language(update: dict[str, Any]) -> str:
    for key in ("message", "edited_message"):
        body = update.get(key)
        sender = body.get("from") if isinstance(body, dict) else None
        if isinstance(sender, dict) and isinstance(sender.get("language_code"), str):
            return str(sender["language_code"])
    return ""
